"""Ratings with appeals by chat (web chat): after settlement the donor rates the meal and the
delivery, the worker the pickup; the restaurant sees its average, appeals a rating, and an admin
who is no party withdraws it. Ratings order nothing (the board and the meal list never read them)."""

from __future__ import annotations

from typing import Any

from tests.helpers import assert_ledger_invariants, chain_events
from tests.test_meal_transcript import MEAL, SETTLED, settle_after_the_window

RATED = """
    worker-2 > /rate 1
    worker-2 < Only the people of an order can rate it, and only what they saw.
    donor-1  > /rate 1
    donor-1  < Order #1: how was the meal? One tap, 1 (poor) to 5 (very good). [1/5] [2/5] [3/5] [4/5] [5/5]
    donor-1  > [tap 2/5]
    donor-1  < Thank you: 2/5 for the meal of order #1.
    donor-1  < Order #1: how was the delivery? [1/5] [2/5] [3/5] [4/5] [5/5]
    donor-1  > [tap 5/5]
    donor-1  < Thank you: 5/5 for the delivery of order #1.
    donor-1  > /rate 1
    donor-1  < Order #1: how was the meal?
    donor-1  > [tap 1/5]
    donor-1  < You have already rated that.
    worker-1 > /rate 1
    worker-1 < Order #1: how was the pickup?
    worker-1 > [tap 4/5]
    worker-1 < Thank you: 4/5 for the pickup of order #1.
    rest-2   > /ratings
    rest-2   < Your ratings: 3.0/5 from 2 ratings. [Appeal #1] [Appeal #3]
    rest-2   > [tap Appeal #1]
    rest-2   < Why should rating #1 not count? One message, up to 500 characters.
    rest-2   > The donor chose a meal we had marked as spicy; it was cooked as ordered.
    rest-2   < Appeal recorded. An admin who is no party will decide.
    admin    < Appeal of rating #1: 2/5 for the meal of order #1. The restaurant's reason: The donor chose [Withdraw it] [Keep it]
    admin    > [tap Withdraw it]
    admin    < Decided: rating #1 is withdrawn.
    rest-2   < An admin withdrew rating #1 (the meal of order #1) after an appeal: it no longer counts.
    donor-1  < An admin withdrew rating #1 (the meal of order #1) after an appeal: it no longer counts.
    admin    > [tap Keep it]
    admin    < That question has already been answered.
    rest-2   > /ratings
    rest-2   < Your ratings: 4.0/5 from 1 ratings.
    worker-1 > /ratings
    worker-1 < Your ratings: 5.0/5 from 1 ratings. [Appeal #2]
"""


async def test_a_rating_and_an_upheld_appeal_by_chat(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    await chat.run(MEAL)
    await chat.run("""
        donor-1  > /rate 1
        donor-1  < You can rate an order once it is settled.
    """)
    await settle_after_the_window(app_env)
    await chat.run(SETTLED)
    await chat.run(RATED)
    async with app_env["runtime"].store.reader() as uow:
        assert [(e.data["aspect"], e.data["stars"]) for e in await chain_events(uow, "rating.given")] == [
            ("meal", 2), ("delivery", 5), ("pickup", 4)]
        assert [e.data for e in await chain_events(uow, "rating.decided")] == [{"rating_id": 1, "withdrawn": True}]
        [appealed] = await chain_events(uow, "rating.appealed")
        assert "spicy" not in str(appealed.data)  # the words stay off the permanent chain
    await assert_ledger_invariants(app_env["runtime"].store)


async def test_forged_rating_buttons_and_public_stats(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    await chat.run(MEAL)
    await settle_after_the_window(app_env)
    await chat.run(SETTLED)
    for user, payload in [("donor-1", "rate:1:meal:9"), ("donor-1", "rate:1:pickup:3"), ("donor-1", "rate:1:meal:4"),
                          ("worker-2", "rappeal:1"), ("rest-2", "rdecide:1:withdraw")]:  # fmt: skip
        response = await chat.post(user, json={"button": payload})
        assert response.status_code == 202
        await app_env["runtime"].processor.drain()
    await chat.run("""
        donor-1  < That button is no longer active.
        donor-1  < Only the people of an order can rate it, and only what they saw.
        donor-1  < Thank you: 4/5 for the meal of order #1.
        donor-1  < Order #1: how was the delivery?
        worker-2 < Why should rating #1 not count?
        worker-2 > It was not me
        worker-2 < Only the person rated can appeal a rating.
        rest-2   < Only an admin can decide an appeal.
    """)
    stats = (await app_env["client"].get("/api/stats/ratings")).json()["restaurants"]
    assert {s["name"]: (s["average_tenths"], s["count"]) for s in stats} == {"Annapoorna Mess": (0, 0), "Saravana Kitchen": (40, 1)}

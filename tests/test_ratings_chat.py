"""Ratings with appeals by chat (web chat): after settlement the donor rates the meal and the
delivery, the worker the pickup; the restaurant sees its average, appeals a rating, and an admin
who is no party withdraws it. Ratings order nothing (the board and the meal list never read them)."""

from __future__ import annotations

from typing import Any

from core.ledger.commitments import opens
from tests.helpers import assert_ledger_invariants, chain_events
from tests.test_meal_transcript import MEAL, SETTLED, settle_after_the_window

COMMENT = "Too spicy for an old man 🌶️🌶️"
RATED = """
    worker-2 > /rate 1
    worker-2 < Only the people of an order can rate it, and only what they saw.
    donor-1  > /rate 1
    donor-1  < Order #1: how was the meal? One tap, 1 (poor) to 5 (very good). [1/5] [2/5] [3/5] [4/5] [5/5]
    donor-1  > [tap 2/5]
    donor-1  < Thank you: 2/5 for the meal of order #1.
    donor-1  < Add a comment (up to 280 characters) for the person rated and the admins, or skip. [Skip]
    donor-1  > Too spicy for an old man 🌶️🌶️
    donor-1  < Comment saved for rating #1.
    donor-1  < Order #1: how was the delivery? [1/5] [2/5] [3/5] [4/5] [5/5]
    donor-1  > [tap 5/5]
    donor-1  < Thank you: 5/5 for the delivery of order #1.
    donor-1  < Add a comment [Skip]
    donor-1  > [tap Skip]
    donor-1  < No comment, then.
    donor-1  > [tap Skip]
    donor-1  < That question has already been answered.
    donor-1  > /rate 1
    donor-1  < Order #1: how was the meal?
    donor-1  > [tap 1/5]
    donor-1  < You have already rated that.
    worker-1 > /rate 1
    worker-1 < Order #1: how was the pickup?
    worker-1 > [tap 4/5]
    worker-1 < Thank you: 4/5 for the pickup of order #1.
    worker-1 < Add a comment [Skip]
    worker-1 > skip
    worker-1 < No comment, then.
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
        # The comment: only its salted commitment is in the chain; the salt and words stay outside it.
        [commented] = await chain_events(uow, "rating.commented")
        salt = await uow.commitments.salt("rating:1:comment")
        assert salt is not None and opens(commented.data["comment_commit"], COMMENT, salt)
        assert "spicy" not in str(commented.data) and commented.data["rating_id"] == 1
    # The rated restaurant sees the words with its rating (not who wrote them); so does the admin deciding.
    [listed, *_] = [m["text"] for m in chat.inboxes["rest-2"].seen if m["text"].startswith("Your ratings: 3.0/5")]
    assert f"#1: 2/5 (the meal) “{COMMENT}”" in listed and "#3: 4/5 (the pickup)\n" in listed + "\n"
    [case] = [m["text"] for m in chat.inboxes["admin"].seen if m["text"].startswith("Appeal of rating #1")]
    assert case.endswith(f"The rater's comment: {COMMENT}")
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
        donor-1  < Add a comment [Skip]
        worker-2 < Why should rating #1 not count?
        worker-2 > It was not me
        worker-2 < Only the person rated can appeal a rating.
        rest-2   < Only an admin can decide an appeal.
    """)
    stats = (await app_env["client"].get("/api/stats/ratings")).json()["restaurants"]
    assert {s["name"]: (s["average_tenths"], s["count"]) for s in stats} == {"Annapoorna Mess": (0, 0), "Saravana Kitchen": (40, 1)}


async def test_hostile_comments_are_refused_politely_and_change_nothing(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    await chat.run(MEAL)
    await settle_after_the_window(app_env)
    await chat.run(SETTLED)
    await chat.run("""
        donor-1  > /rate 1
        donor-1  < Order #1: how was the meal?
        donor-1  > [tap 3/5]
        donor-1  < Thank you: 3/5 for the meal of order #1.
        donor-1  < Add a comment [Skip]
    """)
    await forge(app_env, "worker-1", "rcomment:1:skip")  # someone else's Skip: nothing to skip for them
    await chat.run(f"""
        worker-1 < That button is no longer active.
        donor-1  > {"x" * 281}
        donor-1  < Please write up to 280 characters, or send skip.
        donor-1  > 2
        donor-1  < Please write up to 280 characters, or send skip.
        donor-1  > {"அ" * 280}
        donor-1  < Comment saved for rating #1.
        donor-1  < Order #1: how was the delivery?
        donor-1  > Another comment with no rating open
        donor-1  < …
    """)
    await forge(app_env, "donor-1", "rcomment:1:skip")  # Skip after the comment was saved
    await chat.run("""
        donor-1  < That question has already been answered.
    """)
    async with app_env["runtime"].store.reader() as uow:
        rating = await uow.ratings.get(1)
        assert rating is not None and rating.comment == "அ" * 280
        assert len(await chain_events(uow, "rating.commented")) == 1
    await assert_ledger_invariants(app_env["runtime"].store)


async def forge(env: dict[str, Any], user: str, payload: str) -> None:
    """Send a button payload the user was never given."""
    response = await env["chat"].post(user, json={"button": payload})
    assert response.status_code == 202
    await env["runtime"].processor.drain()


async def test_a_comment_that_starts_with_a_command_word_is_a_comment(app_env: dict[str, Any]) -> None:
    """"give …" and "அருகில் …" start /give and /nearby elsewhere; while a comment is asked for they are words."""
    chat = app_env["chat"]
    await chat.run(MEAL)
    await settle_after_the_window(app_env)
    await chat.run(SETTLED)
    await chat.run("""
        donor-1  > /rate 1
        donor-1  < Order #1: how was the meal?
        donor-1  > [tap 3/5]
        donor-1  < Thank you: 3/5 for the meal of order #1.
        donor-1  < Add a comment [Skip]
        donor-1  > give it less chilli next time
        donor-1  < Comment saved for rating #1.
        donor-1  < Order #1: how was the delivery?
        donor-1  > [tap 4/5]
        donor-1  < Thank you: 4/5 for the delivery of order #1.
        donor-1  < Add a comment [Skip]
        donor-1  > அருகில் இருந்த கடையிலிருந்து சூடாக வந்தது
        donor-1  < Comment saved for rating #2.
        donor-1  > give 1 50
        donor-1  < There is no campaign
    """)
    async with app_env["runtime"].store.reader() as uow:
        first, second = await uow.ratings.get(1), await uow.ratings.get(2)
        assert first is not None and first.comment == "give it less chilli next time"
        assert second is not None and second.comment == "அருகில் இருந்த கடையிலிருந்து சூடாக வந்தது"
    await assert_ledger_invariants(app_env["runtime"].store)

"""Pledges by chat (web chat), in English: a location+time pledge pays for a lunch-time meal near
its place and not for one 5 km away; the pledger is told once that day; an auto-renewal, then a
renewal the balance cannot fund; hostile amounts, a stranger's Cancel and a double Confirm."""

from __future__ import annotations

from typing import Any

from core.schedule.jobs import renew_pledges, tell_pledgers
from tests.helpers import assert_ledger_invariants

PLACE = "13.1052, 80.2707"  # 2.5 km north of the demo restaurants
NEAR = "13.1080, 80.2707"  # 310 m from the pledge's place
FAR = "13.0602, 80.2707"  # 5 km from it (2.5 km south of the restaurants)

PLEDGE = f"""
    donor-1  > /pledge
    donor-1  < How much would you like to pledge for other people's meals? Send an amount in rupees from ₹10 to ₹1,00,000
    donor-1  > ₹9
    donor-1  < The smallest pledge is ₹10. Please send a larger amount.
    donor-1  > ₹10,00,00,000
    donor-1  < One pledge can be at most ₹1,00,000. Please send a smaller amount.
    donor-1  > -50
    donor-1  < Please send the amount in rupees as a number, for example 500.
    donor-1  > five hundred
    donor-1  < Please send the amount in rupees as a number, for example 500.
    donor-1  > 500
    donor-1  < Which meals may your ₹500 pay for? [Anyone, anywhere] [Near a place] [During some hours] [Place and hours]
    donor-1  > [tap Place and hours]
    donor-1  < Share the place your pledge is for (attach → Location), or type it like 13.0827, 80.2707.
    donor-1  > [location {PLACE}]
    donor-1  < How far around that place? [500 m] [1 km] [3 km]
    donor-1  > [tap 1 km]
    donor-1  < During which hours? [Breakfast 7–10] [Lunch 11–15] [Dinner 19–22]
    donor-1  > [tap Lunch 11–15]
    donor-1  < Renew it every month from your balance? [Every month] [Just once]
    donor-1  > [tap Just once]
    donor-1  < Pledge ₹500 (within 1 km of your place · 11:00–15:00 only · once). Your balance: ₹1,000. [Confirm] [Cancel]
    donor-1  > [tap Confirm]
    donor-1  < Thank you! Pledge #1 holds ₹500 for other people's meals. I will tell you once a day what it paid for.
    donor-1  > [tap Confirm]
    donor-1  < That question has already been answered.
"""


def ask(user: str, where: str) -> str:
    """A requester with no balance asks for a meal for someone at a place, up to the price."""
    return f"""
    {user}   > [photo]
    {user}   < Did the person agree to be photographed so they can receive a meal? [Yes, they agreed] [No]
    {user}   > [press consent:yes]
    {user}   < Thank you. Now share the location where the person is
    {user}   > [location {where}]
    {user}   < What is the place like right now?
    {user}   > [press scene:busy_lit]
    {user}   < Meals near this person — choose one:
    {user}   > [press meal:]
    {user}   < Would you like to add a tip for the delivery worker? [No tip]
    {user}   > [tap No tip]
"""


FED_NEARBY = ask("asker-1", NEAR) + """
    asker-1  < Pledges from other donors can pay ₹85 of it. [Pay ₹85] [Use pledges] [Cancel]
    asker-1  > [tap Use pledges]
    asker-1  < Order #1 for Lemon rice is with Annapoorna Mess. I will tell you when it is accepted. Pledges paid ₹85 of it.
    rest-1   < New order #1: Lemon rice (₹55) for a person near 13.11, 80.27. Can you cook it? [Accept] [Reject]
"""

NOT_FED_FAR = ask("asker-2", FAR) + """
    asker-2  < Meal ₹50 + delivery ₹30 + tip ₹0 = ₹80 [Pay ₹80] [Cancel]
    asker-2  > [tap Pay]
    asker-2  < Your balance is ₹0, which is not enough for ₹80.
"""


async def test_a_location_pledge_pays_for_a_lunch_meal_nearby_and_not_5_km_away_by_chat(app_env: dict[str, Any]) -> None:
    chat, runtime = app_env["chat"], app_env["runtime"]
    await chat.run(PLEDGE)
    await chat.run(FED_NEARBY)
    await chat.run(NOT_FED_FAR)
    far_buttons = [b["label"] for m in (await chat.fetch("asker-2")).seen for b in m["buttons"]]
    assert "Use pledges" not in far_buttons and "Use pledges" in [b["label"] for m in (await chat.fetch("asker-1")).seen
                                                                   for b in m["buttons"]]  # fmt: skip
    await tell_pledgers(runtime.store)
    await tell_pledgers(runtime.store)  # at most once a day per pledge
    await chat.run("""
        donor-1  < Meals your pledge #1 paid for today near 13.11, 80.27: 1 (₹85). ₹415 left.
        donor-1  > /pledges
        donor-1  < 23 Nov 2026: ₹85 near 13.11, 80.27 [Cancel #1] [Pause #1]
    """)
    # A stranger sends the Cancel button's payload of someone else's pledge: refused, nothing moves.
    response = await chat.post("asker-1", json={"button": "pstop:1"})
    assert response.status_code == 202
    await runtime.processor.drain()
    await chat.run("""
        asker-1  < You have no pledge #1. Send /pledges to see yours.
        donor-1  > [tap Pause #1]
        donor-1  < Pledge #1 is paused: it pays for nothing until you resume it. [Resume #1] [Cancel #1]
        donor-1  > [tap Cancel #1]
        donor-1  < Pledge #1 is cancelled; ₹415 is back in your balance.
        donor-1  > [tap Cancel #1]
        donor-1  < That question has already been answered.
        donor-1  > /balance
        donor-1  < Your balance: ₹915
    """)
    async with runtime.store.reader() as uow:
        assert await uow.ledger.balance("pledge:1") == 0
        assert await uow.ledger.balance("escrow:order:1") == 8_500
    await assert_ledger_invariants(runtime.store)


async def test_a_pledge_renews_monthly_and_pauses_when_the_balance_is_short_by_chat(app_env: dict[str, Any]) -> None:
    chat, runtime, clock = app_env["chat"], app_env["runtime"], app_env["clock"]
    await chat.run("""
        donor-1  > /pledge 400
        donor-1  < Which meals may your ₹400 pay for?
        donor-1  > [tap Anyone, anywhere]
        donor-1  < Renew it every month from your balance? [Every month] [Just once]
        donor-1  > [tap Every month]
        donor-1  < Pledge ₹400 (for anyone, anywhere · renews monthly). Your balance: ₹1,000. [Confirm] [Cancel]
        donor-1  > [tap Confirm]
        donor-1  < Thank you! Pledge #1 holds ₹400
    """)
    clock.advance(days=30)  # 23 December: the monthly renewal
    assert await renew_pledges(runtime.store) == {1: True}
    assert await renew_pledges(runtime.store) == {}
    await chat.run("""
        donor-1  < Pledge #1 was renewed with ₹400 from your balance; it now holds ₹800.
    """)
    clock.advance(days=31)  # 23 January: ₹200 left in the balance, ₹400 needed
    assert await renew_pledges(runtime.store) == {1: False}
    await chat.run("""
        donor-1  < your balance is short of ₹400, so nothing was taken and the pledge is paused (₹800 left in it). [Resume #1]
        donor-1  > /balance
        donor-1  < Your balance: ₹200
        donor-1  > [tap Resume #1]
        donor-1  < Pledge #1 is active again. [Pause #1] [Cancel #1]
    """)
    await assert_ledger_invariants(runtime.store)


async def test_forged_pledge_buttons_and_a_photo_mid_pledge_get_polite_answers(app_env: dict[str, Any]) -> None:
    chat, runtime = app_env["chat"], app_env["runtime"]
    for forged, answer in (("pstop:99999999999999", "That button is no longer active."),
                           ("ppause:7", "You have no pledge #7. Send /pledges to see yours."),
                           ("pkind:general", "That choice is no longer open. Send /pledge to start again."),
                           ("pledgeok", "That choice is no longer open. Send /pledge to start again.")):  # fmt: skip
        assert (await chat.post("donor-1", json={"button": forged})).status_code == 202
        await runtime.processor.drain()
        await chat.run(f"donor-1  < {answer}")
    await chat.run("""
        donor-1  > /pledge 50
        donor-1  < Which meals may your ₹50 pay for?
        donor-1  > [tap Near a place]
        donor-1  < Share the place your pledge is for
        donor-1  > [photo]
        donor-1  < Did the person agree to be photographed so they can receive a meal? [Yes, they agreed] [No]
    """)
    assert (await chat.post("donor-1", json={"button": "pradius:700"})).status_code == 202
    await runtime.processor.drain()
    await chat.run("donor-1  < That choice is no longer open. Send /pledge to start again.")
    async with runtime.store.reader() as uow:
        donor = await uow.people.find("webchat", "donor-1")
        assert await uow.pledges.for_person(donor.id) == []
    await assert_ledger_invariants(runtime.store)

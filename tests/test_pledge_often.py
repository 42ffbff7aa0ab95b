""""Tell me more often": a pledge's donor may hear of every meal it pays for — by a button on
/pledges or on the daily message, or typed (often / அடிக்கடி, daily / தினமும்) — batched so that
meals close together make one message, at most one every OFTEN_GAP_MIN minutes; and back to once
a day. The job runs every minute and tells each use once, however often it runs."""

from __future__ import annotations

from typing import Any

from core.funding.pledges import OFTEN_GAP_MIN
from core.schedule.jobs import tell_pledgers, tell_pledgers_often
from tests.helpers import assert_ledger_invariants, chain_events
from tests.test_pledge_transcripts import NEAR, PLEDGE, ask


def fed(user: str) -> str:
    """A requester near the pledge's place has a meal paid by it."""
    return ask(user, NEAR) + f"""
    {user}   < Pledges from other donors can pay ₹85 of it. [Pay ₹85] [Use pledges] [Cancel]
    {user}   > [tap Use pledges]
    {user}   < Pledges paid ₹85 of it.
    rest-1   < New order
"""


async def test_every_use_batched_then_back_to_daily_by_chat(app_env: dict[str, Any]) -> None:
    chat, runtime, clock = app_env["chat"], app_env["runtime"], app_env["clock"]
    store = runtime.store
    await chat.run(PLEDGE)
    await chat.run("""
        donor-1  > /pledges
        donor-1  < #1 ₹500 left of ₹500 [Cancel #1] [Pause #1] [Every use #1]
        donor-1  > [tap Every use #1]
        donor-1  < Pledge #1: I will tell you soon after each meal it pays for (several meals close together [Once a day #1]
        donor-1  > [tap Every use #1]
        donor-1  < That question has already been answered.
        donor-1  > often 1
        donor-1  < Pledge #1 already tells you of every meal it pays for.
    """)
    await chat.run(fed("asker-1"))
    assert await tell_pledgers_often(store) == 1
    assert await tell_pledgers_often(store) == 0  # told once
    await chat.run("""
        donor-1  < Your pledge #1 just paid for meals near 13.11, 80.27: 1 (₹85). ₹415 left. [Once a day #1]
    """)
    # Two more meals within the gap: nothing yet; after it, one message for both.
    await chat.run(fed("asker-2"))
    clock.advance(minutes=1)
    await chat.run(fed("asker-3"))
    assert await tell_pledgers_often(store) == 0
    clock.advance(minutes=OFTEN_GAP_MIN - 1)
    assert await tell_pledgers_often(store) == 1
    await chat.run("""
        donor-1  < Your pledge #1 just paid for meals near 13.11, 80.27: 2 (₹170). ₹245 left.
    """)
    assert await tell_pledgers(store) == 0  # no daily message on top: they were told already
    # Back to once a day, typed; the day's message then covers the day's meals (a summary).
    await chat.run("""
        donor-1  > daily
        donor-1  < Pledge #1: I will tell you once a day what it paid for. [Every use #1]
        donor-1  > daily 1
        donor-1  < Pledge #1 already tells you once a day.
    """)
    await chat.run(fed("asker-4"))
    clock.advance(minutes=OFTEN_GAP_MIN)
    assert await tell_pledgers_often(store) == 0
    assert await tell_pledgers(store) == 1
    await chat.run("""
        donor-1  < Meals your pledge #1 paid for today near 13.11, 80.27: 4 (₹340). ₹160 left. [Every use #1]
    """)
    # Someone else's pledge: refused, nothing changes.
    assert (await chat.post("asker-1", json={"button": "ptell:1:often"})).status_code == 202
    await runtime.processor.drain()
    await chat.run("asker-1  < You have no pledge #1. Send /pledges to see yours.")
    async with store.reader() as uow:
        assert [e.data["change"] for e in await chain_events(uow, "pledge.changed")] == ["made", "tell_often", "tell_daily"]
        assert [(e.data["meals"], e.data["amount"]) for e in await chain_events(uow, "pledge.news")] == [(1, 8_500), (2, 17_000)]
    await assert_ledger_invariants(store)


async def test_in_tamil_typed_words_and_the_one_pledge_needs_no_number(app_env: dict[str, Any]) -> None:
    chat, store = app_env["chat"], app_env["runtime"].store
    await chat.run("""
        donor-1  > /pledge 400
        donor-1  < Which meals may your ₹400 pay for?
        donor-1  > [tap Anyone, anywhere]
        donor-1  < Renew it every month
        donor-1  > [tap Just once]
        donor-1  < Pledge ₹400
        donor-1  > [tap Confirm]
        donor-1  < Thank you! Pledge #1 holds ₹400
    """)
    async with store.uow() as uow:
        donor = await uow.people.find("webchat", "donor-1")
        assert donor is not None
        await uow.people.set_language(donor.id, "ta")
    await chat.run("""
        donor-1  > அடிக்கடி
        donor-1  < நன்கொடை #1: அது ஒவ்வொரு சாப்பாட்டுக்கும் பணம் கொடுத்ததும் விரைவில் சொல்வேன் [தினமும் ஒருமுறை #1]
        donor-1  > தினமும் 1
        donor-1  < நன்கொடை #1: அது எந்தச் சாப்பாடுகளுக்குப் பணம் கொடுத்தது என்று தினமும் ஒருமுறை சொல்வேன். [ஒவ்வொரு முறை #1]
        donor-1  > தினமும் 7
        donor-1  < உங்களிடம் நன்கொடை #7 இல்லை.
        donor-1  > அடிக்கடி
        donor-1  < நன்கொடை #1: அது ஒவ்வொரு சாப்பாட்டுக்கும் பணம் கொடுத்ததும் விரைவில் சொல்வேன் [தினமும் ஒருமுறை #1]
        donor-1  > தினமும் ஒருமுறை
        donor-1  < நன்கொடை #1: அது எந்தச் சாப்பாடுகளுக்குப் பணம் கொடுத்தது என்று தினமும் ஒருமுறை சொல்வேன். [ஒவ்வொரு முறை #1]
        donor-1  > dhinamum
        donor-1  < நன்கொடை #1 பற்றி ஏற்கனவே தினமும் ஒருமுறைதான் சொல்கிறேன்.
    """)


async def test_with_two_pledges_the_typed_word_asks_which(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    for amount in (100, 200):
        await chat.run(f"""
            donor-1  > /pledge {amount}
            donor-1  < Which meals may your ₹{amount} pay for?
            donor-1  > [tap Anyone, anywhere]
            donor-1  < Renew it every month
            donor-1  > [tap Just once]
            donor-1  < Pledge ₹{amount}
            donor-1  > [tap Confirm]
            donor-1  < Thank you!
        """)
    await chat.run("""
        donor-1  > often
        donor-1  < Which pledge? Send its number, for example /often 2. [Every use #2] [Every use #1]
        donor-1  > [tap Every use #1]
        donor-1  < Pledge #1: I will tell you soon after each meal it pays for
        donor-1  > often 3
        donor-1  < You have no pledge #3. Send /pledges to see yours.
        donor-1  > daily
        donor-1  < Which pledge? Send its number, for example /daily 2. [Once a day #1]
    """)


async def test_help_shows_often_and_daily_only_to_someone_with_a_pledge(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    await chat.send("donor-1", "/help")
    text = (await chat.expect("donor-1", "Ketpaar feeds people in need."))["text"]
    assert "/often" not in text and "/daily" not in text
    assert "/campaigns – open campaigns near you · /nearby on" in text
    await chat.run(PLEDGE)
    await chat.send("donor-1", "/help")
    text = (await chat.expect("donor-1", "Ketpaar feeds people in need."))["text"]
    assert "/often 1 – hear of every meal your pledge #1 pays for · /daily 1 – once a day" in text

"""Stuck orders on SMS, in English and Tamil: a restaurant that never answers (the next one is
tried; the silent one is told the order moved on), and a job nobody claims (offered to the next
ring of zones; the donor, told up front that the restaurant is paid, waits, then cancels by a
typed word). The donor follows by SMS from a phone linked to the web chat that paid; restaurants
and workers are on SMS. Each ends with the exact postings and the ledger's invariants."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.channel_chat import channel_app, users_on
from tests.helpers import assert_ledger_invariants
from tests.test_dispute_transcripts import link_donor_phone, speak_tamil
from tests.test_every_channel import fakes
from tests.test_tamil_transcript import latin_left
from tests.test_timeout_transcripts import ACCEPTED, ORDERED, _later, move_to_the_next_ring, order_transactions

CAST = {"donor-1": "webchat", "*": "sms"}


async def later(env: dict[str, Any], minutes: int) -> None:
    """The scheduler's timeout job, then the outbox delivered to the fake providers."""
    await _later(env, minutes)
    await env["chat"].settle()

SILENT = {
    "en": """
        rest-2    < Order #1 had no answer for 10 minutes, so it has moved on. Please do not cook it. Thank you all the same!
        rest-1    < New order #1: Sambar rice (Rs.70) for a person near 13.08, 80.27. Can you cook it? [Accept] [Reject]
        donor-1   < The first restaurant could not cook order #1, so Annapoorna Mess will make Sambar rice.
        donor-sms < The first restaurant could not cook order #1, so Annapoorna Mess will make Sambar rice.
        # Out of turn: the silent restaurant answers at last, by its old number and by a word.
        rest-2    > 1
        rest-2    < Order #1 has moved on to another restaurant or back to the donor. Please do not cook it.
        # (a word answers only an open question: no order is waiting for this kitchen now)
        rest-2    > yes
        rest-2    < Sorry, I did not understand that.
        rest-1    > yes
        rest-1    < Accepted order #1: Sambar rice.
        donor-1   < Annapoorna Mess accepted order #1
        donor-sms < Annapoorna Mess accepted order #1
        worker-1  < New job #1: pick up at Annapoorna Mess
        worker-2  < New job #1: pick up at Annapoorna Mess
        worker-3  < New job #1: pick up at Annapoorna Mess
    """,
    "ta": """
        rest-2    < #1: 10 நிமி. பதில் இல்லை, ஆர்டர் வேறு இடம் போனது. சமைக்க வேண்டாம். நன்றி!
        rest-1    < புதிய ஆர்டர் #1: 13.08, 80.27 அருகே உள்ள ஒருவருக்கு Sambar rice (₹70). சமைத்துத் தர முடியுமா?
        donor-1   < முதல் ஹோட்டலால் ஆர்டர் #1-ஐச் சமைக்க முடியவில்லை, அதனால் Annapoorna Mess Sambar rice சமைத்துத் தரும். விலை வித்தியாசம் ₹10
        donor-sms < முதல் ஹோட்டலால் ஆர்டர் #1-ஐச் சமைக்க முடியவில்லை, அதனால் Annapoorna Mess Sambar rice சமைத்துத் தரும். விலை வித்தியாசம் ₹10
        rest-2    > ௧
        rest-2    < ஆர்டர் #1 வேறு ஹோட்டலுக்கோ ஆர்டர் செய்தவரிடமோ போய்விட்டது. அதைச் சமைக்க வேண்டாம்.
        rest-2    > ஆம்
        rest-2    < மன்னிக்கவும், எனக்குப் புரியவில்லை.
        rest-1    > ஆம்
        rest-1    < ஆர்டர் #1 ஏற்கப்பட்டது: Sambar rice.
        donor-1   < Annapoorna Mess ஆர்டர் #1-ஐ ஏற்றுக்கொண்டு சமைக்கிறது.
        donor-sms < Annapoorna Mess ஆர்டர் #1-ஐ ஏற்றுக்கொண்டு சமைக்கிறது.
        worker-1  < புதிய வேலை #1: பிக்கப் Annapoorna Mess
        worker-2  < புதிய வேலை #1: பிக்கப் Annapoorna Mess
        worker-3  < புதிய வேலை #1: பிக்கப் Annapoorna Mess
    """,
}


async def _ids(store: Any, users: dict[str, Any]) -> dict[str, str]:
    async with store.reader() as uow:
        donor = await uow.people.find("webchat", "donor-1")
        rests = {n: await uow.restaurants.by_person((await uow.people.find("sms", users[n].address)).id) for n in ("rest-1", "rest-2")}
    return {"donor-1": f"donor:{donor.id}", **{n: f"restaurant:{r.id}" for n, r in rests.items()}}


TAMIL_PEOPLE = ("donor-1", "rest-1", "rest-2", "worker-1", "worker-2", "worker-3")


async def _tamil(env: dict[str, Any], users: dict[str, Any]) -> dict[str, int]:
    """Everyone but the web-chat admin speaks Tamil from here; how much each had seen before."""
    chat = env["chat"]
    await speak_tamil(env["runtime"].store, TAMIL_PEOPLE, {**users, "donor-1": _Web("donor-1")})
    return {name: len((await chat.fetch(name)).seen) for name in chat.cast()}


class _Web:
    """The web-chat identity of a name (for speak_tamil's lookup)."""

    def __init__(self, name: str) -> None:
        self.channel, self.address = "webchat", name


async def _all_tamil(chat: Any, seen: dict[str, int]) -> None:
    for name in chat.cast():
        for message in (await chat.fetch(name)).seen[seen.get(name, 0) :]:
            assert not latin_left(message.text), f"{name} got English: {message.text!r}"


@pytest.mark.parametrize("language", ["en", "ta"])
async def test_a_restaurant_that_never_answers_by_sms(language: str, app_db: Path, tmp_path: Path) -> None:
    users = users_on(CAST)
    with fakes("sms") as (telegram, twilio):
        async with channel_app(app_db, tmp_path / "var", users, telegram=telegram, twilio=twilio) as env:
            chat, store = env["chat"], env["runtime"].store
            await chat.run(ORDERED)
            await link_donor_phone(chat)
            seen = await _tamil(env, users) if language == "ta" else {}
            await later(env, 10)
            await chat.run(SILENT[language])
            if language == "ta":
                await _all_tamil(chat, seen)
            # Veg biryani ₹80 became sambar rice ₹70: the ₹10 difference went back, the rest is held.
            named = await _ids(store, users)
            assert await order_transactions(store) == [
                ("refund", "order:1:refund:reroute:1", sorted([(named["donor-1"], 1_000), ("escrow:order:1", -1_000)])),
            ]
            async with store.reader() as uow:
                assert await uow.ledger.balance("escrow:order:1") == 11_000
            await assert_ledger_invariants(store)


UNCLAIMED = {
    "en": """
        worker-3  < New job #1: pick up at Saravana Kitchen (4 Poonamallee High Road, Periamet), drop near 13.08, 80.27. Pay Rs.34. [Claim]
    """,
    "ta": """
        worker-3  < புதிய வேலை #1: பிக்கப் Saravana Kitchen (4 Poonamallee High Road, Periamet)
    """,
}
ASKED = {
    "en": """
        donor-1   < Nobody has claimed the delivery of order #1 for {minutes} minutes. You can wait longer, or cancel: [Wait longer]
        donor-sms < Saravana Kitchen has already cooked the meal, so it is paid Rs.80 from the money held, and Rs.40 comes back [Cancel]
    """,
    # (the linked web page shows what the phone got: the short SMS wording)
    "ta": """
        donor-1   < #1: {minutes} நிமி. யாரும் எடுக்கவில்லை. ரத்து செய்தால் Saravana Kitchen-க்கு ₹80, உங்களுக்கு ₹40. [காத்திருக்கிறேன்]
        donor-sms < #1: {minutes} நிமி. யாரும் எடுக்கவில்லை. ரத்து செய்தால் Saravana Kitchen-க்கு ₹80, உங்களுக்கு ₹40.
    """,
}
WAITED = {
    "en": """
        # "wait longer, or cancel?" is no yes/no question: a "no" does not cancel the order.
        donor-sms > no
        donor-sms < Sorry, I did not understand that.
        donor-1   < Sorry, I did not understand that.
        donor-sms > [tap Wait longer]
        donor-sms < We keep looking for a worker for order #1 and will ask you again in 60 minutes.
        donor-1   < We keep looking for a worker for order #1 and will ask you again in 60 minutes.
    """,
    "ta": """
        donor-sms > இல்லை
        donor-sms < மன்னிக்கவும், எனக்குப் புரியவில்லை.
        donor-1   < மன்னிக்கவும், எனக்குப் புரியவில்லை.
        donor-sms > {wait}
        donor-sms < #1: டெலிவரி பணியாளரைத் தேடுகிறோம்; 60 நிமி.-ல் மீண்டும் கேட்போம்.
        donor-1   < #1: டெலிவரி பணியாளரைத் தேடுகிறோம்; 60 நிமி.-ல் மீண்டும் கேட்போம்.
    """,
}
# Asked again, the donor types the word, not the number: it cancels as the question said.
CANCELLED = {
    "en": """
        donor-sms > cancel
        donor-sms < Order #1 is cancelled. Rs.80 paid the restaurant for the meal it cooked; Rs.40 is back in your balance.
        donor-1   < Order #1 is cancelled. ₹80 paid the restaurant for the meal it cooked; ₹40 is back in your balance.
        rest-2    < No delivery worker came for order #1, so the donor called it off. Rs.80 for the meal you cooked is credited to you.
        donor-sms > cancel
        donor-sms < There is nothing to cancel.
        donor-1   < There is nothing to cancel.
        worker-3  > [tap Claim]
        worker-3  < Job #1 is no longer available.
    """,
    "ta": """
        donor-sms > ரத்து
        donor-sms < #1 ரத்து. ஹோட்டலுக்கு ₹80; உங்கள் பேலன்ஸில் ₹40 திரும்ப வந்தது.
        donor-1   < #1 ரத்து. ஹோட்டலுக்கு ₹80; உங்கள் பேலன்ஸில் ₹40 திரும்ப வந்தது.
        rest-2    < #1: டெலிவரி பணியாளர் வரவில்லை, ஆர்டர் ரத்து. சமைத்ததற்கு ₹80 வரவு.
        donor-sms > ரத்து
        donor-sms < ரத்து செய்ய எதுவும் இல்லை.
        donor-1   < ரத்து செய்ய எதுவும் இல்லை.
        worker-3  > ௧
        worker-3  < வேலை #1 இனி கிடைக்காது.
    """,
}


@pytest.mark.parametrize("language", ["en", "ta"])
async def test_a_job_nobody_claims_by_sms(language: str, app_db: Path, tmp_path: Path) -> None:
    users = users_on(CAST)
    with fakes("sms") as (telegram, twilio):
        async with channel_app(app_db, tmp_path / "var", users, telegram=telegram, twilio=twilio) as env:
            chat, store = env["chat"], env["runtime"].store
            # Karthik (worker-3) works a few kilometres away: the first offer does not reach him.
            await move_to_the_next_ring(store, ("sms", users["worker-3"].address), ("sms", users["rest-2"].address))
            await chat.run(ACCEPTED.replace("    worker-3 < New job #1: pick up at Saravana Kitchen [Claim]\n", ""))
            await link_donor_phone(chat)
            seen = await _tamil(env, users) if language == "ta" else {}
            await later(env, 20)  # claim_wait_min: the next ring of zones
            await chat.run(UNCLAIMED[language])
            await later(env, 40)  # claim_give_up_min: the donor is asked, the kitchen's pay said up front
            await chat.run(ASKED[language].format(minutes=60))
            wait = next(b.value for b in (await chat.fetch("donor-sms")).seen[-1].buttons) if language == "en" else ""
            await chat.run(WAITED[language].format(wait=wait or await _number(chat, "donor-sms", 0)))
            await later(env, 60)
            await chat.run(ASKED[language].format(minutes=120))
            await chat.run(CANCELLED[language])
            if language == "ta":
                await _all_tamil(chat, seen)
            named = await _ids(store, users)
            assert await order_transactions(store) == [
                ("abandon", "order:1:abandon", sorted([(named["rest-2"], 8_000), ("escrow:order:1", -8_000)])),
                ("refund", "order:1:refund:abandon", sorted([(named["donor-1"], 4_000), ("escrow:order:1", -4_000)])),
            ]
            await assert_ledger_invariants(store)


async def _number(chat: Any, name: str, option: int) -> str:
    """The number a Tamil SMS offers for its `option`-th choice ("பதில்: 2 = …, 3 = …")."""
    text = (await chat.fetch(name)).seen[-1].text
    numbers = re.findall(r"(\d+) = ", text.rsplit("\n", 1)[-1])
    return str(numbers[option])

"""Stuck orders by chat: a restaurant that never answers, a job nobody claims (web chat, in
English and Tamil; SMS in tests/test_timeout_sms.py)."""

from __future__ import annotations

from typing import Any

from core.schedule.jobs import time_out_stuck_orders
from core.shared import geo
from tests.helpers import assert_ledger_invariants
from tests.test_dispute_transcripts import speak_tamil
from tests.test_meal_transcript import MEAL
from tests.test_tamil_transcript import latin_left

ORDERED = MEAL.split("    rest-2   > [tap Accept]")[0]


async def _later(env: dict[str, Any], minutes: int) -> None:
    """Move the app's clock on and run the timeout job as the scheduler would."""
    env["clock"].advance(minutes=minutes)
    await time_out_stuck_orders(env["runtime"].store, env["runtime"].board)


async def test_a_restaurant_that_never_answers_by_chat(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    await chat.run(ORDERED)
    await _later(app_env, 10)
    await chat.run("""
        rest-2   < Order #1 had no answer for 10 minutes, so it has moved on. Please do not cook it. Thank you all the same!
        rest-1   < New order #1
        donor-1  < The first restaurant could not cook order #1
        rest-2   > [tap Accept]
        rest-2   < Order #1 has moved on to another restaurant or back to the donor. Please do not cook it.
    """)
    await assert_ledger_invariants(app_env["runtime"].store)


ACCEPTED = MEAL.split("    worker-1 > [tap Claim]")[0]


async def test_a_job_nobody_claims_the_donor_cancels_and_the_kitchen_is_paid_by_chat(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    await chat.run(ACCEPTED)
    await _later(app_env, 60)
    await chat.run("""
        donor-1  < Nobody has claimed the delivery of order #1 for 60 minutes. [Wait longer] [Cancel]
        donor-1  > [tap Wait longer]
        donor-1  < We keep looking for a worker for order #1 and will ask you again in 60 minutes.
    """)
    await _later(app_env, 60)
    await chat.run("""
        donor-1  < Nobody has claimed the delivery of order #1 for 120 minutes. [Wait longer] [Cancel]
        donor-1  > [tap Cancel]
        donor-1  < Order #1 is cancelled. ₹80 paid the restaurant for the meal it cooked; ₹40 is back in your balance.
        rest-2   < No delivery worker came for order #1, so the donor called it off. ₹80 for the meal you cooked is credited to you.
        worker-1 > [tap Claim]
        worker-1 < Job #1 is no longer available.
    """)
    store = app_env["runtime"].store
    async with store.reader() as uow:
        rest2 = await uow.restaurants.by_person((await uow.people.find("webchat", "rest-2")).id)
        assert await uow.ledger.balance(f"restaurant:{rest2.id}") == 8_000
        assert await uow.ledger.balance("escrow:order:1") == 0
    await assert_ledger_invariants(store)


# --- in Tamil -------------------------------------------------------------------------------------

EVERYONE = ("donor-1", "rest-1", "rest-2", "worker-1", "worker-2", "worker-3")


async def order_transactions(store: Any, order_id: int = 1) -> list[tuple[str, str, list[tuple[str, int]]]]:
    """Every ledger transaction of an order after its funding: (kind, ref, sorted postings)."""
    async with store.reader() as uow:
        return [(kind, ref, sorted((a, v) for a, v in lines)) async for _, kind, ref, lines in uow.ledger.transactions()
                if ref.startswith(f"order:{order_id}:") and kind != "fund"]  # fmt: skip


async def accounts(store: Any) -> dict[str, str]:
    """The demo cast's ledger accounts, by name."""
    async with store.reader() as uow:
        people = {n: await uow.people.find("webchat", n) for n in EVERYONE}
        rests = {n: await uow.restaurants.by_person(people[n].id) for n in ("rest-1", "rest-2")}
    return {"donor-1": f"donor:{people['donor-1'].id}", **{n: f"restaurant:{r.id}" for n, r in rests.items()}}


async def test_a_restaurant_that_never_answers_in_tamil_then_the_next_one_neither(app_env: dict[str, Any]) -> None:
    chat, store = app_env["chat"], app_env["runtime"].store
    await chat.run(ORDERED)
    await speak_tamil(store, EVERYONE)
    seen = {name: len((await chat.fetch(name)).seen) for name in EVERYONE}
    await _later(app_env, 10)
    # Annapoorna Mess has no veg biryani: the nearest like it, sambar rice ₹70, and ₹10 back.
    await chat.run("""
        rest-2   < ஆர்டர் #1-க்கு 10 நிமிடமாகப் பதில் வரவில்லை, அதனால் ஆர்டர் வேறு இடத்துக்குப் போய்விட்டது. அதைச் சமைக்க வேண்டாம். பரவாயில்லை, நன்றி!
        rest-1   < புதிய ஆர்டர் #1: 13.08, 80.27 அருகே உள்ள ஒருவருக்கு Sambar rice (₹70). சமைத்துத் தர முடியுமா? [ஏற்கிறேன்] [முடியாது]
        donor-1  < முதல் ஹோட்டலால் ஆர்டர் #1-ஐச் சமைக்க முடியவில்லை, அதனால் Annapoorna Mess Sambar rice சமைத்துத் தரும். விலை வித்தியாசம் ₹10
        rest-2   > [press accept:1]
        rest-2   < ஆர்டர் #1 வேறு ஹோட்டலுக்கோ ஆர்டர் செய்தவரிடமோ போய்விட்டது. அதைச் சமைக்க வேண்டாம்.
    """)
    await _later(app_env, 10)
    await chat.run("""
        rest-1   < ஆர்டர் #1-க்கு 10 நிமிடமாகப் பதில் வரவில்லை, அதனால் ஆர்டர் வேறு இடத்துக்குப் போய்விட்டது. அதைச் சமைக்க வேண்டாம். பரவாயில்லை, நன்றி!
        donor-1  < மன்னிக்கவும், அருகில் உள்ள எந்த ஹோட்டலாலும் ஆர்டர் #1-ஐச் சமைக்க முடியவில்லை. ₹110 உங்கள் பேலன்ஸில் திரும்ப வந்தது.
        rest-1   > [tap ஏற்கிறேன்]
        rest-1   < ஆர்டர் #1 வேறு ஹோட்டலுக்கோ ஆர்டர் செய்தவரிடமோ போய்விட்டது. அதைச் சமைக்க வேண்டாம்.
    """)
    await assert_tamil(chat, EVERYONE, seen)
    # The exact postings: the ₹10 difference back at the reroute, then all that is left.
    donor = (await accounts(store))["donor-1"]
    assert await order_transactions(store) == [
        ("refund", "order:1:refund:reroute:1", sorted([(donor, 1_000), ("escrow:order:1", -1_000)])),
        ("refund", "order:1:refund:declined", sorted([(donor, 11_000), ("escrow:order:1", -11_000)])),
    ]
    await assert_ledger_invariants(store)


async def assert_tamil(chat: Any, names: tuple[str, ...], seen_before: dict[str, int]) -> None:
    """Every message the people named received since `seen_before` is Tamil (names, amounts aside)."""
    for name in names:
        for message in (await chat.fetch(name)).seen[seen_before.get(name, 0) :]:
            for text in [message["text"], *(b["label"] for b in message["buttons"])]:
                assert not latin_left(text), f"{name} got English: {text!r}"


async def move_to_the_next_ring(store: Any, worker: tuple[str, str], restaurant: tuple[str, str]) -> None:
    """Put a worker's zone one ring of cells beyond the restaurant's neighbourhood (about 5-10 km);
    each is given as (channel, address)."""
    async with store.uow() as uow:
        r = await uow.restaurants.by_person((await uow.people.find(*restaurant)).id)
        near = set(geo.neighbourhood(r.zone))
        ring = sorted({cell for z in near for cell in geo.neighbourhood(z)} - near)
        lat_lo, lat_hi, lng_lo, lng_hi = geo.decode_box(ring[0])
        worker = await uow.workers.by_person((await uow.people.find(*worker)).id)
        await uow.workers.set_zone(worker.id, (lat_lo + lat_hi) / 2, (lng_lo + lng_hi) / 2, ring[0])


# Karthik (worker-3) works a few kilometres away: the first offer does not reach him.
ACCEPTED_NEAR = ACCEPTED.replace("    worker-3 < New job #1: pick up at Saravana Kitchen [Claim]\n", "")


async def test_a_job_nobody_claims_in_tamil_goes_wider_then_the_donor_cancels(app_env: dict[str, Any]) -> None:
    chat, store = app_env["chat"], app_env["runtime"].store
    await move_to_the_next_ring(store, ("webchat", "worker-3"), ("webchat", "rest-2"))
    await chat.run(ACCEPTED_NEAR)
    await speak_tamil(store, EVERYONE)
    seen = {name: len((await chat.fetch(name)).seen) for name in EVERYONE}
    await _later(app_env, 20)  # claim_wait_min: offered to the next ring of zones
    await chat.run("""
        worker-3 < புதிய வேலை #1: பிக்கப் Saravana Kitchen (4 Poonamallee High Road, Periamet) [நான் எடுக்கிறேன்]
    """)
    await _later(app_env, 40)  # claim_give_up_min: the donor is asked, told up front the kitchen is paid
    # "ஆர்டர் #1-இன் டெலிவரியை 60 நிமிடமாக யாரும் எடுக்கவில்லை. இன்னும் காத்திருக்கலாம், அல்லது ரத்து
    # செய்யலாம்: Saravana Kitchen ஏற்கனவே சாப்பாட்டைச் சமைத்துவிட்டதால், ஹோல்டில் உள்ள பணத்திலிருந்து
    # அவர்களுக்கு ₹80 கொடுக்கப்படும்; ₹40 உங்களுக்குத் திரும்ப வரும்."
    await chat.run("""
        donor-1  < ஹோல்டில் உள்ள பணத்திலிருந்து அவர்களுக்கு ₹80 கொடுக்கப்படும்; ₹40 உங்களுக்குத் திரும்ப வரும். [காத்திருக்கிறேன்] [ரத்து செய்]
        donor-1  > [tap ரத்து செய்]
        donor-1  < ஆர்டர் #1 ரத்து செய்யப்பட்டது. சமைத்த சாப்பாட்டுக்காக ஹோட்டலுக்கு ₹80 கொடுக்கப்பட்டது; ₹40 உங்கள் பேலன்ஸில் திரும்ப வந்தது.
        rest-2   < டெலிவரி பணியாளர் யாரும் வரவில்லை, அதனால் ஆர்டர் செய்தவர் அதை ரத்து செய்துவிட்டார். நீங்கள் சமைத்த சாப்பாட்டுக்கு ₹80
        donor-1  > [tap ரத்து செய்]
        donor-1  < அந்தக் கேள்விக்கு ஏற்கனவே பதில் அளிக்கப்பட்டுவிட்டது.
        worker-3 > [tap நான் எடுக்கிறேன்]
        worker-3 < வேலை #1 இனி கிடைக்காது.
    """)
    await assert_tamil(chat, EVERYONE, seen)
    named = await accounts(store)
    assert await order_transactions(store) == [
        ("abandon", "order:1:abandon", sorted([(named["rest-2"], 8_000), ("escrow:order:1", -8_000)])),
        ("refund", "order:1:refund:abandon", sorted([(named["donor-1"], 4_000), ("escrow:order:1", -4_000)])),
    ]
    await assert_ledger_invariants(store)

"""Cards with Stripe, held until delivery: the real stripe SDK against a local fake of Stripe's API,
webhooks signed exactly as Stripe signs them, and the money followed to the paisa."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.payments import cards
from core.schedule.jobs import settle_due
from tests.conftest import running_app
from tests.fake_stripe import SECRET_KEY, WEBHOOK_SECRET, FakeStripe, event, sign, signed
from tests.helpers import assert_ledger_invariants
from tests.test_meal_transcript import MEAL

UP_TO_TIP = MEAL.partition("    donor-1  < Meal ₹80 + delivery")[0]
AFTER_PAID = "    rest-2   < New order #1" + MEAL.partition("    rest-2   < New order #1")[2]

# Veg biryani ₹80 + fee ₹30 + tip ₹10 = ₹120 for the escrow; the card fee (2.9 % + ₹0.30 of what
# is charged, grossed up so that ₹120 is left after it) is ₹3.89: ₹123.89 on the card.
CHOOSE_CARD = """
    donor-1  < Meal ₹80 + delivery ₹30 + tip ₹10 = ₹120 [Pay ₹120] [Pay by card] [Cancel]
    donor-1  > [tap Pay by card]
    donor-1  < Order #1 by card: ₹120 + card fee ₹3.89 = ₹123.89. [Cancel]
"""

HELD = """
    donor-1  < Your card holds ₹123.89; it is charged only after delivery. Order #1 for Veg biryani is with Saravana Kitchen. [Cancel order]
"""

CAPTURED = """
    rest-2   < Order #1: ₹80 is now credited to you.
    worker-1 < Job #1: ₹34 is now in your earnings.
    donor-1  < Order #1 is settled: ₹123.89 was taken from your card. Thank you!
"""


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    """A fake Stripe API on 127.0.0.1 for one test."""
    fake = FakeStripe().start()
    yield fake
    fake.stop()


@pytest.fixture
async def card_env(app_db: Path, tmp_path: Path, fake_stripe: FakeStripe) -> AsyncIterator[dict[str, Any]]:
    """The app with cards on, talking to the fake Stripe; a short timeout so a stalled answer is retried."""
    settings = {"stripe_secret_key": SECRET_KEY, "stripe_webhook_secret": WEBHOOK_SECRET,
                "stripe_api_base": fake_stripe.base_url, "stripe_timeout": 1.0}  # fmt: skip
    async with running_app(app_db, tmp_path / "var", settings=settings) as env:
        env["stripe"] = fake_stripe
        yield env


async def post_event(env: dict[str, Any], evt: dict[str, Any], headers: dict[str, str] | None = None,
                     body: bytes | None = None) -> httpx.Response:  # fmt: skip
    """POST a webhook as Stripe does (signed now, unless headers are given), then let the chat settle."""
    signed_body, signed_headers = signed(evt)
    response = await env["client"].post("/webhooks/stripe", content=body if body is not None else signed_body,
                                        headers=headers if headers is not None else signed_headers)  # fmt: skip
    await env["chat"].drain()
    return response


async def the_link(env: dict[str, Any]) -> str:
    """The Checkout URL the donor was sent."""
    box = await env["chat"].fetch("donor-1")
    text = next(m["text"] for m in reversed(box.seen) if "Pay here:" in m["text"])
    return text.rsplit("Pay here: ", 1)[1].split()[0]


async def donor_pays(env: dict[str, Any]) -> str:
    """The donor completes the page: Stripe authorises and posts amount_capturable_updated; return the intent."""
    intent = env["stripe"].intent_of(await the_link(env))
    response = await post_event(env, event("payment_intent.amount_capturable_updated", env["stripe"].pay(intent)))
    assert response.status_code == 200, response.text
    return intent


async def settle_and_capture(env: dict[str, Any]) -> dict[str, int]:
    """Thirty minutes on: the scheduler settles, then captures (what its settle job does)."""
    env["clock"].advance(minutes=30)
    assert await settle_due(env["runtime"].store) == 1
    return await cards.run_due(env["runtime"].store, env["runtime"].services.payments)


async def balances(env: dict[str, Any]) -> dict[str, int]:
    """Non-zero ledger balances, person accounts named by demo user."""
    async with env["runtime"].store.reader() as uow:
        found = await uow.ledger.balances()
        donor = await uow.people.find("webchat", "donor-1")
        rest2 = await uow.restaurants.by_person((await uow.people.find("webchat", "rest-2")).id)
        worker1 = await uow.workers.by_person((await uow.people.find("webchat", "worker-1")).id)
    names = {f"donor:{donor.id}": "donor-1", f"restaurant:{rest2.id}": "rest-2", f"worker:{worker1.id}": "worker-1"}
    return {names.get(a, a): v for a, v in found.items() if v}


async def assert_reconciled(env: dict[str, Any]) -> None:
    """The ledger's card accounts agree with Stripe to the paisa, and what came in equals the
    balances plus what went out."""
    assert await cards.reconcile(env["runtime"].store, env["runtime"].services.payments) == []
    found = await balances(env)
    assert -found.get("external:card", 0) == env["stripe"].held_or_taken()
    assert found.get("external:card_fees", 0) == env["stripe"].fees()
    came_in = -sum(v for a, v in found.items() if a.startswith("external:") and v < 0)
    went_out = sum(v for a, v in found.items() if a.startswith("external:") and v > 0)
    assert came_in == sum(v for a, v in found.items() if not a.startswith("external:")) + went_out
    await assert_ledger_invariants(env["runtime"].store)


async def test_a_donor_pays_by_card_and_the_card_is_captured_only_when_the_order_settles(card_env: dict[str, Any]) -> None:
    chat = card_env["chat"]
    await chat.run(UP_TO_TIP + CHOOSE_CARD)
    stripe = card_env["stripe"]
    link = await the_link(card_env)
    assert f"Your card is only held now and charged after the meal is delivered. Pay here: {link}" in (
        (await chat.fetch("donor-1")).seen[-1]["text"])
    intent = stripe.intent_of(link)
    pi = stripe.intents[intent]
    # A manual-capture PaymentIntent in paise and rupees, named by our order and attempt.
    assert (pi["amount"], pi["currency"], pi["capture_method"]) == (12_389, "inr", "manual")
    assert pi["metadata"] == {"order": "1", "payment": "order:1:card:1", "contribution": "card", "meal": "Veg biryani"}
    assert all(key for method, _path, key in stripe.calls if method == "POST")  # every POST has an idempotency key
    await donor_pays(card_env)
    await chat.run(HELD + AFTER_PAID)
    assert stripe.operations == []  # delivered, but resting in the dispute window: nothing captured yet
    assert await settle_and_capture(card_env) == {"capture": 1}
    await chat.run(CAPTURED)
    assert stripe.operations == [("capture", intent, 12_389)]
    assert await balances(card_env) == {
        "external:deposits": -100_000, "donor-1": 100_000,  # the balance was not touched
        "external:card": -12_389, "external:card_fees": 389,
        "rest-2": 8_000, "worker-1": 3_400, "pool:guarantee": 300, "fund:infra": 300,
    }  # fmt: skip
    assert await cards.run_due(card_env["runtime"].store, card_env["runtime"].services.payments) == {}  # once only
    await assert_reconciled(card_env)
    async with card_env["runtime"].store.reader() as uow:
        states = [e.data["state"] async for e in uow.chain.stream() if e.type == "card.payment"]
    assert states == ["created", "authorised", "captured"]


async def test_the_webhook_refuses_forged_missing_stale_and_replayed_signatures(card_env: dict[str, Any]) -> None:
    await card_env["chat"].run(UP_TO_TIP + CHOOSE_CARD)
    stripe = card_env["stripe"]
    intent = stripe.intent_of(await the_link(card_env))
    evt = event("payment_intent.amount_capturable_updated", stripe.pay(intent))
    body, headers = signed(evt)
    forged = {**headers, "Stripe-Signature": sign(body, "whsec_someone_else")}
    stale = {**headers, "Stripe-Signature": sign(body, at=int(time.time()) - 301)}
    tampered = body.replace(b'"amount_capturable":12389', b'"amount_capturable":1')
    for hdrs, content in ((forged, body), (stale, body), ({"Content-Type": "application/json"}, body), (headers, tampered),
                          ({**headers, "Stripe-Signature": "t=1,v1=abc"}, body)):  # fmt: skip
        response = await post_event(card_env, evt, headers=hdrs, body=content)
        assert response.status_code == 400, response.text
    async with card_env["runtime"].store.reader() as uow:
        assert (await uow.inbox.next_pending("stripe", "stripe")) is None
        assert (await uow.cards.by_intent(intent)).status.value == "created"  # type: ignore[union-attr]
        assert (await uow.orders.get(1)).status.value == "screened"  # type: ignore[union-attr]
    assert (await post_event(card_env, evt, headers=headers, body=body)).status_code == 200
    # The very same signed request again is a replay: refused, and nothing is done twice.
    assert (await post_event(card_env, evt, headers=headers, body=body)).status_code == 400
    # Stripe delivering the same event again signs it anew: acknowledged as a duplicate, no second hold.
    again = await post_event(card_env, evt, headers={**headers, "Stripe-Signature": sign(body, at=int(time.time()) + 1)}, body=body)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    await card_env["chat"].run(HELD + AFTER_PAID.partition("    rest-2   > [tap Accept]")[0])
    assert (await balances(card_env))["escrow:order:1"] == 12_000
    await assert_reconciled(card_env)


async def test_unknown_intents_and_events_out_of_order_change_nothing_twice(card_env: dict[str, Any]) -> None:
    stripe = card_env["stripe"]
    unknown = {"id": "pi_unknown", "object": "payment_intent", "amount": 5_000, "amount_capturable": 5_000,
               "amount_received": 0, "metadata": {"payment": "order:99:card:1"}, "status": "requires_capture"}  # fmt: skip
    assert (await post_event(card_env, event("payment_intent.amount_capturable_updated", unknown))).status_code == 200
    assert (await post_event(card_env, event("charge.dispute.created", {"object": "dispute"}))).status_code == 200
    await card_env["chat"].run(UP_TO_TIP + CHOOSE_CARD)
    intent = stripe.intent_of(await the_link(card_env))
    authorised = stripe.pay(intent)
    # Stripe says "succeeded" first (captured before authorised, as seen from here): the money is
    # held all the same and the order goes on, once.
    succeeded = {**authorised, "status": "succeeded", "amount_received": 12_389, "amount_capturable": 0}
    assert (await post_event(card_env, event("payment_intent.succeeded", succeeded))).status_code == 200
    assert (await post_event(card_env, event("payment_intent.amount_capturable_updated", authorised))).status_code == 200
    await card_env["chat"].run(HELD + AFTER_PAID.partition("    rest-2   > [tap Accept]")[0])
    found = await balances(card_env)
    assert found["escrow:order:1"] == 12_000 and found["external:card"] == -12_389
    assert "external:card_fees" not in found
    await assert_ledger_invariants(card_env["runtime"].store)


async def test_a_declined_card_tells_the_donor_and_the_order_waits_for_another_try(card_env: dict[str, Any]) -> None:
    chat = card_env["chat"]
    await chat.run(UP_TO_TIP + CHOOSE_CARD)
    stripe = card_env["stripe"]
    intent = stripe.intent_of(await the_link(card_env))
    assert (await post_event(card_env, event("payment_intent.payment_failed", stripe.decline(intent)))).status_code == 200
    await chat.run("""
        donor-1  < The card payment for order #1 did not go through. Try again on the same page [Pay by card] [Pay ₹120] [Cancel]
        donor-1  > [tap Pay by card]
        donor-1  < Order #1 by card: ₹120 + card fee ₹3.89 = ₹123.89. [Cancel]
    """)
    assert stripe.intent_of(await the_link(card_env)) == intent  # the same page: try another card there
    await donor_pays(card_env)
    await chat.run(HELD + AFTER_PAID.partition("    rest-2   > [tap Accept]")[0])
    await assert_reconciled(card_env)


async def test_cancelling_before_settlement_releases_the_hold_and_nothing_is_taken(card_env: dict[str, Any]) -> None:
    chat = card_env["chat"]
    await chat.run(UP_TO_TIP + CHOOSE_CARD)
    intent = await donor_pays(card_env)
    await chat.run(HELD + """
        rest-2   < New order #1 [Accept] [Reject]
        donor-1  > [tap Cancel order]
        donor-1  < Order #1 cancelled. The hold of ₹120 on your card will be released.
        rest-2   < …
    """)
    assert await cards.run_due(card_env["runtime"].store, card_env["runtime"].services.payments) == {"release": 1}
    await chat.run("""
        donor-1  < The hold on your card for order #1 is released: nothing was taken.
    """)
    assert card_env["stripe"].operations == [("cancel", intent, 12_389)]
    assert card_env["stripe"].intents[intent]["status"] == "canceled"
    assert await balances(card_env) == {"external:deposits": -100_000, "donor-1": 100_000}
    await assert_reconciled(card_env)


async def test_a_capture_that_times_out_is_retried_with_the_same_key_and_captured_once(card_env: dict[str, Any]) -> None:
    chat = card_env["chat"]
    await chat.run(UP_TO_TIP + CHOOSE_CARD)
    intent = await donor_pays(card_env)
    await chat.run(HELD + AFTER_PAID)
    stripe = card_env["stripe"]
    stripe.stall["/capture"] = 3.0  # the capture is done at Stripe, but its answer comes after our 1 s timeout
    assert await settle_and_capture(card_env) == {"capture": 1}
    await chat.run(CAPTURED)
    captures = [c for c in stripe.calls if c[1].endswith("/capture")]
    assert len(captures) >= 2 and len({key for _m, _p, key in captures}) == 1  # retried, one idempotency key
    assert stripe.operations == [("capture", intent, 12_389)]  # captured once
    await assert_reconciled(card_env)


async def test_a_failed_delivery_captures_only_what_was_paid_out(card_env: dict[str, Any]) -> None:
    from tests.test_failed_delivery import NOT_FOUND

    chat = card_env["chat"]
    await chat.run(UP_TO_TIP + CHOOSE_CARD)
    intent = await donor_pays(card_env)
    await chat.run(HELD + AFTER_PAID.partition("    worker-1 > [tap Delivered]")[0] + NOT_FOUND.replace("₹24 at", "₹24 at"))
    assert await settle_and_capture(card_env) == {"capture": 1}
    # The ₹10 tip went back to the hold, so Stripe takes ₹113.89 and lets ₹10 go.
    assert card_env["stripe"].operations == [("capture", intent, 11_389)]
    await chat.run("""
        rest-2   < Order #1: ₹80 is now credited to you.
        worker-1 < Job #1: ₹24 is now in your earnings.
        donor-1  < Order #1 is settled: ₹113.89 was taken from your card.
    """)
    found = await balances(card_env)
    # Stripe's fee on ₹113.89 is ₹3.60 (it reported it); the ₹0.29 estimated too much goes to fund:infra.
    assert found["external:card_fees"] == 360 and found["fund:infra"] == 300 + 29
    await assert_reconciled(card_env)


async def test_an_old_hold_on_an_unsettled_order_is_flagged_to_the_admins_once(card_env: dict[str, Any]) -> None:
    chat = card_env["chat"]
    await chat.run(UP_TO_TIP + CHOOSE_CARD)
    await donor_pays(card_env)
    await chat.run(HELD + AFTER_PAID.partition("    rest-2   > [tap Accept]")[0])
    store = card_env["runtime"].store
    card_env["clock"].advance(hours=143)
    assert await cards.flag_old_holds(store) == 0
    card_env["clock"].advance(hours=1)
    assert await cards.flag_old_holds(store) == 1
    assert await cards.flag_old_holds(store) == 0
    await chat.run("""
        admin    < The card hold of ₹123.89 for order #1 is not captured yet and will soon expire at the bank.
    """)


async def test_in_tamil_a_donor_pays_by_card_and_is_told_each_step_in_tamil(card_env: dict[str, Any]) -> None:
    from tests.test_tamil_transcript import MEAL_BY_PAYLOAD, USERS, latin_left

    runtime, chat = card_env["runtime"], card_env["chat"]
    async with runtime.store.uow() as uow:
        for address in USERS:
            await uow.people.set_language((await uow.people.find("webchat", address)).id, "ta")
    before, _pay, rest = MEAL_BY_PAYLOAD.partition("    donor-1  < சாப்பாடு ₹55 + டெலிவரி")
    after_paid = "    rest-1   < புதிய ஆர்டர் #1" + rest.partition("    rest-1   < புதிய ஆர்டர் #1")[2].partition("    worker-1 > /balance")[0]
    # Lemon rice ₹55 + delivery ₹30, no tip: ₹85; the card fee grossed up is ₹2.85.
    await chat.run(before + """
        donor-1  < சாப்பாடு ₹55 + டெலிவரி ₹30 + டிப்ஸ் ₹0 = ₹85 [₹85 செலுத்து] [கார்டில் செலுத்து] [ரத்து செய்]
        donor-1  > [press card:]
        donor-1  < ஆர்டர் #1 கார்டில்: ₹85 + கார்டு கட்டணம் ₹2.85 = ₹87.85. [ரத்து செய்]
    """)
    intent = await donor_pays_in(card_env, "இங்கே செலுத்துங்கள்: ")
    await chat.run("""
        donor-1  < உங்கள் கார்டில் ₹87.85 நிறுத்திவைக்கப்பட்டுள்ளது; டெலிவரிக்குப் பிறகுதான் எடுக்கப்படும். [ஆர்டரை ரத்து செய்]
    """ + after_paid)
    assert await settle_and_capture(card_env) == {"capture": 1}
    await chat.run("""
        rest-1   < ஆர்டர் #1: ₹55 இப்போது உங்களுக்கு வரவு வைக்கப்பட்டது.
        worker-1 < வேலை #1: ₹24 இப்போது உங்கள் வருமானத்தில் சேர்ந்தது.
        donor-1  < ஆர்டர் #1 முடிந்தது: உங்கள் கார்டிலிருந்து ₹87.85 எடுக்கப்பட்டது. நன்றி!
    """)
    assert card_env["stripe"].operations == [("capture", intent, 8_785)]
    for user in USERS:
        for message in (await chat.fetch(user)).seen:
            text = message["text"].replace(card_env["stripe"].base_url, " ")  # the payment link is a link
            for shown in [text, *(b["label"] for b in message["buttons"])]:
                assert not latin_left(re.sub(r"/pay/cs_test_\w+", " ", shown)), f"{user} got English: {shown!r}"
    await assert_reconciled(card_env)


async def donor_pays_in(env: dict[str, Any], marker: str) -> str:
    """The donor completes the page whose link follows `marker` in their last message; return the intent."""
    box = await env["chat"].fetch("donor-1")
    text = next(m["text"] for m in reversed(box.seen) if marker in m["text"])
    intent = env["stripe"].intent_of(text.rsplit(marker, 1)[1].split()[0])
    response = await post_event(env, event("payment_intent.amount_capturable_updated", env["stripe"].pay(intent)))
    assert response.status_code == 200, response.text
    return intent


async def test_money_back_after_the_capture_goes_through_a_stripe_refund(card_env: dict[str, Any]) -> None:
    from dataclasses import replace

    from core.orders import disputes
    from core.orders.dispute_model import Reason, Resolution

    chat, store = card_env["chat"], card_env["runtime"].store
    gateway = card_env["runtime"].services.payments
    await chat.run(UP_TO_TIP + CHOOSE_CARD)
    intent = await donor_pays(card_env)
    await chat.run(HELD + AFTER_PAID)
    # The donor disputes; an admin settles it (captured); on appeal a second admin refunds it all.
    async with store.uow() as uow:
        donor = await uow.people.find("webchat", "donor-1")
        admin = await uow.people.find("webchat", "admin")
        second = await uow.people.get_or_create("test", "second-admin")
        await uow.people.set_flags(second.id, is_admin=True)
        dispute = await disputes.raise_dispute(uow, 1, donor, Reason.NOT_DELIVERED)
    async with store.uow() as uow:
        await disputes.resolve(uow, dispute.id, admin, Resolution.SETTLE, "photo shows the meal")
    assert await cards.run_due(store, gateway) == {"capture": 1}
    async with store.uow() as uow:
        await disputes.appeal(uow, dispute.id, donor)
    async with store.uow() as uow:
        await disputes.decide_appeal(uow, dispute.id, replace(second, is_admin=True), Resolution.REFUND, "not delivered")
    assert await cards.run_due(store, gateway) == {"refund": 1}
    assert await cards.run_due(store, gateway) == {}  # refunded once
    # Stripe took ₹123.89, refunded the ₹120 that came back; its ₹3.89 fee is not returned.
    assert card_env["stripe"].operations == [("capture", intent, 12_389), ("refund", intent, 12_000)]
    found = await balances(card_env)
    assert found["external:card"] == -389 and found["external:card_fees"] == 389
    await assert_reconciled(card_env)


async def test_a_card_authorised_after_the_donor_paid_from_the_balance_is_not_used_and_released(card_env: dict[str, Any]) -> None:
    chat = card_env["chat"]
    await chat.run(UP_TO_TIP + CHOOSE_CARD)
    stripe = card_env["stripe"]
    intent = stripe.intent_of(await the_link(card_env))
    assert (await post_event(card_env, event("payment_intent.payment_failed", stripe.decline(intent)))).status_code == 200
    await chat.run("""
        donor-1  < The card payment for order #1 did not go through. [Pay by card] [Pay ₹120] [Cancel]
        donor-1  > [tap Pay ₹120]
        donor-1  < Paid ₹120. Order #1 for Veg biryani is with Saravana Kitchen. [Cancel order]
        rest-2   < New order #1 [Accept] [Reject]
    """)
    assert await donor_pays(card_env) == intent  # another card on the page went through after all
    await chat.run("""
        donor-1  < Order #1 could not go ahead with this card payment, so nothing will be taken: the hold is released.
    """)
    assert await cards.run_due(card_env["runtime"].store, card_env["runtime"].services.payments) == {"release": 1}
    await chat.run("""
        donor-1  < The hold on your card for order #1 is released: nothing was taken.
    """)
    assert card_env["stripe"].operations == [("cancel", intent, 12_389)]
    found = await balances(card_env)
    assert found["escrow:order:1"] == 12_000 and found["donor-1"] == 88_000 and "external:card" not in found
    await assert_reconciled(card_env)
    assert (await card_env["client"].get("/pay/done")).status_code == 200


async def test_a_rejected_card_order_moves_on_and_only_the_cheaper_meal_is_captured(card_env: dict[str, Any]) -> None:
    chat = card_env["chat"]
    await chat.run(UP_TO_TIP + CHOOSE_CARD)
    intent = await donor_pays(card_env)
    await chat.run(HELD + """
        rest-2   < New order #1 [Accept] [Reject]
        rest-2   > [tap Reject]
        rest-2   < …
        rest-1   < New order #1: Sambar rice (₹70) [Accept] [Reject]
        donor-1  < The first restaurant could not cook order #1, so Annapoorna Mess will make Sambar rice. ₹10 of the difference will not be
        rest-1   > [tap Reject]
        rest-1   < …
        donor-1  < Sorry, no restaurant nearby could cook order #1. Nothing will be taken from your card: the hold of ₹110 will be released.
    """)
    assert await cards.run_due(card_env["runtime"].store, card_env["runtime"].services.payments) == {"release": 1}
    await chat.run("""
        donor-1  < The hold on your card for order #1 is released: nothing was taken.
    """)
    assert card_env["stripe"].operations == [("cancel", intent, 12_389)]
    await assert_reconciled(card_env)


async def test_an_event_stored_before_a_crash_is_applied_at_the_next_start_and_never_by_the_chat(card_env: dict[str, Any]) -> None:
    from bot.card_inbox import signature_digest

    chat, runtime = card_env["chat"], card_env["runtime"]
    await chat.run(UP_TO_TIP + CHOOSE_CARD)
    stripe = card_env["stripe"]
    evt = event("payment_intent.amount_capturable_updated", stripe.pay(stripe.intent_of(await the_link(card_env))))
    # The process stored the event (as the webhook does first) and died before applying it.
    async with runtime.store.uow() as uow:
        await uow.inbox.store("stripe", evt["id"], "stripe", {"kind": "stripe", "event": evt, "signature": signature_digest("x")})
    assert await runtime.processor.recover() == 0  # the chat processor leaves Stripe's events alone
    await chat.drain()
    async with runtime.store.reader() as uow:
        assert (await uow.orders.get(1)).status.value == "screened"  # type: ignore[union-attr]
    assert await runtime.cards.process() == 1  # what start_background does at the next start
    assert await runtime.cards.process() == 0
    await chat.run(HELD + AFTER_PAID.partition("    rest-2   > [tap Accept]")[0])
    # Stripe's own redelivery of it, newly signed, changes nothing more.
    assert (await post_event(card_env, evt)).json()["duplicate"] is True
    await chat.run("")
    assert (await balances(card_env))["escrow:order:1"] == 12_000
    await assert_reconciled(card_env)


async def test_a_hold_stripe_cancels_before_the_capture_is_flagged_to_the_admins(card_env: dict[str, Any]) -> None:
    chat = card_env["chat"]
    await chat.run(UP_TO_TIP + CHOOSE_CARD)
    intent = await donor_pays(card_env)
    await chat.run(HELD + AFTER_PAID.partition("    rest-2   > [tap Accept]")[0])
    cancelled = {**card_env["stripe"].intents[intent], "status": "canceled", "amount_capturable": 0,
                 "cancellation_reason": "automatic"}  # fmt: skip
    assert (await post_event(card_env, event("payment_intent.canceled", cancelled))).status_code == 200
    await chat.run("""
        admin    < Stripe released the card hold of ₹123.89 for order #1 before it was captured. Please look at the order.
    """)
    assert (await balances(card_env))["escrow:order:1"] == 12_000  # nothing moved by itself: an admin decides
    await assert_ledger_invariants(card_env["runtime"].store)


async def test_a_hold_for_another_amount_or_a_signed_non_event_changes_no_order(card_env: dict[str, Any]) -> None:
    chat = card_env["chat"]
    await chat.run(UP_TO_TIP + CHOOSE_CARD)
    stripe = card_env["stripe"]
    intent = stripe.intent_of(await the_link(card_env))
    for body in (b"[]", b'{"id": 5}', b"not json"):
        headers = {"Stripe-Signature": sign(body), "Content-Type": "application/json"}
        assert (await card_env["client"].post("/webhooks/stripe", content=body, headers=headers)).status_code == 400
    short = {**stripe.pay(intent), "amount_capturable": 100}  # a hold of ₹1 for a ₹123.89 payment
    assert (await post_event(card_env, event("payment_intent.amount_capturable_updated", short))).status_code == 200
    await chat.run("""
        donor-1  < Order #1 could not go ahead with this card payment, so nothing will be taken: the hold is released.
    """)
    assert await cards.run_due(card_env["runtime"].store, card_env["runtime"].services.payments) == {"release": 1}
    await chat.run("""
        donor-1  < The hold on your card for order #1 is released: nothing was taken.
    """)
    async with card_env["runtime"].store.reader() as uow:
        assert (await uow.orders.get(1)).status.value == "screened"  # type: ignore[union-attr]
    assert "external:card" not in await balances(card_env)
    await assert_reconciled(card_env)

"""Campaign gifts by card: a manual-capture PaymentIntent per gift (real stripe SDK against the
local fake, webhooks signed as Stripe signs them), counted when authorised, funding the escrow
from its hold like an order's card payment, captured after settlement or released when the
campaign ends without it; the ledger reconciles with Stripe to the paisa."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from core.campaigns import service as campaigns
from core.ledger.model import DEPOSITS, donor_account, transfer
from core.orders import service as orders
from core.payments import cards
from core.schedule.jobs import expire_campaigns
from tests.channel_chat import RecordingTwilio, User, address_for, channel_app, users_on
from tests.fake_stripe import SECRET_KEY, WEBHOOK_SECRET, FakeStripe, event, signed
from tests.fake_telegram import FakeTelegram
from tests.test_campaign_transcripts import DELIVERY, GIVERS, START, assert_all_tamil
from tests.test_cards import assert_reconciled, balances, card_env, fake_stripe, post_event, settle_and_capture
from tests.test_tamil_transcript import latin_left

__all__ = ["card_env", "fake_stripe"]  # fixtures used here

# ₹50 by card: the fee (2.9 % + ₹0.30, grossed up so that ₹50 is left after it) is ₹1.80.
GIVE_BUTTONS = "[Give, show my name] [Give anonymously] [Card, show my name] [Card, anonymously] [Don't give]"
GIVE_BY_CARD = """
    donor-1  > /give {code} 50
    donor-1  < Give ₹50 to campaign {code} for Veg biryani near 13.08, 80.27? """ + GIVE_BUTTONS + """
    donor-1  > [tap Card, anonymously]
    donor-1  < Gift to campaign {code} by card: ₹50 + card fee ₹1.80 = ₹51.80.
"""

HELD = """
    donor-1  < Your card holds ₹51.80 for campaign {code}; it is charged only after the meal is delivered. ₹50 of ₹120 raised.
"""

# The rest of the meal's way, for the creator (donor-1, who also gave by card) and the kitchen and worker.
TO_DELIVERED = "\n".join(line for line in DELIVERY["en"].splitlines() if "donor-2" not in line and "donor-3" not in line)


async def start_campaign(env: dict[str, Any]) -> str:
    """donor-1 opens the campaign of the campaign transcripts; return its share code."""
    await env["chat"].run(START["en"])
    box = await env["chat"].fetch("donor-1")
    text = next(m["text"] for m in reversed(box.seen) if "/give" in m["text"])
    found = re.search(r"/give ([A-Z0-9]{5})", text)
    assert found is not None
    return found.group(1)


async def gift_link(env: dict[str, Any]) -> str:
    """The Checkout URL of the last card gift link donor-1 was sent."""
    box = await env["chat"].fetch("donor-1")
    text = next(m["text"] for m in reversed(box.seen) if "/pay/cs_" in m["text"])
    found = re.search(r"https?://\S+/pay/cs_\w+", text)
    assert found is not None
    return found.group(0)


async def other_gives(env: dict[str, Any], rupees: int, key: str = "k1") -> campaigns.GiveResult:
    """Another giver (not in the chat cast) gives from a balance topped up for it."""
    async with env["runtime"].store.uow() as uow:
        person = await uow.people.get_or_create("webchat", "giver-2")
        await uow.ledger.record(transfer("deposit", f"seed-giver-{key}", DEPOSITS, donor_account(person.id), rupees * 100))
        found = await uow.campaigns.for_order(1)
        assert found is not None
        return await campaigns.give(uow, found.id, person, rupees * 100, anonymous=False, key=key)


async def test_a_card_gift_counts_funds_the_escrow_from_its_hold_and_is_captured_after_settlement(
    card_env: dict[str, Any],
) -> None:
    chat, stripe = card_env["chat"], card_env["stripe"]
    code = await start_campaign(card_env)
    await chat.run(GIVE_BY_CARD.format(code=code))
    intent = stripe.intent_of(await gift_link(card_env))
    pi = stripe.intents[intent]
    assert (pi["amount"], pi["currency"], pi["capture_method"]) == (5_180, "inr", "manual")
    assert pi["metadata"] == {"order": "1", "payment": "order:1:card:1", "contribution": "campaign", "campaign": code}
    # A double tap is an answered question: no second PaymentIntent.
    await chat.run("""
        donor-1  > [press givecard:1:5000:1]
        donor-1  < That question has already been answered.
    """)
    assert len(stripe.intents) == 1
    assert (await post_event(card_env, event("payment_intent.amount_capturable_updated", stripe.pay(intent)))).status_code == 200
    await chat.run(HELD.format(code=code))
    # The same notification again (Stripe retries with a new event id) is old news: counted once.
    again = await post_event(card_env, event("payment_intent.amount_capturable_updated", stripe.intents[intent]))
    assert again.status_code == 200
    async with card_env["runtime"].store.reader() as uow:
        campaign = await uow.campaigns.by_code(code)
        assert campaign is not None and campaign.raised == 5_000
        gifts = await uow.campaigns.gifts(campaign.id)
        assert [(g.amount, g.anonymous, g.payment_id) for g in gifts] == [(5_000, True, 1)]
    # The card job leaves a counted gift's hold alone while the campaign collects.
    assert await cards.run_due(card_env["runtime"].store, card_env["runtime"].services.payments) == {}
    result = await other_gives(card_env, 70)
    assert result.campaign.status.value == "order_placed"
    await chat.run(f"""
        rest-2   < New order #1: Veg biryani (₹80) for a person near 13.08, 80.27. Can you cook it? [Accept] [Reject]
        donor-1  < Campaign {code} reached its target! Order #1 for Veg biryani is placed
    """ + TO_DELIVERED.replace("{code}", code))
    async with card_env["runtime"].store.reader() as uow:
        sources = [(c.source.value, c.account, c.amount) for c in await uow.contributions.for_order(1)]
    assert sources == [("card", "card:1", 5_000), ("campaign", "campaign:1", 7_000)]  # each gift its own contribution
    assert stripe.operations == []
    assert await settle_and_capture(card_env) == {"capture": 1}
    assert stripe.operations == [("capture", intent, 5_180)]
    await chat.run(f"""
        rest-2   < Order #1: ₹80 is now credited to you.
        worker-1 < Job #1: ₹34 is now in your earnings.
        donor-1  < The meal of campaign {code} is settled: ₹51.80 was taken from your card. Thank you!
    """)
    found = await balances(card_env)
    assert found["external:card"] == -5_180 and found["external:card_fees"] == 180
    assert found["rest-2"] == 8_000 and found["worker-1"] == 3_400
    await assert_reconciled(card_env)


async def test_a_card_gift_is_released_when_the_campaign_expires_and_a_late_hold_is_released_with_the_giver_told(
    card_env: dict[str, Any],
) -> None:
    chat, stripe = card_env["chat"], card_env["stripe"]
    code = await start_campaign(card_env)
    await chat.run(GIVE_BY_CARD.format(code=code))
    first = stripe.intent_of(await gift_link(card_env))
    await post_event(card_env, event("payment_intent.amount_capturable_updated", stripe.pay(first)))
    await chat.run(HELD.format(code=code))
    # A second card page is opened, then the campaign runs out of time before it is paid.
    await chat.run(GIVE_BY_CARD.replace("[tap Card, anonymously]", "[tap Card, show my name]").format(code=code))
    second = stripe.intent_of(await gift_link(card_env))
    assert second != first
    card_env["clock"].advance(minutes=121)
    assert await expire_campaigns(card_env["runtime"].store, card_env["runtime"].services.board) == 1
    await chat.run(f"""
        donor-1  < Campaign {code} did not reach its target in time (₹50 of ₹120), so it has ended.
    """)
    # The hold that arrives now is not counted: released, and the giver told.
    await post_event(card_env, event("payment_intent.amount_capturable_updated", stripe.pay(second)))
    await chat.run(f"""
        donor-1  < Your card gift to campaign {code} could not be counted (the campaign closed or needs less now)
    """)
    assert await cards.run_due(card_env["runtime"].store, card_env["runtime"].services.payments) == {"release": 2}
    assert sorted(stripe.operations) == sorted([("cancel", first, 5_180), ("cancel", second, 5_180)])
    await chat.run(f"""
        donor-1  < The hold on your card for campaign {code} is released: nothing was taken.
        donor-1  < The hold on your card for campaign {code} is released: nothing was taken.
    """)
    found = await balances(card_env)
    assert "external:card" not in found and "card:1" not in found and "card:2" not in found
    await assert_reconciled(card_env)


async def test_hostile_card_gifts_get_polite_answers_and_nothing_is_made(card_env: dict[str, Any]) -> None:
    chat, stripe = card_env["chat"], card_env["stripe"]
    code = await start_campaign(card_env)
    await chat.run(f"""
        donor-1  > /give {code} 0
        donor-1  < Please write the amount in rupees, for example: /give {code} 50
        donor-1  > /give {code} 5
        donor-1  < The least you can give is ₹10.
        donor-1  > /give {code} 10000000000
        donor-1  < Campaign {code} needs only ₹120 more. Please give at most that.
    """)
    # Asked for directly (a forged button), 0 and 10^12 paise are refused before Stripe is called.
    for paise in (0, 10**12, -100):
        async with card_env["runtime"].store.uow() as uow:
            donor = await uow.people.find("webchat", "donor-1")
            with pytest.raises(cards.CardError):
                await cards.start_gift(uow, card_env["runtime"].services.payments, 1, donor, paise, anonymous=False)
    assert stripe.intents == {}
    # The campaign's page says the card may be used (Stripe is configured here), in each language.
    page = await card_env["client"].get(f"/c/{code}")
    assert "You can give from your balance or by card" in page.text
    assert "கார்டிலோ கொடுக்கலாம்" in (await card_env["client"].get(f"/c/{code}?lang=ta")).text
    # A forged notification for a gift is refused before anything is stored.
    forged = event("payment_intent.amount_capturable_updated", {"id": "pi_x", "object": "payment_intent", "amount": 12_000,
                                                                "amount_capturable": 12_000, "metadata": {"payment": "order:1:card:1"}})
    response = await post_event(card_env, forged, headers={"Stripe-Signature": "t=1,v1=00", "Content-Type": "application/json"})
    assert response.status_code == 400
    async with card_env["runtime"].store.reader() as uow:
        campaign = await uow.campaigns.by_code(code)
        assert campaign is not None and campaign.raised == 0
    await assert_reconciled(card_env)


async def test_in_tamil_a_card_giver_hears_each_step_in_tamil(card_env: dict[str, Any]) -> None:
    chat, stripe = card_env["chat"], card_env["stripe"]
    async with card_env["runtime"].store.uow() as uow:
        donor = await uow.people.find("webchat", "donor-1")
        await uow.people.set_language(donor.id, "ta")
    await chat.run(START["ta"])
    box = await chat.fetch("donor-1")
    found = re.search(r"/give ([A-Z0-9]{5})", next(m["text"] for m in reversed(box.seen) if "/give" in m["text"]))
    assert found is not None
    code = found.group(1)
    await chat.run(f"""
        donor-1  > கொடு {code} 50
        donor-1  < கூட்டுநிதி {code}-க்கு ₹50 கொடுக்கவா? [கொடு, என் பெயருடன்] [பெயரின்றி கொடு] [கார்டில், பெயருடன்] [கார்டில், பெயரின்றி]
        donor-1  > [tap கார்டில், பெயருடன்]
        donor-1  < கூட்டுநிதி {code}-க்குக் கார்டில் கொடை: ₹50 + கார்டு கட்டணம் ₹1.80 = ₹51.80.
    """)
    intent = stripe.intent_of(await gift_link(card_env))
    await post_event(card_env, event("payment_intent.amount_capturable_updated", stripe.pay(intent)))
    await chat.run(f"""
        donor-1  < கூட்டுநிதி {code}-க்காக உங்கள் கார்டில் ₹51.80 நிறுத்திவைக்கப்பட்டுள்ளது; சாப்பாடு கொடுத்த பிறகுதான்
    """)
    card_env["clock"].advance(minutes=121)
    assert await expire_campaigns(card_env["runtime"].store, card_env["runtime"].services.board) == 1
    assert await cards.run_due(card_env["runtime"].store, card_env["runtime"].services.payments) == {"release": 1}
    await chat.run(f"""
        donor-1  < கூட்டுநிதி {code}
        donor-1  < கூட்டுநிதி {code}-க்காக உங்கள் கார்டில் நிறுத்திவைத்த தொகை விடுவிக்கப்பட்டது: எதுவும் எடுக்கப்படவில்லை.
    """)
    box = await chat.fetch("donor-1")
    gift_lines = [m["text"] for m in box.seen if "கார்டு" in m["text"] or "கார்டில்" in m["text"]]
    assert len(gift_lines) >= 3
    assert all(latin_left(t.replace(code, "")) == [] for t in gift_lines if "http" not in t), gift_lines
    await assert_reconciled(card_env)


@pytest.mark.parametrize("language", ["en", "ta"])
async def test_givers_on_sms_and_telegram_give_by_card_in_their_language(
    tmp_path: Path, app_db: Path, fake_stripe: FakeStripe, language: str
) -> None:
    users = users_on("webchat") | {n: User(n, ch, address_for(n, ch)) for n, (ch, _name) in GIVERS.items()}
    settings = {"stripe_secret_key": SECRET_KEY, "stripe_webhook_secret": WEBHOOK_SECRET, "stripe_api_base": fake_stripe.base_url}
    twilio = RecordingTwilio().start()
    try:
        with FakeTelegram() as telegram:
            async with channel_app(app_db, tmp_path / "var", users, telegram=telegram, twilio=twilio, settings=settings) as env:
                async with env["runtime"].store.uow() as uow:
                    for n, (ch, name) in (("donor-1", ("webchat", "")), *GIVERS.items()):
                        person = await uow.people.get_or_create(ch, users[n].address)
                        if name:
                            await uow.people.set_name(person.id, name)
                        await uow.people.set_language(person.id, language)
                await env["chat"].run(START[language])
                async with env["runtime"].store.reader() as uow:
                    campaign = await uow.campaigns.get(1)
                assert campaign is not None
                code, card = campaign.code, "Card, anonymously" if language == "en" else "கார்டில், பெயரின்றி"
                give = "give" if language == "en" else "கொடு"
                await env["chat"].run(f"""
                    donor-2  > {give} {code} 30
                    donor-2  < {code}
                    donor-2  > 3
                    donor-2  < {code}
                    donor-3  > {give} {code} 40
                    donor-3  < {code}
                    donor-3  > [tap {card}]
                    donor-3  < {code}
                """)
                assert len(fake_stripe.intents) == 2
                for intent in list(fake_stripe.intents):
                    signed_body, headers = signed(event("payment_intent.amount_capturable_updated", fake_stripe.pay(intent)))
                    response = await env["client"].post("/webhooks/stripe", content=signed_body, headers=headers)
                    assert response.status_code == 200
                await env["chat"].settle()  # deliver what the card events said, on each channel
                held = "Your card holds" if language == "en" else "நிறுத்திவை"
                await env["chat"].run(f"""
                    donor-2  < {held}
                    donor-1  < {code}
                    donor-3  < {held}
                    donor-1  < {code}
                """)  # donor-2 on SMS hears of donor-3's gift in the next batched summary, not at once
                async with env["runtime"].store.reader() as uow:
                    assert (await uow.campaigns.get(1)).raised == 7_000  # type: ignore[union-attr]
                if language == "ta":
                    await assert_all_tamil(env, code)
    finally:
        twilio.stop()


async def test_a_card_gift_is_released_when_no_restaurant_takes_the_placed_order(card_env: dict[str, Any]) -> None:
    chat, stripe, store = card_env["chat"], card_env["stripe"], card_env["runtime"].store
    code = await start_campaign(card_env)
    await chat.run(GIVE_BY_CARD.format(code=code))
    intent = stripe.intent_of(await gift_link(card_env))
    await post_event(card_env, event("payment_intent.amount_capturable_updated", stripe.pay(intent)))
    await chat.run(HELD.format(code=code))
    await other_gives(card_env, 70)
    # Every restaurant says no: the order is declined and each gift goes back to its source.
    for _ in range(5):
        async with store.uow() as uow:
            order = await uow.orders.get(1)
            assert order is not None
            if order.status.value != "at_restaurant":
                break
            restaurant = await uow.restaurants.get(order.restaurant_id or 0)
            assert restaurant is not None
            await orders.reject(uow, 1, restaurant, "no rice left")
    async with store.reader() as uow:
        assert (await uow.orders.get(1)).status.value == "declined"  # type: ignore[union-attr]
        giver = await uow.people.find("webchat", "giver-2")
        assert await uow.ledger.balance(donor_account(giver.id)) == 7_000  # the balance gift came back
    assert await cards.run_due(store, card_env["runtime"].services.payments) == {"release": 1}
    assert stripe.operations == [("cancel", intent, 5_180)]
    found = await balances(card_env)
    assert "external:card" not in found and "card:1" not in found and "escrow:order:1" not in found
    await assert_reconciled(card_env)


async def test_two_card_pages_racing_for_the_last_rupees_never_overfill_the_campaign(card_env: dict[str, Any]) -> None:
    chat, stripe, store = card_env["chat"], card_env["stripe"], card_env["runtime"].store
    code = await start_campaign(card_env)
    for label in ("Card, show my name", "Card, anonymously"):  # two pages of ₹70 each, for ₹120 needed
        await chat.run(f"""
            donor-1  > /give {code} 70
            donor-1  < Give ₹70 to campaign {code}
            donor-1  > [tap {label}]
            donor-1  < Gift to campaign {code} by card: ₹70 + card fee ₹2.40 = ₹72.40.
        """)
    first, second = list(stripe.intents)
    for intent in (first, second):
        await post_event(card_env, event("payment_intent.amount_capturable_updated", stripe.pay(intent)))
    await chat.run(f"""
        donor-1  < Your card holds ₹72.40 for campaign {code}; it is charged only after the meal is delivered. ₹70 of ₹120 raised.
        donor-1  < Your card gift to campaign {code} could not be counted (the campaign closed or needs less now)
    """)
    async with store.reader() as uow:
        campaign = await uow.campaigns.by_code(code)
        assert campaign is not None and campaign.raised == 7_000 and campaign.status.value == "funding"
    assert await cards.run_due(store, card_env["runtime"].services.payments) == {"release": 1}
    assert stripe.operations == [("cancel", second, 7_240)]
    await chat.run(f"""
        donor-1  < The hold on your card for campaign {code} is released: nothing was taken.
    """)
    await assert_reconciled(card_env)

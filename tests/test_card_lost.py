"""A hold Stripe cancels after authorisation, before the capture: the card's money leaves the
escrow and the guarantee pool stands in; before the restaurant accepts, the donor may pay from
the balance instead (the pool is repaid) or cancel (everyone refunded exactly); later the meal
goes ahead on the pool and the admins are told; a card gift to a campaign still collecting no
longer counts. Checked against the fake Stripe's amounts to the paisa."""

from __future__ import annotations

from typing import Any

from core.ledger.model import DEPOSITS, POOL, transfer
from core.payments import cards
from core.schedule.jobs import expire_campaigns
from tests.fake_stripe import event
from tests.test_card_gifts import GIVE_BY_CARD, gift_link, start_campaign
from tests.test_card_gifts import HELD as GIFT_HELD
from tests.test_cards import (
    AFTER_PAID,
    CHOOSE_CARD,
    HELD,
    UP_TO_TIP,
    assert_reconciled,
    balances,
    card_env,
    donor_pays,
    fake_stripe,
    post_event,
    settle_and_capture,
)

__all__ = ["card_env", "fake_stripe"]  # fixtures used here

BEFORE_ACCEPT = AFTER_PAID.partition("    rest-2   > [tap Accept]")[0]
ACCEPT = "    rest-2   > [tap Accept]" + AFTER_PAID.partition("    rest-2   > [tap Accept]")[2]


async def fill_pool(env: dict[str, Any], paise: int) -> None:
    """Money in the guarantee pool, as settlements' shares would have put there."""
    async with env["runtime"].store.uow() as uow:
        await uow.ledger.record(transfer("deposit", "seed-pool", DEPOSITS, POOL, paise))


async def stripe_drops(env: dict[str, Any], intent: str) -> None:
    """Stripe cancels the hold and tells us."""
    response = await post_event(env, event("payment_intent.canceled", env["stripe"].drop_hold(intent)))
    assert response.status_code == 200, response.text


ASK = """
    donor-1  < so nothing will be taken from it. The cooperative's guarantee pool covers ₹120 for now [Pay ₹120] [Cancel order]
"""


async def test_before_the_restaurant_accepts_the_donor_pays_from_the_balance_instead_and_the_pool_is_repaid(
    card_env: dict[str, Any],
) -> None:
    chat = card_env["chat"]
    await fill_pool(card_env, 50_000)
    await chat.run(UP_TO_TIP + CHOOSE_CARD)
    intent = await donor_pays(card_env)
    await chat.run(HELD + BEFORE_ACCEPT)
    await stripe_drops(card_env, intent)
    await chat.run(ASK + """
        admin    < Stripe cancelled the card hold for order #1 after it was authorised; the guarantee pool covered ₹120.
    """)
    found = await balances(card_env)
    assert found["escrow:order:1"] == 12_000 and found[POOL] == 50_000 - 12_000 and "external:card" not in found
    # The same cancellation again (Stripe retries) changes nothing more.
    await stripe_drops(card_env, intent)
    assert (await balances(card_env))[POOL] == 38_000
    await chat.run("""
        donor-1  > [tap Pay ₹120]
        donor-1  < Thank you: you paid ₹120 for order #1 from your balance, and the guarantee pool is repaid.
        donor-1  > [press poolpay:1]
        donor-1  < That question has already been answered.
    """)
    await chat.run(ACCEPT)
    assert await settle_and_capture(card_env) == {}  # nothing left to capture: the card gave nothing
    found = await balances(card_env)
    assert found["donor-1"] == 100_000 - 12_000 and found[POOL] == 50_000 + 300
    assert found["rest-2"] == 8_000 and found["worker-1"] == 3_400
    assert card_env["stripe"].operations == []
    await assert_reconciled(card_env)


async def test_before_the_restaurant_accepts_the_donor_may_cancel_and_the_pool_gets_its_cover_back(card_env: dict[str, Any]) -> None:
    chat = card_env["chat"]
    await fill_pool(card_env, 50_000)
    await chat.run(UP_TO_TIP + CHOOSE_CARD)
    intent = await donor_pays(card_env)
    await chat.run(HELD + BEFORE_ACCEPT)
    await stripe_drops(card_env, intent)
    await chat.run(ASK + """
        admin    < Stripe cancelled the card hold
        donor-1  > [tap Cancel order]
        donor-1  < Order #1 cancelled.
        rest-2   < …
    """)
    assert await cards.run_due(card_env["runtime"].store, card_env["runtime"].services.payments) == {}
    assert await balances(card_env) == {"external:deposits": -150_000, "donor-1": 100_000, POOL: 50_000}
    assert card_env["stripe"].operations == []
    await assert_reconciled(card_env)


async def test_once_the_meal_is_cooking_the_pool_pays_for_it_and_the_admins_are_told(card_env: dict[str, Any]) -> None:
    chat = card_env["chat"]
    await fill_pool(card_env, 50_000)
    await chat.run(UP_TO_TIP + CHOOSE_CARD)
    intent = await donor_pays(card_env)
    await chat.run(HELD + BEFORE_ACCEPT + ACCEPT.partition("    worker-1 > [tap Claim]")[0])
    await stripe_drops(card_env, intent)
    await chat.run("""
        donor-1  < Your bank cancelled the hold on your card for order #1, so nothing will be taken from it. The meal goes ahead
        admin    < Stripe cancelled the card hold for order #1 after it was authorised; the guarantee pool covered ₹120.
    """ + "    worker-1 > [tap Claim]" + ACCEPT.partition("    worker-1 > [tap Claim]")[2])
    assert await settle_and_capture(card_env) == {}
    found = await balances(card_env)
    assert found[POOL] == 50_000 - 12_000 + 300 and found["rest-2"] == 8_000 and found["donor-1"] == 100_000
    assert "external:card" not in found and card_env["stripe"].operations == []
    await assert_reconciled(card_env)


async def test_a_card_gift_whose_hold_stripe_cancels_no_longer_counts_toward_the_campaign(card_env: dict[str, Any]) -> None:
    chat, stripe = card_env["chat"], card_env["stripe"]
    code = await start_campaign(card_env)
    await chat.run(GIVE_BY_CARD.format(code=code))
    intent = stripe.intent_of(await gift_link(card_env))
    await post_event(card_env, event("payment_intent.amount_capturable_updated", stripe.pay(intent)))
    await chat.run(GIFT_HELD.format(code=code))
    await stripe_drops(card_env, intent)
    await chat.run(f"""
        donor-1  < Your bank cancelled the hold on your card for campaign {code}, so your gift no longer counts and nothing will be taken.
    """)
    async with card_env["runtime"].store.reader() as uow:
        campaign = await uow.campaigns.by_code(code)
        assert campaign is not None and campaign.raised == 0
    card_env["clock"].advance(minutes=121)
    assert await expire_campaigns(card_env["runtime"].store, card_env["runtime"].services.board) == 1
    await chat.run(f"""
        donor-1  < Campaign {code} did not reach its target in time (₹0 of ₹120), so it has ended.
    """)
    assert await cards.run_due(card_env["runtime"].store, card_env["runtime"].services.payments) == {}
    assert "external:card" not in await balances(card_env)
    await assert_reconciled(card_env)

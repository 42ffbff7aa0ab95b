"""The stale-draft job and the card page: an order whose donor is on the card page is not stale
until that page expires (Stripe's Checkout Session carries the same expiry), and a hold that
arrives for an order cancelled meanwhile is released and the donor told politely."""

from __future__ import annotations

from typing import Any

from core.payments import cards
from core.schedule.jobs import cancel_stale_drafts
from tests.fake_stripe import event
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
    the_link,
)

__all__ = ["card_env", "fake_stripe"]  # fixtures used here


async def stale_job(env: dict[str, Any]) -> int:
    """What the scheduler's stale-draft job does now."""
    return await cancel_stale_drafts(env["runtime"].store, env["runtime"].services.board)


async def test_an_order_whose_donor_is_on_the_card_page_is_not_stale_until_the_page_expires(card_env: dict[str, Any]) -> None:
    chat, stripe = card_env["chat"], card_env["stripe"]
    price, _tap, page = CHOOSE_CARD.strip("\n").splitlines()
    await chat.run(UP_TO_TIP + price)
    card_env["clock"].advance(minutes=25)  # the donor thinks it over, then opens the card page
    await chat.run(_tap + "\n" + page)
    session = next(iter(stripe.sessions.values()))
    assert session["expires_at"] > 0  # the page has an expiry Stripe accepts (30 minutes to 24 hours ahead)
    card_env["clock"].advance(minutes=20)  # 45 minutes after the request, 20 on the card page
    assert await stale_job(card_env) == 0
    await donor_pays(card_env)
    await chat.run(HELD + AFTER_PAID.partition("    rest-2   > [tap Accept]")[0])
    assert await stale_job(card_env) == 0  # paid: never stale
    await assert_reconciled(card_env)


async def test_a_hold_arriving_for_an_order_cancelled_as_stale_is_released_and_the_donor_told(card_env: dict[str, Any]) -> None:
    chat, stripe = card_env["chat"], card_env["stripe"]
    await chat.run(UP_TO_TIP + CHOOSE_CARD)
    intent = stripe.intent_of(await the_link(card_env))
    card_env["clock"].advance(minutes=30)
    assert await stale_job(card_env) == 0  # the page is still open for a minute
    card_env["clock"].advance(minutes=2)
    assert await stale_job(card_env) == 1  # page expired, request unpaid: cancelled
    # The bank's answer comes late all the same: the hold is not used, released, and the donor told.
    assert (await post_event(card_env, event("payment_intent.amount_capturable_updated", stripe.pay(intent)))).status_code == 200
    await chat.run("""
        donor-1  < Order #1 was cancelled before your card payment arrived, so nothing will be taken: the hold on your card is released.
    """)
    assert await cards.run_due(card_env["runtime"].store, card_env["runtime"].services.payments) == {"release": 1}
    await chat.run("""
        donor-1  < The hold on your card for order #1 is released: nothing was taken.
    """)
    assert stripe.operations == [("cancel", intent, 12_389)]
    assert await balances(card_env) == {"external:deposits": -100_000, "donor-1": 100_000}
    await assert_reconciled(card_env)

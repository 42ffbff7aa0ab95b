"""An appeal that turns a refund back into a settlement after the card hold was released: the
card cannot be charged any more (the hold is gone), so the guarantee pool covers what the card
had put in (DESIGN.md: the cooperative's guarantee stands behind its own decisions), the donor is
told that nothing is taken from their card, and the ledger still reconciles with Stripe."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from core.ledger.model import POOL
from core.orders import disputes
from core.orders.dispute_model import DisputeError, Reason, Resolution
from core.payments import cards
from tests.test_card_lost import fill_pool
from tests.test_cards import AFTER_PAID, CHOOSE_CARD, HELD, UP_TO_TIP, assert_reconciled, balances, card_env, donor_pays, fake_stripe

__all__ = ["card_env", "fake_stripe"]  # fixtures used here


async def refunded_released_appealed(env: dict[str, Any]) -> tuple[Any, Any, str]:
    """A card-paid meal delivered, disputed and refunded (the hold released), then appealed by the
    restaurant; return the dispute, a second admin, and the intent."""
    chat, store = env["chat"], env["runtime"].store
    await chat.run(UP_TO_TIP + CHOOSE_CARD)
    intent = await donor_pays(env)
    await chat.run(HELD + AFTER_PAID)
    async with store.uow() as uow:
        donor = await uow.people.find("webchat", "donor-1")
        admin = await uow.people.find("webchat", "admin")
        second = await uow.people.get_or_create("test", "second-admin")
        await uow.people.set_flags(second.id, is_admin=True)
        dispute = await disputes.raise_dispute(uow, 1, donor, Reason.NOT_DELIVERED)
    async with store.uow() as uow:
        await disputes.resolve(uow, dispute.id, admin, Resolution.REFUND, "no photo of the person")
    assert await cards.run_due(store, env["runtime"].services.payments) == {"release": 1}
    async with store.uow() as uow:
        owner = await uow.people.find("webchat", "rest-2")
        await disputes.appeal(uow, dispute.id, owner)
    return dispute, replace(second, is_admin=True), intent


async def test_an_appeal_that_settles_after_the_hold_was_released_is_covered_by_the_pool_and_the_donor_told(
    card_env: dict[str, Any],
) -> None:
    store = card_env["runtime"].store
    await fill_pool(card_env, 50_000)
    dispute, second, intent = await refunded_released_appealed(card_env)
    async with store.uow() as uow:
        await disputes.decide_appeal(uow, dispute.id, second, Resolution.SETTLE, "the photo shows the meal")
    assert await cards.run_due(store, card_env["runtime"].services.payments) == {}  # nothing to capture: the hold is gone
    assert card_env["stripe"].operations == [("cancel", intent, 12_389)]
    await card_env["chat"].run("""
        donor-1  < The hold on your card for order #1 is released: nothing was taken.
        donor-1  < The hold on your card for order #1 was already released, so nothing will be taken from your card
    """)
    found = await balances(card_env)
    assert found["rest-2"] == 8_000 and found["worker-1"] == 3_400
    assert found[POOL] == 50_000 - 12_000 + 300 and found["donor-1"] == 100_000
    await assert_reconciled(card_env)


async def test_when_the_pool_cannot_cover_it_the_appeal_stays_open_and_nothing_moves(card_env: dict[str, Any]) -> None:
    store = card_env["runtime"].store
    dispute, second, _intent = await refunded_released_appealed(card_env)
    before = await balances(card_env)
    async with store.uow() as uow:
        try:
            await disputes.decide_appeal(uow, dispute.id, second, Resolution.SETTLE, "the photo shows the meal")
        except DisputeError as exc:
            assert exc.code == "pool_short"
        else:
            raise AssertionError("an empty pool cannot cover the released card hold")
    assert await balances(card_env) == before
    await assert_reconciled(card_env)

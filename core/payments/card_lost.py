"""A hold the provider cancelled after authorisation (Stripe let it expire, or the bank withdrew
it) before we captured: the ledger follows the provider, and the guarantee pool stands in.

Why the pool: the restaurant and the worker were promised their pay when the order was funded,
and the cooperative's guarantee stands behind its promises (as it does for a dispute decision
whose money was already spent). The donor did nothing wrong either, so nobody is charged
without asking: before the restaurant accepts, the donor is asked to pay the amount from their
balance instead (which repays the pool) or to cancel (everyone, the pool included, refunded
exactly); later the meal goes ahead on the pool, and the admins are told.

    withdrawn   escrow:order:<o> −held          card:<p> +held          (card_withdraw)
    covered     pool:guarantee −held            escrow:order:<o> +held  (a contribution, source pool)
    released    card:<p> −(all)                 external:card +(charge), fund:infra +(reserve − fee)
    (settled, not yet captured: the pool puts what was spent back into card:<p> first)

If the pool cannot cover it, nothing moves and the admins are told, as before."""

from __future__ import annotations

from dataclasses import replace

from core.campaigns.lifecycle import OPEN as CAMPAIGN_OPEN
from core.campaigns.service import card_gift_key
from core.ledger.model import INFRA, POOL, Posting, Transaction, donor_account, escrow_account, transfer
from core.members.model import Person
from core.orders import funding
from core.orders.lifecycle import TERMINAL, Status
from core.payments.card_model import CARD, CardPayment, CardStatus, hold_account
from core.ports import UnitOfWork
from core.shared.events import CardPaymentChanged

BEFORE_ACCEPT = (Status.FUNDED, Status.AT_RESTAURANT)  # the donor can still choose to pay otherwise or cancel


class CoverError(Exception):
    """Paying instead of the pool is not possible; `code` names why."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _event(p: CardPayment, state: str, amount: int, event_id: str, reason: str) -> CardPaymentChanged:
    return CardPaymentChanged(actor="stripe", payment_id=p.id, order_id=p.order_id, intent=p.intent, state=state,
                              amount=amount, fee=0, event_id=event_id, reason=reason)  # fmt: skip


async def hold_cancelled(uow: UnitOfWork, payment: CardPayment, event_id: str) -> tuple[CardPayment, str]:
    """Follow a provider's cancellation of an authorised, uncaptured hold; return the payment as
    saved and what was done: "covered" (the pool stands in), "withdrawn" (a gift no longer
    counts), "released" (an unused hold), or "short" (the pool could not: nothing moved)."""
    hold = hold_account(payment.id)
    order = await uow.orders.get(payment.order_id, lock=True)
    mine = [c for c in await uow.contributions.for_order(payment.order_id) if c.account == hold]
    outcome, covered, reason = "released", 0, "provider_cancelled"
    if mine and order is not None and order.status not in TERMINAL:
        held = sum(c.held for c in mine)
        if held and await uow.ledger.balance(POOL) < held:
            return payment, "short"
        if held:
            await uow.ledger.record(transfer("card_withdraw", f"{payment.ref}:withdraw", escrow_account(order.id), hold, held,
                                             "card hold cancelled by the provider"), "stripe")  # fmt: skip
            for c in mine:
                await uow.contributions.add_refunded(c.id, c.held)
            tip = sum(min(c.tip, c.held) for c in mine)
            await funding.contribute(uow, order.id, payment.person_id, POOL, funding.Source.POOL, held, tip, "stripe")
        outcome, covered = "covered", held
        reason = "ask" if order.status in BEFORE_ACCEPT else "provider_cancelled"
    elif mine:
        spent = sum(c.amount for c in mine) - (await uow.ledger.balance(hold) - payment.reserve)
        if spent > 0 and await uow.ledger.balance(POOL) < spent:
            return payment, "short"
        if spent > 0:  # settled but not yet captured: the pool pays what was spent
            await uow.ledger.record(transfer("card_cover", f"{payment.ref}:cover", POOL, hold, spent,
                                             "card hold cancelled by the provider after settlement"), "stripe")  # fmt: skip
        outcome, covered = "covered", max(spent, 0)
    elif payment.campaign_id is not None:
        outcome = "withdrawn" if await _withdraw_gift(uow, payment) else "released"
    in_hold = await uow.ledger.balance(hold)
    lines = [Posting(hold, -in_hold), Posting(CARD, in_hold - payment.reserve + payment.fee), Posting(INFRA, payment.reserve - payment.fee)]
    await uow.ledger.record(Transaction("card_release", payment.ref, tuple(x for x in lines if x.amount),
                                        "card hold cancelled by the provider"), "stripe")  # fmt: skip
    if not await uow.cards.save(replace(payment, status=CardStatus.RELEASED)):
        raise CoverError("changed_meanwhile")
    payment = replace(payment, status=CardStatus.RELEASED, version=payment.version + 1)
    uow.record(_event(payment, "lost", covered, event_id, reason if outcome == "covered" else outcome))
    return payment, outcome


async def _withdraw_gift(uow: UnitOfWork, payment: CardPayment) -> bool:
    """A counted card gift to a campaign still collecting no longer counts: take it off the total."""
    assert payment.campaign_id is not None
    campaign = await uow.campaigns.get(payment.campaign_id, lock=True)
    gift = await uow.campaigns.gift_by_key(payment.campaign_id, card_gift_key(payment.id))
    if campaign is None or gift is None or campaign.status not in CAMPAIGN_OPEN or gift.held <= 0:
        return False
    version = campaign.version
    await uow.campaigns.add_gift_refunded(gift.id, gift.held)
    campaign.raised -= gift.held
    campaign.version += 1
    await uow.campaigns.save(campaign, version)
    return True


async def pay_instead(uow: UnitOfWork, order_id: int, person: Person) -> int:
    """The donor pays from their balance what the pool covered for their cancelled card hold: the
    pool is repaid from the escrow. Return the paise paid (raises CoverError, InsufficientFunds)."""
    order = await uow.orders.get(order_id, lock=True)
    if order is None or order.status in TERMINAL:
        raise CoverError("ended")
    covers = [c for c in await uow.contributions.for_order(order_id)
              if c.source is funding.Source.POOL and c.person_id == person.id and c.held > 0]  # fmt: skip
    if not covers:
        raise CoverError("nothing")
    paid = 0
    for c in covers:
        held, tip = c.held, min(c.tip, c.held)
        # raises InsufficientFunds before anything moves when the balance is short
        await funding.contribute(uow, order_id, person.id, donor_account(person.id), funding.Source.BALANCE, held, tip,
                                 person.actor)  # fmt: skip
        await uow.ledger.record(transfer("refund", f"order:{order_id}:c{c.seq}:repaid", escrow_account(order_id), POOL, held,
                                         "the donor paid instead of the pool"), person.actor)  # fmt: skip
        await uow.contributions.add_refunded(c.id, held)
        paid += held
    return paid

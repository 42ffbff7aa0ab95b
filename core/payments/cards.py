"""Card payments held until delivery: the link, the hold, capture at settlement, release, refund.

Ledger (all integer paise; `card:<payment id>` is the hold account of one PaymentIntent):

    authorised  external:card −charge            card:<p> +charge       (kind card_hold)
                (cooperative bears the fee: fund:infra −reserve, card:<p> +reserve as well)
    funded      card:<p> −total                  escrow:order:<o> +total (the order's contribution)
    refunds     escrow → card:<p>                (refund_to_sources, like every other source)
    captured    card:<p> −(reserve + R)          external:card +R (what went back, released)
                external:card_fees +fee          fund:infra +(reserve − fee) (kind card_capture)
    released    card:<p> −(reserve + R)          external:card +(R + donor fee), fund:infra +(reserve − donor fee)
    refunded    card:<p> −X                      external:card +X       (kind card_refund, after capture)

So external:card is always minus what the provider holds or has taken for us (capturable +
received − refunded), which `reconcile` checks; what a card gave equals the balances it funded plus
what went out (fees), to the paisa. Provider calls happen outside database transactions, each with
an idempotency key derived from the payment; the ledger entry follows the provider's answer, and a
crash between the two is repaired by the next run (the repeated call returns the same answer)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from core.campaigns import service as campaigns
from core.campaigns.lifecycle import OPEN as CAMPAIGN_OPEN
from core.ledger.model import INFRA, InsufficientFunds, Posting, Transaction
from core.members.model import Person
from core.orders import service as orders
from core.orders.lifecycle import TERMINAL, Status
from core.payments import card_lost
from core.payments.card_model import (
    CARD,
    CARD_FEES,
    OPEN,
    CardPayment,
    CardStatus,
    IntentState,
    gross_up,
    hold_account,
    processor_fee,
)
from core.ports import PaymentGateway, Store, UnitOfWork
from core.shared.events import CardPaymentChanged

log = logging.getLogger(__name__)


class CardError(Exception):
    """A card command that cannot be carried out; `code` names why."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class CardEvent:
    """A verified provider notification, in the domain's words."""

    id: str  # the provider's event id
    kind: str  # authorised | failed | canceled | succeeded
    intent: str
    ref: str  # our reference from the payment's metadata ("order:<o>:card:<n>"), "" if none
    amount: int  # paise: capturable (authorised) or received (succeeded)
    reason: str = ""  # failed: the decline code


def parse_ref(ref: str) -> tuple[int, int] | None:
    """(order id, attempt) from "order:<o>:card:<n>", or None for anything else."""
    parts = ref.split(":")
    if len(parts) != 4 or parts[0] != "order" or parts[2] != "card" or not (parts[1].isdigit() and parts[3].isdigit()):
        return None
    return int(parts[1]), int(parts[3])


def _changed(payment: CardPayment, state: str, amount: int, actor: str, *, fee: int = 0, event_id: str = "",
             reason: str = "") -> CardPaymentChanged:  # fmt: skip
    return CardPaymentChanged(actor=actor, payment_id=payment.id, order_id=payment.order_id, intent=payment.intent,
                              state=state, amount=amount, fee=fee, event_id=event_id, reason=reason)  # fmt: skip


async def _save(uow: UnitOfWork, payment: CardPayment) -> CardPayment:
    if not await uow.cards.save(payment):
        raise CardError("changed_meanwhile")  # the transaction rolls back; the caller's retry sees the new state
    return replace(payment, version=payment.version + 1)


async def start(uow: UnitOfWork, gateway: PaymentGateway, order_id: int, donor: Person, item_id: int, tip: int) -> CardPayment:
    """Make (or reuse) a manual-capture payment for an order's chosen meal and return it with its link.

    The provider call runs inside this transaction on purpose: the donor's reply needs the link,
    and its idempotency key (order and attempt number) makes a retried transaction get the same
    payment back instead of a second one."""
    order = await orders.load(uow, order_id)
    if order.donor_id != donor.id:
        raise CardError("not_yours")
    if order.status is not Status.SCREENED:
        raise CardError("already_paid")
    existing = await uow.cards.for_order(order_id)
    for p in existing:
        if p.status in OPEN and p.campaign_id is None and p.item_id == item_id and p.tip == tip and p.url:
            return p  # a double tap: the same link again
    chosen = next((o for o in await orders.meal_options(uow, order.seeker_lat, order.seeker_lng) if o.item_id == item_id), None)
    if chosen is None:
        raise CardError("meal_unavailable")
    total = chosen.price + (await uow.params.current()).delivery_fee + tip
    fee, reserve = await _fee_and_reserve(uow, total)
    attempt = len(existing) + 1
    payment = await uow.cards.add(CardPayment(0, order_id, donor.id, attempt, item_id, tip, total, fee, reserve,
                                              CardStatus.CREATED))  # fmt: skip
    metadata = {"order": str(order_id), "payment": payment.ref, "contribution": "card", "meal": chosen.item_name}
    checkout = await gateway.checkout(payment.charge, payment.ref, metadata, f"Ketpaar order #{order_id}")
    payment = replace(payment, intent=checkout.intent, url=checkout.url)
    payment = await _save(uow, payment)
    uow.record(_changed(payment, "created", payment.charge, donor.actor, fee=fee))
    return payment


async def _fee_and_reserve(uow: UnitOfWork, total: int) -> tuple[int, int]:
    """The fee the donor pays on top and the estimate held until capture, as for an order."""
    params = await uow.params.current()
    fee, reserve = 0, processor_fee(total, params.card_fee_bp, params.card_fee_fixed)
    if params.card_fee_bearer == 0 or await uow.ledger.balance(INFRA) < reserve:
        # The donor bears the fee (the default), or fund:infra could not: then it is shown as a
        # line before paying, like the default, rather than leaving a fee nobody can pay.
        fee = reserve = gross_up(total, params.card_fee_bp, params.card_fee_fixed)
    return fee, reserve


async def start_gift(uow: UnitOfWork, gateway: PaymentGateway, campaign_id: int, giver: Person, amount: int, *,
                     anonymous: bool) -> CardPayment:  # fmt: skip
    """Make (or reuse) a manual-capture payment for a gift to a campaign and return it with its
    link. Checked as a balance gift is (open, not expired, at least the minimum, at most what is
    still needed); checked again when the hold arrives, since others may give meanwhile."""
    campaign = await uow.campaigns.get(campaign_id, lock=True)
    if campaign is None:
        raise CardError("not_found")
    if campaign.status not in CAMPAIGN_OPEN or campaign.expires_at <= uow.now:
        raise CardError("closed")
    least = min((await uow.params.current()).min_contribution, campaign.remaining)
    if amount > campaign.remaining or amount < least or amount <= 0:
        raise CardError("amount")
    existing = await uow.cards.for_order(campaign.order_id)
    for p in existing:
        if (p.status in OPEN and p.campaign_id == campaign.id and p.person_id == giver.id and p.order_total == amount
                and p.anonymous == anonymous and p.url):  # fmt: skip
            return p  # a double tap: the same link again
    fee, reserve = await _fee_and_reserve(uow, amount)
    attempt = len(existing) + 1
    payment = await uow.cards.add(CardPayment(0, campaign.order_id, giver.id, attempt, campaign.item_id, 0, amount, fee,
                                              reserve, CardStatus.CREATED, campaign_id=campaign.id,
                                              anonymous=anonymous))  # fmt: skip
    metadata = {"order": str(campaign.order_id), "payment": payment.ref, "contribution": "campaign",
                "campaign": campaign.code}  # fmt: skip
    checkout = await gateway.checkout(payment.charge, payment.ref, metadata, f"Ketpaar campaign {campaign.code}")
    payment = await _save(uow, replace(payment, intent=checkout.intent, url=checkout.url))
    uow.record(_changed(payment, "created", payment.charge, giver.actor, fee=fee))
    return payment


async def _find(uow: UnitOfWork, event: CardEvent) -> CardPayment | None:
    # Locked: a capture being recorded for the same payment waits for this event, or this for it.
    found = await uow.cards.by_intent(event.intent, lock=True) if event.intent else None
    if found is None and (key := parse_ref(event.ref)):
        found = await uow.cards.by_attempt(*key, lock=True)
    if found is not None and found.intent and event.intent and found.intent != event.intent:
        return None  # another payment's metadata: refuse rather than guess
    return found


async def apply_event(uow: UnitOfWork, event: CardEvent) -> str:
    """Act on one verified provider event (already stored in the inbox); return what it did.

    Events may come twice or out of order: each is judged against the payment's current state
    (a hold seen after the capture is old news; a capture seen before the hold implies it)."""
    payment = await _find(uow, event)
    if payment is None:
        log.warning("card event %s for an unknown payment (%s, %s): ignored", event.id, event.intent, event.ref)
        return "unknown"
    if not payment.intent and event.intent:
        payment = await _save(uow, replace(payment, intent=event.intent))
    if event.kind in ("authorised", "succeeded"):
        if payment.status not in OPEN:
            return "stale"  # our own capture's echo, or a repeat of a hold already recorded
        return await _authorised(uow, payment, event)
    if event.kind == "failed" and payment.status in OPEN:
        await _save(uow, replace(payment, status=CardStatus.FAILED))
        uow.record(_changed(payment, "failed", payment.charge, "stripe", event_id=event.id, reason=event.reason[:64]))
        return "failed"
    if event.kind == "canceled" and payment.status in OPEN:
        await _save(uow, replace(payment, status=CardStatus.CANCELLED))
        uow.record(_changed(payment, "cancelled", 0, "stripe", event_id=event.id, reason=event.reason[:64]))
        return "cancelled"
    if event.kind == "canceled" and payment.status is CardStatus.AUTHORISED:
        # The provider let the hold go (expiry) before we captured: the escrow's card money is gone.
        # The ledger follows and the guarantee pool stands in (card_lost); only when the pool
        # cannot is nothing moved, and the admins are told (flagged) and decide.
        payment, outcome = await card_lost.hold_cancelled(uow, payment, event.id)
        if outcome != "short":
            return outcome
        if not payment.flagged:
            await _save(uow, replace(payment, flagged=True))
            uow.record(_changed(payment, "flagged", payment.charge, "stripe", event_id=event.id, reason="provider_cancelled"))
        return "flagged"
    return "stale"


async def _authorised(uow: UnitOfWork, payment: CardPayment, event: CardEvent) -> str:
    """Record the hold, then fund and send the order exactly as a balance payment would."""
    if event.amount != payment.charge:
        log.warning("card event %s holds %s paise, %s expected: not used", event.id, event.amount, payment.charge)
    hold = hold_account(payment.id)
    lines = [Posting(CARD, -event.amount), Posting(hold, event.amount + payment.reserve - payment.fee)]
    if payment.reserve != payment.fee:  # the cooperative bears the fee: fund:infra holds the estimate
        lines.append(Posting(INFRA, payment.fee - payment.reserve))
    why = ""
    try:
        await uow.ledger.record(Transaction("card_hold", payment.ref, tuple(lines), "card authorised"), "stripe")
    except InsufficientFunds:
        # fund:infra was drained since the link was made and cannot bear the fee: hold only what
        # the card gave, do not use it, and let it be released (the donor is told).
        await uow.ledger.record(Transaction("card_hold", payment.ref, (Posting(CARD, -event.amount), Posting(hold, event.amount)),
                                            "card authorised"), "stripe")  # fmt: skip
        payment, why = replace(payment, reserve=payment.fee), "fee"
    payment = await _save(uow, replace(payment, status=CardStatus.AUTHORISED, authorised_at=uow.now))
    uow.record(_changed(payment, "authorised", event.amount, "stripe", event_id=event.id, fee=payment.fee))
    donor = await uow.people.get(payment.person_id)
    order = await uow.orders.get(payment.order_id)
    if not why and event.amount != payment.charge:
        why = "amount"
    elif not why and payment.campaign_id is not None:
        why = await _gift(uow, payment, donor, hold)
    elif not why and order is not None and order.status is Status.CANCELLED:
        why = "order_cancelled"  # given up (by the donor, or as stale) while they were on the card page
    elif not why and (donor is None or order is None or order.status is not Status.SCREENED):
        why = "order_moved_on"
    elif not why and donor is not None:
        try:
            await orders.fund_and_send(uow, payment.order_id, donor, payment.item_id, payment.tip,
                                       card=(hold, payment.order_total))  # fmt: skip
        except orders.OrderError as exc:
            why = exc.code
    if why:
        uow.record(_changed(payment, "unused", event.amount, "stripe", event_id=event.id, reason=why))
        return "unused"
    return "authorised"


async def _gift(uow: UnitOfWork, payment: CardPayment, donor: Person | None, hold: str) -> str:
    """Count an authorised card gift toward its campaign; "" when it counts, else why not (the
    hold is then released by the card job and the giver told)."""
    if donor is None or payment.campaign_id is None:
        return "order_moved_on"
    try:
        await campaigns.give_by_card(uow, payment.campaign_id, donor, payment.order_total, anonymous=payment.anonymous,
                                     payment_id=payment.id, hold=hold)  # fmt: skip
    except campaigns.CampaignError as exc:
        return exc.code
    except orders.OrderError as exc:  # the gift met the target but the order could not be placed
        return exc.code
    return ""


@dataclass(frozen=True)
class Due:
    """One provider call a payment needs now."""

    payment: CardPayment
    action: str  # capture | release | refund
    amount: int  # paise to capture, release or refund


async def due(uow: UnitOfWork, limit: int = 500) -> list[Due]:
    """Payments whose order has finished with the money: capture what was spent, release a hold
    nothing was spent from, refund what came back after a capture."""
    out: list[Due] = []
    for p in await uow.cards.in_status((CardStatus.AUTHORISED,), limit):
        order = await uow.orders.get(p.order_id)
        funded = any(c.account == hold_account(p.id) for c in await uow.contributions.for_order(p.order_id))
        if not funded and await _gift_waiting(uow, p):
            continue  # a gift counted toward a campaign still collecting: held until it ends
        if not funded:
            out.append(Due(p, "release", p.charge))  # a hold the order never used
            continue
        if order is None or order.status not in TERMINAL:
            continue  # still in escrow (or disputed): wait
        returned = await uow.ledger.balance(hold_account(p.id)) - p.reserve  # what went back to the card
        spent = p.order_total - returned
        out.append(Due(p, "capture", p.charge - returned) if spent > 0 else Due(p, "release", p.charge))
    for p in await uow.cards.in_status((CardStatus.CAPTURED,), limit):
        if (back := await uow.ledger.balance(hold_account(p.id))) > 0:
            out.append(Due(p, "refund", back))
    return out


async def _gift_waiting(uow: UnitOfWork, p: CardPayment) -> bool:
    """A card gift counted toward a campaign that is still collecting (so its hold must stay)."""
    if p.campaign_id is None:
        return False
    campaign = await uow.campaigns.get(p.campaign_id)
    return (campaign is not None and campaign.status in CAMPAIGN_OPEN
            and await uow.campaigns.gift_by_key(campaign.id, campaigns.card_gift_key(p.id)) is not None)  # fmt: skip


async def carry_out(store: Store, gateway: PaymentGateway, item: Due) -> str:
    """Make one due provider call (idempotently) and record what it did; return the outcome."""
    p = item.payment
    key = f"ketpaar:{p.ref}:{item.action}" + (f":{p.refunded + item.amount}" if item.action == "refund" else "")
    if item.action == "capture":
        state = await gateway.capture(p.intent, item.amount, key)
    elif item.action == "release":
        state = await gateway.cancel(p.intent, key)
    else:
        state = await gateway.refund(p.intent, item.amount, key)
    async with store.uow() as uow:
        current = await uow.cards.get(p.id, lock=True)
        if current is None or current.version != p.version:
            return "changed"  # someone recorded it meanwhile; the next run looks again
        await _record(uow, current, item, state)
    return item.action


async def _record(uow: UnitOfWork, p: CardPayment, item: Due, state: IntentState) -> None:
    hold = hold_account(p.id)
    in_hold = await uow.ledger.balance(hold)
    if item.action == "refund":
        tx = Transaction("card_refund", f"{p.ref}:{p.refunded + item.amount}", (Posting(hold, -item.amount), Posting(CARD, item.amount)))
        await uow.ledger.record(tx, "scheduler")
        await _save(uow, replace(p, refunded=p.refunded + item.amount))
        uow.record(_changed(p, "refunded", item.amount, "scheduler"))
        return
    returned = in_hold - p.reserve
    if item.action == "release":
        lines = [Posting(hold, -in_hold), Posting(CARD, returned + p.fee), Posting(INFRA, p.reserve - p.fee)]
        await uow.ledger.record(Transaction("card_release", p.ref, tuple(x for x in lines if x.amount)), "scheduler")
        await _save(uow, replace(p, status=CardStatus.RELEASED))
        uow.record(_changed(p, "released", p.charge, "scheduler"))
        return
    fee = state.fee if state.fee is not None else processor_fee(item.amount, *(await _fee_params(uow)))
    lines = [Posting(hold, -in_hold), Posting(CARD, returned), Posting(CARD_FEES, fee), Posting(INFRA, p.reserve - fee)]
    await uow.ledger.record(Transaction("card_capture", p.ref, tuple(x for x in lines if x.amount), "card captured"), "scheduler")
    await _save(uow, replace(p, status=CardStatus.CAPTURED, captured=item.amount, actual_fee=fee))
    uow.record(_changed(p, "captured", item.amount, "scheduler", fee=fee))


async def _fee_params(uow: UnitOfWork) -> tuple[int, int]:
    params = await uow.params.current()
    return params.card_fee_bp, params.card_fee_fixed


async def run_due(store: Store, gateway: PaymentGateway) -> dict[str, int]:
    """Capture, release and refund every payment that needs it; a failed call is logged and tried
    again on the next run with the same idempotency key (so never done twice)."""
    async with store.reader() as uow:
        items = await due(uow)
    done: dict[str, int] = {}
    for item in items:
        try:
            outcome = await carry_out(store, gateway, item)
        except Exception:  # a provider outage or timeout: the next run repeats the same call
            log.exception("card %s: %s of %s paise not done; retried next run", item.payment.ref, item.action, item.amount)
            outcome = "retry"
        done[outcome] = done.get(outcome, 0) + 1
    return done


async def flag_old_holds(store: Store) -> int:
    """Tell the admins about holds older than the governed hours whose order has not settled
    (the provider drops an uncaptured hold after 7 days); each hold once."""
    async with store.uow() as uow:
        hours = (await uow.params.current()).card_hold_warn_hours
        flagged = 0
        for p in await uow.cards.in_status((CardStatus.AUTHORISED,)):
            if p.flagged or p.authorised_at is None:
                continue
            if datetime.fromisoformat(p.authorised_at) + timedelta(hours=hours) > uow.at:
                continue
            await _save(uow, replace(p, flagged=True))
            uow.record(_changed(p, "flagged", p.charge, "scheduler", reason="old_hold"))
            flagged += 1
    return flagged


async def reconcile(store: Store, gateway: PaymentGateway) -> list[str]:
    """Compare each payment's hold account and external:card postings with the provider's
    amounts; return a line per disagreement (none when all agree, to the paisa)."""
    problems: list[str] = []
    async with store.reader() as uow:
        payments = await uow.cards.in_status(tuple(CardStatus))
        card_total = await uow.ledger.balance(CARD)
        from_card = 0
        for p in payments:
            if not p.intent or p.status in (CardStatus.CREATED, CardStatus.FAILED, CardStatus.CANCELLED):
                continue
            state = await gateway.retrieve(p.intent)
            at_provider = state.capturable + state.received - state.refunded
            from_card += at_provider
            ours = {CardStatus.AUTHORISED: p.charge, CardStatus.CAPTURED: p.captured - p.refunded, CardStatus.RELEASED: 0}[p.status]
            if ours != at_provider:
                problems.append(f"{p.ref} ({p.intent}): ledger {ours}, provider {at_provider}")
    if -card_total != from_card:
        problems.append(f"external:card is {card_total}, the provider holds or took {from_card}")
    return problems

"""Payouts by Stripe Connect (where KETPAAR_STRIPE_CONNECT is on): a payee links a connected
account by chat, and the day's run pays their line by a transfer instead of the bank file.

The run itself is unchanged: the line's money moves to external:payouts in its own transaction,
as for the bank. Then each pending Stripe line is sent as one transfer, under the idempotency key
of the line (a call that times out is repeated by the next run and Stripe sees one transfer). A
transfer Stripe refuses (the account not onboarded, closed) fails the line exactly as a bank
return does: a new transaction gives the money back to the payee's balance, they are told, and
the next run pays it again.

Only an account Stripe said is ready (account.updated: onboarding submitted, payouts and the
transfers capability enabled) is paid: the run leaves the others' money on their balance and tells
them once what is missing, and a pending line to an account that stopped being ready waits."""

from __future__ import annotations

import logging

from core.members.model import Person
from core.payments import payouts
from core.payments.model import ConnectState, Method, Missing, PayoutDetails, PayoutLine
from core.ports import Store, TransferGateway, UnitOfWork
from core.shared.events import ConnectAccountUpdated, PayoutLineTransferred

log = logging.getLogger(__name__)


class TransferRefused(Exception):
    """The provider refused a transfer (not a network failure): the line fails and is paid again later."""


async def link_account(uow: UnitOfWork, gateway: TransferGateway, person: Person) -> tuple[PayoutDetails, str]:
    """Give a payee a connected account (their existing one, or a new one under a key of their
    own, so a retried request makes no second account), make it where their payouts go, and
    return the details with the onboarding link to send them."""
    current = await uow.payments.details(person.id)
    if current is not None and current.method is Method.STRIPE and current.destination:
        account = current.destination
    else:
        account = await gateway.connect_account(f"ketpaar:person:{person.id}:connect")
    details = PayoutDetails(person.id, Method.STRIPE, account)
    if current != details:
        await payouts.set_details(uow, person, details)  # a payout.details chain event, masked
    return details, await gateway.onboarding_link(account)


async def pay_transfers(store: Store, gateway: TransferGateway) -> dict[str, int]:
    """Send every pending Stripe payout line as a transfer; return how many were sent, refused,
    or left for the next run (the provider not reached)."""
    async with store.reader() as uow:
        lines = await uow.payments.pending_lines(Method.STRIPE)
    done: dict[str, int] = {}
    for line in lines:
        outcome = await _pay(store, gateway, line) if await _ready(store, line) else "waiting"
        done[outcome] = done.get(outcome, 0) + 1
    return done


async def apply_account_update(uow: UnitOfWork, state: ConnectState) -> str:
    """Record what Stripe said of a connected account (a chain event); an event older than the
    one stored changes nothing. Return ready | not_ready | old."""
    if not await uow.payments.set_connect_state(state.account, state.ready, state.missing.value, state.created):
        return "old"
    person_id = await uow.payments.stripe_payee(state.account)
    uow.record(ConnectAccountUpdated(actor="stripe", person_id=person_id, ready=state.ready, missing=state.missing.value,
                                     charges_enabled=state.charges_enabled, payouts_enabled=state.payouts_enabled,
                                     details_submitted=state.details_submitted, transfers_active=state.transfers_active))  # fmt: skip
    return "ready" if state.ready else "not_ready"


async def _ready(store: Store, line: PayoutLine) -> bool:
    """Whether a pending line's account can receive a transfer now (else it waits, told once)."""
    async with store.uow() as uow:
        details = PayoutDetails(line.person_id, Method.STRIPE, line.destination)
        return await payouts.stripe_ready(uow, details, line.account, line.amount)


async def _pay(store: Store, gateway: TransferGateway, line: PayoutLine) -> str:
    metadata = {"payout_line": str(line.id), "batch": str(line.batch_id), "reference": line.reference}
    try:
        transfer_id = await gateway.transfer(line.destination, line.amount, f"ketpaar:payout:line:{line.id}", metadata)
    except TransferRefused as exc:
        log.warning("payout line %s refused by the provider: %s", line.id, exc)
        async with store.uow() as uow:
            current = await uow.payments.line(line.id)
            if current is None or current.status.value != "pending":
                return "changed"
            await payouts.fail_line(uow, current, "scheduler")
            # Not ready after all (closed, restricted): later runs wait for Stripe's next account.updated
            # instead of failing a new line every day.
            await uow.payments.connect_refused(line.destination, Missing.REVIEW.value)
        return "refused"
    except Exception:  # not reached, or timed out: the same key is used again at the next run
        log.exception("payout line %s: transfer not made; tried again at the next run", line.id)
        return "retry"
    async with store.uow() as uow:
        if not await uow.payments.mark_line_paid(line.id):
            return "changed"
        uow.record(PayoutLineTransferred(actor="scheduler", batch_id=line.batch_id, line_id=line.id, account=line.account,
                                         amount=line.amount, transfer=transfer_id))  # fmt: skip
    return "sent"

"""Tell people about their money coming in by UPI and going out as payouts: bus handlers."""

from __future__ import annotations

from core.payments.model import Method, PayoutDetails
from core.ports import UnitOfWork
from core.shared.bus import MessageBus
from core.shared.events import (
    DomainEvent,
    PayoutBatchCreated,
    PayoutBatchPaid,
    PayoutLineFailed,
    PayoutLineTransferred,
    PayoutSkipped,
    PayoutUnclaimed,
    PayoutWaiting,
    StatementRowImported,
)
from flows.context import deliver_to
from flows.i18n import Translator, money, translator
from flows.messages import Outbound


async def on_statement_row(event: DomainEvent, uow: UnitOfWork) -> None:
    """A donor's UPI top-up arrived in the bank statement: tell them it is in their balance."""
    assert isinstance(event, StatementRowImported)
    person = await uow.people.get(event.person_id) if event.person_id else None
    if person is None:
        return
    _ = translator(person.language, person.channel)
    text = _("Your UPI payment of {amount} (reference {ref}) arrived: it is in your balance. Thank you!")
    await deliver_to(uow, person, Outbound(text.format(amount=money(event.amount, person.language), ref=event.reference or "")))


async def on_payout_skipped(event: DomainEvent, uow: UnitOfWork) -> None:
    """A payee with money due but no payout details is told how to get it."""
    assert isinstance(event, PayoutSkipped)
    if event.told and (person := await uow.people.get(event.person_id)):
        _ = translator(person.language, person.channel)
        text = _("{amount} is ready to be paid to you, but I do not know where. Send /payout with your UPI id or bank account.")
        await deliver_to(uow, person, Outbound(text.format(amount=money(event.amount, person.language))))


async def on_payout_waiting(event: DomainEvent, uow: UnitOfWork) -> None:
    """A payee paid by Stripe whose account cannot receive transfers yet hears, once, what is missing."""
    assert isinstance(event, PayoutWaiting)
    if event.told and (person := await uow.people.get(event.person_id)):
        _ = translator(person.language, person.channel)
        if event.missing == "review":
            text = _("{amount} is ready for you, but Stripe has not enabled payouts on your account yet (it may be "
                     "checking your details or need a document: look in your Stripe account). It waits in your earnings.")
        else:
            text = _("{amount} is ready for you, but your Stripe account cannot receive it yet: its setup is not "
                     "finished (/payout stripe sends a new link). It waits in your earnings.")  # fmt: skip
        await deliver_to(uow, person, Outbound(text.format(amount=money(event.amount, person.language))))


def payout_place(_: Translator, details: PayoutDetails) -> str:
    """Where payouts go, as a payee reads it: masked details, or their Stripe account in words."""
    if details.method is Method.STRIPE:
        return _("your Stripe account")
    return details.masked()


async def on_batch_created(event: DomainEvent, uow: UnitOfWork) -> None:
    """Each payee in a new batch hears how much is on its way, and where."""
    assert isinstance(event, PayoutBatchCreated)
    for line in await uow.payments.lines(event.batch_id):
        if person := await uow.people.get(line.person_id):
            _ = translator(person.language, person.channel)
            where = payout_place(_, PayoutDetails(line.person_id, line.method, line.destination, line.ifsc))
            await deliver_to(uow, person, Outbound(_("Payout: {amount} is being sent to {where} (reference {ref}).").format(
                amount=money(line.amount, person.language), where=where, ref=line.reference)))  # fmt: skip


async def on_batch_paid(event: DomainEvent, uow: UnitOfWork) -> None:
    """Each payee of a batch the bank paid hears it."""
    assert isinstance(event, PayoutBatchPaid)
    for line in await uow.payments.lines(event.batch_id):
        if line.status.value == "paid" and (person := await uow.people.get(line.person_id)):
            _ = translator(person.language, person.channel)
            await deliver_to(uow, person, Outbound(_("The bank has paid your payout of {amount} (reference {ref}).").format(
                amount=money(line.amount, person.language), ref=line.reference)))  # fmt: skip


async def on_line_failed(event: DomainEvent, uow: UnitOfWork) -> None:
    """A payee whose payout the bank returned hears that it comes again at the next run."""
    assert isinstance(event, PayoutLineFailed)
    line = await uow.payments.line(event.line_id)
    if line is not None and (person := await uow.people.get(line.person_id)):
        _ = translator(person.language, person.channel)
        text = _("The bank could not pay {amount} to you. It is back in your earnings and goes out at the next payout: "
                 "check your details with /payout.")
        if line.method is Method.STRIPE:
            text = _("Stripe could not send {amount} to you. It is back in your earnings and goes out at the next payout: "
                     "finish setting up your Stripe account (/payout stripe sends a new link).")  # fmt: skip
        await deliver_to(uow, person, Outbound(text.format(amount=money(line.amount, person.language))))


async def on_line_transferred(event: DomainEvent, uow: UnitOfWork) -> None:
    """A payee paid by a Stripe transfer hears it."""
    assert isinstance(event, PayoutLineTransferred)
    line = await uow.payments.line(event.line_id)
    if line is not None and (person := await uow.people.get(line.person_id)):
        _ = translator(person.language, person.channel)
        await deliver_to(uow, person, Outbound(_("Stripe has sent your payout of {amount} (reference {ref}).").format(
            amount=money(line.amount, person.language), ref=line.reference)))  # fmt: skip


async def on_line_unclaimed(event: DomainEvent, uow: UnitOfWork) -> None:
    """The admins hear that a returned payout of a forgotten person went to the guarantee pool."""
    assert isinstance(event, PayoutUnclaimed)
    for admin in await uow.people.admins():
        _ = translator(admin.language, admin.channel)
        text = _("Payout line {line} ({amount}) came back from the bank, but its payee has used /forget: nobody can be "
                 "paid it again, so it went to the guarantee pool.")  # fmt: skip
        await deliver_to(uow, admin, Outbound(text.format(line=event.line_id, amount=money(event.amount, admin.language))))


def register(bus: MessageBus) -> None:
    """Subscribe the money-in and money-out notifications."""
    bus.on(StatementRowImported, on_statement_row)
    bus.on(PayoutSkipped, on_payout_skipped)
    bus.on(PayoutWaiting, on_payout_waiting)
    bus.on(PayoutBatchCreated, on_batch_created)
    bus.on(PayoutBatchPaid, on_batch_paid)
    bus.on(PayoutLineFailed, on_line_failed)
    bus.on(PayoutLineTransferred, on_line_transferred)
    bus.on(PayoutUnclaimed, on_line_unclaimed)

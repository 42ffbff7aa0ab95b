"""Payouts: where each restaurant and worker is paid, the daily run, the bank file, paid/failed."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.ledger.model import PAYOUTS, POOL, restaurant_account, transfer, worker_account
from core.members.model import Person
from core.payments.model import LineStatus, Method, Missing, PayoutBatch, PayoutDetails, PayoutLine
from core.ports import UnitOfWork
from core.privacy import ERASED_CHANNEL
from core.shared.clock import LOCAL_TZ, local_day
from core.shared.events import (
    PayoutBatchCreated,
    PayoutBatchPaid,
    PayoutDetailsChanged,
    PayoutLineFailed,
    PayoutSkipped,
    PayoutUnclaimed,
    PayoutWaiting,
)

# The ledger accounts that are paid out: what restaurants and workers earned, once settled.
PAYEE_PREFIXES = ("restaurant:", "worker:")
MAX_BANK_REF = 64
# A payee without payout details hears of the money waiting once, then again only when it grew by
# the payout minimum or after a week: a daily message saying the same thing would be noise.
SKIP_RETELL_AFTER = timedelta(days=7)


class PayoutError(Exception):
    """A payout action refused; `reason` is not_payee | not_admin | unknown | decided | bank_ref."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def may_be_paid(uow: UnitOfWork, person: Person) -> bool:
    """Whether someone earns through the cooperative (a registered restaurant or worker)."""
    return bool(await uow.restaurants.by_person(person.id) or await uow.workers.by_person(person.id))


async def set_details(uow: UnitOfWork, person: Person, details: PayoutDetails) -> bool:
    """Store where a payee is paid (after they confirmed); tell whether it replaced others."""
    if details.person_id != person.id or not await may_be_paid(uow, person):
        raise PayoutError("not_payee")
    before = await uow.payments.details(person.id)
    await uow.payments.set_details(details)
    uow.record(PayoutDetailsChanged(actor=person.actor, person_id=person.id, method=details.method.value,
                                    masked=details.masked(), replaced=before is not None))  # fmt: skip
    return before is not None


async def _payee(uow: UnitOfWork, account: str) -> tuple[int, str] | None:
    """(person id, name) of a worker:<id> or restaurant:<id> account."""
    kind, _, raw = account.partition(":")
    if not raw.isdigit():
        return None
    if kind == "worker":
        w = await uow.workers.get(int(raw))
        return (w.person_id, w.name) if w else None
    r = await uow.restaurants.get(int(raw))
    return (r.person_id, r.name) if r else None


@dataclass
class RunReport:
    """What one payout run did."""

    batch: PayoutBatch | None = None
    lines: list[PayoutLine] = field(default_factory=list)
    skipped: list[tuple[int, str, int]] = field(default_factory=list)  # (person id, account, amount)
    held: list[tuple[str, int]] = field(default_factory=list)  # (account, amount) waiting for an appeal
    waiting: list[tuple[int, str, int]] = field(default_factory=list)  # (person id, account, amount): Stripe not ready


async def run_payouts(uow: UnitOfWork, day: str) -> RunReport:
    """Move each settled restaurant and worker balance of at least the governed minimum to
    external:payouts, one transaction per person, in the day's batch. Once per day."""
    report = RunReport()
    if not await uow.job_runs.claim("payouts", day):
        return report
    params = await uow.params.current()
    minimum = max(params.payout_minimum, 1)
    held = await _under_appeal(uow, params.appeal_window_hours)
    due: dict[str, int] = {}
    for prefix in PAYEE_PREFIXES:
        due.update({a: b for a, b in (await uow.ledger.balances(prefix)).items() if b >= minimum})
    batch: PayoutBatch | None = None
    for account, amount in sorted(due.items()):
        if account in held:
            report.held.append((account, amount))
            continue
        payee = await _payee(uow, account)
        if payee is None:
            continue
        person_id, name = payee
        details = await uow.payments.details(person_id)
        if details is None:
            report.skipped.append((person_id, account, amount))
            told = await _tell_skipped(uow, person_id, amount, minimum)
            uow.record(PayoutSkipped(actor="scheduler", person_id=person_id, account=account, amount=amount, told=told))
            continue
        if details.method is Method.STRIPE and not await stripe_ready(uow, details, account, amount):
            report.waiting.append((person_id, account, amount))  # the money stays on their balance
            continue
        batch = batch or await uow.payments.add_batch(day)
        if batch is None:
            return report  # that day's batch exists (an earlier run claimed under another name)
        tx_id = await uow.ledger.record(transfer("payout", f"{day}:{account}", account, PAYOUTS, amount,
                                                 f"payout batch {batch.id}"), "scheduler")  # fmt: skip
        line_id = await uow.payments.add_line(batch.id, account, details, name, amount, tx_id)
        found = await uow.payments.line(line_id)
        assert found is not None
        report.lines.append(found)
    if batch is not None:
        report.batch = batch
        uow.record(PayoutBatchCreated(actor="scheduler", batch_id=batch.id, day=day, lines=len(report.lines),
                                      total=sum(line.amount for line in report.lines)))  # fmt: skip
    return report


async def _tell_skipped(uow: UnitOfWork, person_id: int, amount: int, minimum: int) -> bool:
    """Whether to tell a payee without details now: the first time, when what waits grew by the
    payout minimum since they were told, or a week after; remembered when so."""
    last = await uow.payments.skip_notice(person_id)
    due = last is None or amount >= last[0] + minimum or uow.at - datetime.fromisoformat(last[1]) >= SKIP_RETELL_AFTER
    if due:
        await uow.payments.set_skip_notice(person_id, amount)
    return due


async def stripe_ready(uow: UnitOfWork, details: PayoutDetails, account: str, amount: int) -> bool:
    """Whether a payee's Stripe connected account can receive a transfer now. When not, a
    payout.waiting chain event, and the payee is told what is missing once (again only when
    something else is missing, or after the account was ready once)."""
    state = await uow.payments.connect_ready(details.destination)
    if state is not None and state[0]:
        return True
    missing = state[1] if state is not None and state[1] else Missing.DETAILS.value  # no word from Stripe yet
    told = await uow.payments.mark_connect_told(details.destination, missing)
    uow.record(PayoutWaiting(actor="scheduler", person_id=details.person_id, account=account, amount=amount,
                             missing=missing, told=told))  # fmt: skip
    return False


async def _under_appeal(uow: UnitOfWork, appeal_window_hours: int) -> set[str]:
    """Payee accounts of orders whose dispute decision may still be appealed: an appeal reverses
    entries from these accounts, so their money waits until the decision is final."""
    since = (uow.at - timedelta(hours=appeal_window_hours)).isoformat()
    accounts: set[str] = set()
    for order_id in await uow.disputes.changeable_orders(since):
        order = await uow.orders.get(order_id)
        if order is not None and order.restaurant_id is not None:
            accounts.add(restaurant_account(order.restaurant_id))
        if order is not None and order.worker_id is not None:
            accounts.add(worker_account(order.worker_id))
    return accounts


async def run_if_due(uow: UnitOfWork) -> RunReport:
    """The scheduled run: today's payouts once the governed hour (India time) has come."""
    params = await uow.params.current()
    if uow.at.astimezone(LOCAL_TZ).hour < params.payout_hour:
        return RunReport()
    return await run_payouts(uow, local_day(uow.at))


async def mark_paid(uow: UnitOfWork, admin: Person, batch_id: int, bank_ref: str) -> PayoutBatch:
    """The treasurer records the bank's reference for a batch the bank has paid; once."""
    if not admin.is_admin:
        raise PayoutError("not_admin")
    bank_ref = bank_ref.strip()
    if not bank_ref or len(bank_ref) > MAX_BANK_REF or not bank_ref.isprintable():
        raise PayoutError("bank_ref")
    batch = await uow.payments.batch(batch_id)
    if batch is None:
        raise PayoutError("unknown")
    if not await uow.payments.mark_batch_paid(batch_id, bank_ref, admin.id):
        raise PayoutError("decided")
    uow.record(PayoutBatchPaid(actor=admin.actor, batch_id=batch_id, bank_ref=bank_ref))
    return batch


async def mark_failed(uow: UnitOfWork, admin: Person, line_id: int) -> PayoutLine:
    """A line the bank returned: a new transaction gives the money back to the payee's balance,
    so the next run pays it again."""
    if not admin.is_admin:
        raise PayoutError("not_admin")
    line = await uow.payments.line(line_id)
    if line is None:
        raise PayoutError("unknown")
    return await fail_line(uow, line, admin.actor)


async def fail_line(uow: UnitOfWork, line: PayoutLine, actor: str) -> PayoutLine:
    """Put a returned (or refused) line's money back on the payee's balance, once."""
    if line.status is LineStatus.FAILED:
        raise PayoutError("decided")
    payee = await uow.people.get(line.person_id)
    if payee is None or payee.channel == ERASED_CHANNEL:
        return await _unclaimed(uow, line, actor)
    tx_id = await uow.ledger.record(transfer("payout_reversal", f"line:{line.id}", PAYOUTS, line.account, line.amount,
                                             f"payout line {line.id} returned"), actor)  # fmt: skip
    if not await uow.payments.fail_line(line.id, tx_id):
        raise PayoutError("decided")
    uow.record(PayoutLineFailed(actor=actor, batch_id=line.batch_id, line_id=line.id, account=line.account,
                                amount=line.amount))  # fmt: skip
    return line


async def _unclaimed(uow: UnitOfWork, line: PayoutLine, actor: str) -> PayoutLine:
    """A line the bank returned after its payee used /forget (it was paid, so nothing was owed
    then): back on their balance it would be stuck for good, with no details, no contact and no
    one to ask. It goes to the guarantee pool, as the rest of a forgotten person's balance does,
    in one transaction and a chain event; the admins are told (by the event)."""
    tx_id = await uow.ledger.record(transfer("payout_unclaimed", f"line:{line.id}", PAYOUTS, POOL, line.amount,
                                             f"payout line {line.id} returned for a forgotten payee"), actor)  # fmt: skip
    if not await uow.payments.fail_line(line.id, tx_id):
        raise PayoutError("decided")
    uow.record(PayoutUnclaimed(actor=actor, batch_id=line.batch_id, line_id=line.id, account=line.account,
                               amount=line.amount, to=POOL))  # fmt: skip
    return line


CSV_HEADER = ("name", "method", "account_number", "ifsc", "upi_id", "amount", "reference")


def batch_csv(lines: list[PayoutLine]) -> str:
    """The bank bulk-transfer file of a batch: one row per line still to pay (rupees, 2 decimals)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for line in lines:
        if line.status is LineStatus.FAILED or line.method is Method.STRIPE:
            continue  # a returned line is paid again later; a Stripe line goes by transfer, not by the bank
        bank = line.method is Method.BANK
        # A name starting with = + - @ would be a formula in a spreadsheet: quote it as text.
        name = "'" + line.name if line.name[:1] in "=+-@" else line.name
        writer.writerow((name, line.method.value, line.destination if bank else "", line.ifsc if bank else "",
                         "" if bank else line.destination, f"{line.amount // 100}.{line.amount % 100:02d}", line.reference))  # fmt: skip
    return out.getvalue()

"""UPI top-ups: a donor's request with a unique reference, and the bank statement that pays it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from core.ledger.service import DepositTooLarge, record_deposit
from core.members.model import Person
from core.payments.model import RowStatus, TopUpRequest, find_reference, new_reference
from core.payments.statements import CreditRow, Statement
from core.ports import UnitOfWork
from core.shared.events import StatementRowAssigned, StatementRowImported, TopUpRequested


class TopUpError(Exception):
    """A top-up refused; `reason` is too_small | too_large | not_admin | unknown_row | decided | too_large_row."""

    def __init__(self, reason: str, bound: int = 0) -> None:
        super().__init__(reason)
        self.reason, self.bound = reason, bound


async def request_topup(uow: UnitOfWork, donor: Person, amount: int) -> TopUpRequest:
    """Store a top-up request for a governed amount with a fresh unique reference."""
    params = await uow.params.current()
    if amount < params.topup_min:
        raise TopUpError("too_small", params.topup_min)
    if amount > params.max_deposit:
        raise TopUpError("too_large", params.max_deposit)
    for _attempt in range(5):  # 32**8 references: a collision is rare, five in a row impossible
        request = await uow.payments.add_topup(new_reference(), donor.id, amount)
        if request is not None:
            uow.record(TopUpRequested(actor=donor.actor, person_id=donor.id, reference=request.reference, amount=amount))
            return request
    raise RuntimeError("could not draw an unused top-up reference")


@dataclass
class ImportReport:
    """What one statement import did, for the treasurer."""

    credited: list[tuple[str, int, int]] = field(default_factory=list)  # (txn_id, person_id, amount)
    flagged: list[tuple[str, int, int, str]] = field(default_factory=list)  # (txn_id, person_id, amount, why)
    unmatched: list[tuple[str, int, str]] = field(default_factory=list)  # (txn_id, amount, reference or "")
    already: int = 0  # rows imported before (the same bank transaction id)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, why)
    debits_skipped: int = 0


def _ref(txn_id: str) -> str:
    return f"statement:{txn_id}"


async def import_statement(uow: UnitOfWork, statement: Statement, actor: str,
                           on_row: Callable[[], None] | None = None) -> ImportReport:
    """Credit each new row whose narration carries one of our references, once per bank txn id;
    leave the rest for the treasurer. Amounts that differ from the request are credited as paid
    and flagged."""
    report = ImportReport(errors=list(statement.errors), debits_skipped=statement.debits_skipped)
    for row in statement.credits:
        await _import_row(uow, row, actor, report)
        if on_row is not None:
            on_row()  # the command's progress bar
    return report


async def _import_row(uow: UnitOfWork, row: CreditRow, actor: str, report: ImportReport) -> None:
    reference = find_reference(row.narration)
    request = await uow.payments.topup(reference) if reference else None
    if not await uow.payments.add_statement_row(row.txn_id, row.date, row.amount, reference):
        report.already += 1
        return
    flag = ""
    if request is not None:
        if await uow.payments.rows_for_reference(request.reference):
            flag = "paid_again"
        elif row.amount != request.amount:
            flag = "amount_differs"
        try:
            tx_id = await record_deposit(uow, request.person_id, row.amount, _ref(row.txn_id), actor,
                                         f"UPI top-up {request.reference}")  # fmt: skip
        except DepositTooLarge:
            request, flag = None, "too_large"
        else:
            status = RowStatus.FLAGGED if flag else RowStatus.CREDITED
            await uow.payments.settle_row(row.txn_id, status, request.person_id, tx_id, flag)
            if flag:
                report.flagged.append((row.txn_id, request.person_id, row.amount, flag))
            else:
                report.credited.append((row.txn_id, request.person_id, row.amount))
            uow.record(StatementRowImported(actor=actor, txn_id=row.txn_id, status=status.value, amount=row.amount,
                                            reference=reference, person_id=request.person_id, flag=flag))  # fmt: skip
            return
    # A reference of ours nobody asked for, another cooperative's, or none at all: the treasurer decides.
    report.unmatched.append((row.txn_id, row.amount, reference or ""))
    uow.record(StatementRowImported(actor=actor, txn_id=row.txn_id, status=RowStatus.UNMATCHED.value, amount=row.amount,
                                    reference=reference, person_id=None, flag=flag))  # fmt: skip


async def assign_row(uow: UnitOfWork, admin: Person, txn_id: str, target: Person) -> tuple[int, int]:
    """The treasurer credits an unmatched statement row to a person, once; return (amount, tx id)."""
    if not admin.is_admin:
        raise TopUpError("not_admin")
    row = await uow.payments.statement_row(txn_id, lock=True)
    if row is None:
        raise TopUpError("unknown_row")
    if row.status is not RowStatus.UNMATCHED:
        raise TopUpError("decided")
    try:
        tx_id = await record_deposit(uow, target.id, row.amount, _ref(txn_id), admin.actor, "UPI received, assigned")
    except DepositTooLarge as exc:
        raise TopUpError("too_large_row", exc.ceiling) from exc
    if not await uow.payments.settle_row(txn_id, RowStatus.ASSIGNED, target.id, tx_id, f"assigned by {admin.actor}"):
        raise TopUpError("decided")
    uow.record(StatementRowAssigned(actor=admin.actor, txn_id=txn_id, person_id=target.id, amount=row.amount))
    return row.amount, tx_id

"""UPI top-up requests, statement rows, payout details, batches and lines."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.adapters.sql.payments_schema import (
    connect_accounts,
    payout_batches,
    payout_details,
    payout_lines,
    payout_skip_notices,
    statement_rows,
    topup_requests,
)
from core.adapters.sql.sqlhelpers import insert_ignore, is_postgres, new_id, upsert
from core.payments.model import (
    LineStatus,
    Method,
    PayoutBatch,
    PayoutDetails,
    PayoutLine,
    RowStatus,
    StatementRow,
    TopUpRequest,
)


def _row(r: Any) -> StatementRow:
    return StatementRow(r.id, r.txn_id, r.date, int(r.amount), r.reference, RowStatus(r.status), r.person_id, r.note)


def _line(r: Any) -> PayoutLine:
    return PayoutLine(r.id, r.batch_id, r.account, r.person_id, r.name, Method(r.method), r.destination, r.ifsc,
                      int(r.amount), LineStatus(r.status))  # fmt: skip


def _batch(r: Any) -> PayoutBatch:
    return PayoutBatch(r.id, r.day, r.created_at, r.bank_ref, r.paid_at)


class PaymentsRepo:
    """Money in by UPI and out by payout batches, as stored."""

    def __init__(self, conn: AsyncConnection, now: str) -> None:
        self.conn, self.now = conn, now

    async def add_topup(self, reference: str, person_id: int, amount: int) -> TopUpRequest | None:
        """Store a top-up request; None if the reference is taken (the caller draws another)."""
        values = {"reference": reference, "person_id": person_id, "amount": amount, "created_at": self.now}
        if not await insert_ignore(self.conn, topup_requests, values, ["reference"]):
            return None
        return await self.topup(reference)

    async def topup(self, reference: str) -> TopUpRequest | None:
        """A top-up request by its reference."""
        r = (await self.conn.execute(select(topup_requests).where(topup_requests.c.reference == reference))).first()
        return TopUpRequest(r.id, r.reference, r.person_id, int(r.amount), r.created_at) if r else None

    async def add_statement_row(self, txn_id: str, date: str, amount: int, reference: str | None) -> bool:
        """Store a statement row as unmatched; False when this bank transaction was imported before."""
        values = {"txn_id": txn_id, "date": date, "amount": amount, "reference": reference,
                  "status": RowStatus.UNMATCHED.value, "imported_at": self.now}  # fmt: skip
        return await insert_ignore(self.conn, statement_rows, values, ["txn_id"])

    async def statement_row(self, txn_id: str, *, lock: bool = False) -> StatementRow | None:
        """One imported row by the bank's transaction id (row-locked on PostgreSQL when `lock`)."""
        q = select(statement_rows).where(statement_rows.c.txn_id == txn_id)
        if lock and is_postgres(self.conn):
            q = q.with_for_update()
        r = (await self.conn.execute(q)).first()
        return _row(r) if r else None

    async def settle_row(self, txn_id: str, status: RowStatus, person_id: int, tx_id: int, note: str) -> bool:
        """Mark an unmatched row credited to a person; False if it no longer is unmatched."""
        q = (
            update(statement_rows)
            .where(statement_rows.c.txn_id == txn_id, statement_rows.c.status == RowStatus.UNMATCHED.value)
            .values(status=status.value, person_id=person_id, tx_id=tx_id, note=note)
        )
        return (await self.conn.execute(q.execution_options(preserve_rowcount=True))).rowcount == 1

    async def rows_for_reference(self, reference: str) -> int:
        """How many rows already credited a top-up reference."""
        q = select(func.count()).select_from(statement_rows).where(
            statement_rows.c.reference == reference, statement_rows.c.status != RowStatus.UNMATCHED.value
        )
        return int((await self.conn.execute(q)).scalar_one())

    async def unmatched_rows(self, limit: int = 50) -> list[StatementRow]:
        """Rows waiting for the treasurer, oldest first."""
        q = select(statement_rows).where(statement_rows.c.status == RowStatus.UNMATCHED.value)
        return [_row(r) for r in await self.conn.execute(q.order_by(statement_rows.c.id).limit(limit))]

    async def details(self, person_id: int) -> PayoutDetails | None:
        """Where a person's payouts go, if they said."""
        r = (await self.conn.execute(select(payout_details).where(payout_details.c.person_id == person_id))).first()
        return PayoutDetails(r.person_id, Method(r.method), r.destination, r.ifsc) if r else None

    async def set_details(self, details: PayoutDetails) -> None:
        """Store (or replace) a person's payout details."""
        values = {"person_id": details.person_id, "method": details.method.value, "destination": details.destination,
                  "ifsc": details.ifsc, "updated_at": self.now}  # fmt: skip
        await upsert(self.conn, payout_details, values, ["person_id"], ["method", "destination", "ifsc", "updated_at"])

    async def add_batch(self, day: str) -> PayoutBatch | None:
        """Open the batch of a day; None if that day has one."""
        if not await insert_ignore(self.conn, payout_batches, {"day": day, "created_at": self.now}, ["day"]):
            return None
        r = (await self.conn.execute(select(payout_batches).where(payout_batches.c.day == day))).one()
        return _batch(r)

    async def batch(self, batch_id: int) -> PayoutBatch | None:
        """One batch."""
        r = (await self.conn.execute(select(payout_batches).where(payout_batches.c.id == batch_id))).first()
        return _batch(r) if r else None

    async def latest_batch(self) -> PayoutBatch | None:
        """The newest batch."""
        r = (await self.conn.execute(select(payout_batches).order_by(payout_batches.c.id.desc()).limit(1))).first()
        return _batch(r) if r else None

    async def add_line(self, batch_id: int, account: str, details: PayoutDetails, name: str, amount: int,
                       tx_id: int) -> int:  # fmt: skip
        """Add one person's payout to a batch; return the line's id."""
        result = await self.conn.execute(payout_lines.insert().values(
            batch_id=batch_id, account=account, person_id=details.person_id, name=name, method=details.method.value,
            destination=details.destination, ifsc=details.ifsc, amount=amount, status=LineStatus.PENDING.value,
            tx_id=tx_id))  # fmt: skip
        return new_id(result)

    async def lines(self, batch_id: int) -> list[PayoutLine]:
        """A batch's lines in order."""
        q = select(payout_lines).where(payout_lines.c.batch_id == batch_id).order_by(payout_lines.c.id)
        return [_line(r) for r in await self.conn.execute(q)]

    async def line(self, line_id: int) -> PayoutLine | None:
        """One payout line."""
        r = (await self.conn.execute(select(payout_lines).where(payout_lines.c.id == line_id))).first()
        return _line(r) if r else None

    async def mark_batch_paid(self, batch_id: int, bank_ref: str, by: int) -> bool:
        """Record the bank's reference for a batch and its pending lines as paid; once."""
        q = (
            update(payout_batches)
            .where(payout_batches.c.id == batch_id, payout_batches.c.paid_at.is_(None))
            .values(bank_ref=bank_ref, paid_at=self.now, paid_by=by)
        )
        if (await self.conn.execute(q.execution_options(preserve_rowcount=True))).rowcount != 1:
            return False
        await self.conn.execute(
            update(payout_lines)
            # Lines paid by transfer are not in the bank's file: the transfer job marks them.
            .where(payout_lines.c.batch_id == batch_id, payout_lines.c.status == LineStatus.PENDING.value,
                   payout_lines.c.method != Method.STRIPE.value)
            .values(status=LineStatus.PAID.value)
        )
        return True

    async def mark_line_paid(self, line_id: int) -> bool:
        """Mark one pending line paid (a transfer went through); False if it was not pending."""
        q = (
            update(payout_lines)
            .where(payout_lines.c.id == line_id, payout_lines.c.status == LineStatus.PENDING.value)
            .values(status=LineStatus.PAID.value)
        )
        return (await self.conn.execute(q.execution_options(preserve_rowcount=True))).rowcount == 1

    async def pending_lines(self, method: Method, limit: int = 500) -> list[PayoutLine]:
        """Lines of any batch still pending and paid by this method, oldest first."""
        q = (select(payout_lines)
             .where(payout_lines.c.status == LineStatus.PENDING.value, payout_lines.c.method == method.value)
             .order_by(payout_lines.c.id).limit(limit))  # fmt: skip
        return [_line(r) for r in await self.conn.execute(q)]

    async def fail_line(self, line_id: int, reversal_tx_id: int) -> bool:
        """Mark a line failed with its reversal; False if it already was."""
        q = (
            update(payout_lines)
            .where(payout_lines.c.id == line_id, payout_lines.c.status != LineStatus.FAILED.value)
            .values(status=LineStatus.FAILED.value, reversal_tx_id=reversal_tx_id)
        )
        return (await self.conn.execute(q.execution_options(preserve_rowcount=True))).rowcount == 1

    async def connect_ready(self, account: str) -> tuple[bool, str, str | None] | None:
        """(ready, missing, last told) of a connected account; None before Stripe said anything."""
        r = (await self.conn.execute(select(connect_accounts).where(connect_accounts.c.account == account))).first()
        return (bool(r.ready), str(r.missing), r.told) if r else None

    async def set_connect_state(self, account: str, ready: bool, missing: str, created: int) -> bool:
        """Store what Stripe said of an account; False (nothing changed) when a newer event was stored."""
        if await insert_ignore(self.conn, connect_accounts, {"account": account, "ready": ready, "missing": missing,
                                                             "event_created": created, "updated_at": self.now}, ["account"]):  # fmt: skip
            return True
        q = (
            update(connect_accounts)
            .where(connect_accounts.c.account == account, connect_accounts.c.event_created <= created)
            # Once ready, whatever goes missing later is worth telling again.
            .values(ready=ready, missing=missing, event_created=created, updated_at=self.now,
                    told=None if ready else connect_accounts.c.told)
        )  # fmt: skip
        return (await self.conn.execute(q.execution_options(preserve_rowcount=True))).rowcount == 1

    async def connect_refused(self, account: str, missing: str) -> None:
        """Stripe refused a transfer to an account: not ready until an account.updated newer than the
        last one stored says otherwise."""
        if not await insert_ignore(self.conn, connect_accounts, {"account": account, "ready": False, "missing": missing,
                                                                 "updated_at": self.now}, ["account"]):  # fmt: skip
            await self.conn.execute(update(connect_accounts).where(connect_accounts.c.account == account)
                                    .values(ready=False, missing=missing, updated_at=self.now))  # fmt: skip

    async def mark_connect_told(self, account: str, missing: str) -> bool:
        """Remember the payee was told what their account misses; False if they already were."""
        q = (
            update(connect_accounts)
            .where(connect_accounts.c.account == account,
                   (connect_accounts.c.told.is_(None)) | (connect_accounts.c.told != missing))
            .values(told=missing)
        )  # fmt: skip
        if (await self.conn.execute(q.execution_options(preserve_rowcount=True))).rowcount == 1:
            return True
        # No webhook yet: the account's row is made now, not ready, with the telling remembered.
        return await insert_ignore(self.conn, connect_accounts, {"account": account, "ready": False, "missing": missing,
                                                                 "updated_at": self.now, "told": missing}, ["account"])  # fmt: skip

    async def stripe_payee(self, account: str) -> int | None:
        """The person whose payouts go to this connected account."""
        q = select(payout_details.c.person_id).where(payout_details.c.method == Method.STRIPE.value,
                                                     payout_details.c.destination == account)  # fmt: skip
        return (await self.conn.execute(q.limit(1))).scalar_one_or_none()

    async def skip_notice(self, person_id: int) -> tuple[int, str] | None:
        """(amount, when) a payee without details was last told money waits for them."""
        q = select(payout_skip_notices).where(payout_skip_notices.c.person_id == person_id)
        r = (await self.conn.execute(q)).first()
        return (int(r.amount), str(r.told_at)) if r else None

    async def set_skip_notice(self, person_id: int, amount: int) -> None:
        """Remember that a payee was told now that `amount` waits for their payout details."""
        values = {"person_id": person_id, "amount": amount, "told_at": self.now}
        await upsert(self.conn, payout_skip_notices, values, ["person_id"], ["amount", "told_at"])

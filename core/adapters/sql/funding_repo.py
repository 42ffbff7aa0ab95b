"""Contributions to orders' escrow."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.adapters.sql.funding_schema import contributions
from core.adapters.sql.sqlhelpers import new_id
from core.orders.funding import Contribution, Source


def _contribution(row: Any) -> Contribution:
    return Contribution(row.id, row.order_id, row.seq, Source(row.source), row.account, row.person_id, row.amount, row.tip,
                        row.refunded)  # fmt: skip


class ContributionRepo:
    """Who put how much into each order, from where, and what went back."""

    def __init__(self, conn: AsyncConnection, now: str) -> None:
        self.conn, self.now = conn, now

    async def add(self, order_id: int, seq: int, source: Source, account: str, person_id: int, amount: int, tip: int) -> Contribution:
        """Store one contribution (its ledger transaction is already recorded)."""
        result = await self.conn.execute(contributions.insert().values(
            order_id=order_id, seq=seq, source=source.value, account=account, person_id=person_id, amount=amount, tip=tip,
            created_at=self.now))  # fmt: skip
        return Contribution(new_id(result), order_id, seq, source, account, person_id, amount, tip)

    async def add_many(self, items: Sequence[Contribution]) -> list[Contribution]:
        """Store several contributions (their ledger transactions already recorded; `id` ignored)
        in one statement, in order; return them with their ids."""
        if not items:
            return []
        rows = [{"order_id": c.order_id, "seq": c.seq, "source": c.source.value, "account": c.account,
                 "person_id": c.person_id, "amount": c.amount, "tip": c.tip, "created_at": self.now} for c in items]  # fmt: skip
        result = await self.conn.execute(contributions.insert().values(rows).returning(contributions.c.id, contributions.c.seq))
        ids = {int(seq): int(i) for i, seq in result}
        return [replace(c, id=ids[c.seq]) for c in items]

    async def for_order(self, order_id: int) -> list[Contribution]:
        """An order's contributions in the order they were made."""
        q = select(contributions).where(contributions.c.order_id == order_id).order_by(contributions.c.seq)
        return [_contribution(r) for r in await self.conn.execute(q)]

    async def add_refunded(self, contribution_id: int, amount: int) -> None:
        """Count paise returned to a contribution's source."""
        await self.conn.execute(
            update(contributions).where(contributions.c.id == contribution_id).values(refunded=contributions.c.refunded + amount)
        )

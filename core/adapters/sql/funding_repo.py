"""Contributions to orders' escrow."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import TextClause, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.adapters.sql.funding_schema import contributions
from core.adapters.sql.sqlhelpers import new_id
from core.orders.funding import Contribution, Source


def _contribution(row: Any) -> Contribution:
    return Contribution(row.id, row.order_id, row.seq, Source(row.source), row.account, row.person_id, row.amount, row.tip,
                        row.refunded)  # fmt: skip


_NEXT_SEQ = text("SELECT coalesce(max(seq), 0) + 1 FROM contributions WHERE order_id = :o")


@functools.lru_cache(maxsize=16)
def _insert_many(n: int) -> TextClause:
    """`n` contributions in one INSERT, returning (id, seq): written out as text once per `n` (the
    multi-row insert construct is rebuilt and compiled on every call; pledge allocation makes one)."""
    rows = ", ".join(f"(:o{i}, :q{i}, :s{i}, :a{i}, :p{i}, :m{i}, :t{i}, :at)" for i in range(n))
    return text("INSERT INTO contributions (order_id, seq, source, account, person_id, amount, tip, created_at) "
                f"VALUES {rows} RETURNING id, seq")  # fmt: skip


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
        args: dict[str, Any] = {"at": self.now}
        for n, c in enumerate(items):
            args.update({f"o{n}": c.order_id, f"q{n}": c.seq, f"s{n}": c.source.value, f"a{n}": c.account,
                         f"p{n}": c.person_id, f"m{n}": c.amount, f"t{n}": c.tip})  # fmt: skip
        ids = {int(seq): int(i) for i, seq in await self.conn.execute(_insert_many(len(items)), args)}
        return [replace(c, id=ids[c.seq]) for c in items]

    async def next_seq(self, order_id: int) -> int:
        """The number the order's next contribution gets (1 for its first)."""
        return int((await self.conn.execute(_NEXT_SEQ, {"o": order_id})).scalar_one())

    async def for_order(self, order_id: int) -> list[Contribution]:
        """An order's contributions in the order they were made."""
        q = select(contributions).where(contributions.c.order_id == order_id).order_by(contributions.c.seq)
        return [_contribution(r) for r in await self.conn.execute(q)]

    async def add_refunded(self, contribution_id: int, amount: int) -> None:
        """Count paise returned to a contribution's source."""
        await self.conn.execute(
            update(contributions).where(contributions.c.id == contribution_id).values(refunded=contributions.c.refunded + amount)
        )

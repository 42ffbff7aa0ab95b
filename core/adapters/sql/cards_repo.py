"""Card payments of orders."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.adapters.sql.cards_schema import card_payments
from core.adapters.sql.sqlhelpers import is_postgres, new_id
from core.payments.card_model import CardPayment, CardStatus

_FIELDS = ("reserve", "status", "intent", "url", "authorised_at", "captured", "refunded", "actual_fee", "flagged")


def _payment(row: Any) -> CardPayment:
    return CardPayment(
        row.id, row.order_id, row.person_id, row.attempt, row.item_id, row.tip, row.order_total, row.fee, row.reserve,
        CardStatus(row.status), row.intent, row.url, row.created_at, row.authorised_at, row.captured, row.refunded,
        row.actual_fee, bool(row.flagged), row.version, row.campaign_id, bool(row.anonymous),
    )  # fmt: skip


class CardPaymentRepo:
    """One row per PaymentIntent; changed only with the version it was loaded at."""

    def __init__(self, conn: AsyncConnection, now: str) -> None:
        self.conn, self.now = conn, now

    async def add(self, payment: CardPayment) -> CardPayment:
        """Store a new payment; return it with its id."""
        result = await self.conn.execute(card_payments.insert().values(
            order_id=payment.order_id, person_id=payment.person_id, attempt=payment.attempt, item_id=payment.item_id,
            tip=payment.tip, order_total=payment.order_total, fee=payment.fee, reserve=payment.reserve,
            status=payment.status.value, intent=payment.intent, url=payment.url, created_at=self.now,
            campaign_id=payment.campaign_id, anonymous=payment.anonymous))  # fmt: skip
        found = await self.get(new_id(result))
        assert found is not None
        return found

    async def get(self, payment_id: int, *, lock: bool = False) -> CardPayment | None:
        """One payment (row-locked on PostgreSQL when `lock`)."""
        q = select(card_payments).where(card_payments.c.id == payment_id)
        if lock and is_postgres(self.conn):
            q = q.with_for_update()
        row = (await self.conn.execute(q)).first()
        return _payment(row) if row else None

    async def by_attempt(self, order_id: int, attempt: int, *, lock: bool = False) -> CardPayment | None:
        """The payment of an order's n-th card attempt."""
        q = select(card_payments).where(card_payments.c.order_id == order_id, card_payments.c.attempt == attempt)
        if lock and is_postgres(self.conn):
            q = q.with_for_update()
        row = (await self.conn.execute(q)).first()
        return _payment(row) if row else None

    async def by_intent(self, intent: str, *, lock: bool = False) -> CardPayment | None:
        """The payment a provider's payment id belongs to (row-locked on PostgreSQL when `lock`)."""
        q = select(card_payments).where(card_payments.c.intent == intent)
        if lock and is_postgres(self.conn):
            q = q.with_for_update()
        row = (await self.conn.execute(q)).first()
        return _payment(row) if row else None

    async def for_order(self, order_id: int) -> list[CardPayment]:
        """An order's card payments, first attempt first."""
        q = select(card_payments).where(card_payments.c.order_id == order_id).order_by(card_payments.c.attempt)
        return [_payment(r) for r in await self.conn.execute(q)]

    async def in_status(self, statuses: Sequence[CardStatus], limit: int = 1000) -> list[CardPayment]:
        """Payments in any of these states, oldest first."""
        q = (select(card_payments).where(card_payments.c.status.in_([s.value for s in statuses]))
             .order_by(card_payments.c.id).limit(limit))  # fmt: skip
        return [_payment(r) for r in await self.conn.execute(q)]

    async def save(self, payment: CardPayment) -> bool:
        """Write a changed payment if nobody changed it since it was loaded; tell whether it was."""
        values = {f: getattr(payment, f) for f in _FIELDS}
        values["status"] = payment.status.value
        stmt = (update(card_payments)
                .where(card_payments.c.id == payment.id, card_payments.c.version == payment.version)
                .values(**values, version=payment.version + 1))  # fmt: skip
        result = await self.conn.execute(stmt.execution_options(preserve_rowcount=True))
        return result.rowcount == 1

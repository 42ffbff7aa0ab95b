"""Order repository: load and save the aggregate with an optimistic version check."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.adapters.sql.schema import order_timeouts, orders
from core.adapters.sql.sqlhelpers import insert_ignore, new_id
from core.orders.lifecycle import Status
from core.orders.model import ConcurrentUpdate, Order

_FIELDS = (
    "donor_id", "status", "version", "restaurant_id", "menu_item_id", "meal_name", "meal_price",
    "delivery_fee", "tip", "worker_id", "seeker_lat", "seeker_lng", "zone", "seeker_photo",
    "delivery_photo", "delivery_lat", "delivery_lng", "capacity_day", "ready_at", "settle_after", "delivery_failed", "created_at",
)  # fmt: skip


def _row_values(order: Order, now: str) -> dict[str, Any]:
    values = {name: getattr(order, name) for name in _FIELDS}
    values["status"] = order.status.value
    values["screening"] = json.dumps(order.screening, sort_keys=True)
    values["tried_restaurants"] = json.dumps(order.tried_restaurants)
    values["updated_at"] = now
    values["status_at"] = order.status_at or now
    return values


def _order(row: Any) -> Order:
    values = {name: getattr(row, name) for name in _FIELDS}
    values["status"] = Status(row.status)
    return Order(
        id=row.id,
        screening=json.loads(row.screening),
        tried_restaurants=json.loads(row.tried_restaurants),
        status_at=row.status_at or row.updated_at,
        **values,
    )


class OrderRepo:
    """Orders; saving hands the aggregate's recorded events to the unit of work."""

    def __init__(self, conn: AsyncConnection, now: str, collect: Any) -> None:
        self.conn, self.now, self._collect = conn, now, collect

    async def add(self, order: Order) -> Order:
        """Insert a new order and give it its id."""
        values = _row_values(order, self.now)
        result = await self.conn.execute(orders.insert().values(**values))
        order.id = new_id(result)
        order.status_at = values["status_at"]
        return order

    async def get(self, order_id: int, *, lock: bool = False) -> Order | None:
        """Load an order (row-locked on PostgreSQL when `lock`)."""
        q = select(orders).where(orders.c.id == order_id)
        if lock and self.conn.dialect.name == "postgresql":
            q = q.with_for_update()
        row = (await self.conn.execute(q)).first()
        return _order(row) if row else None

    async def due_for_settlement(self, now: str, limit: int = 500) -> list[int]:
        """Delivered or failed orders whose dispute window has passed, oldest first."""
        q = (
            select(orders.c.id)
            .where(orders.c.status.in_([Status.DELIVERED.value, Status.DELIVERY_FAILED.value]), orders.c.settle_after <= now)
            .order_by(orders.c.settle_after, orders.c.id)
            .limit(limit)
        )
        return [int(i) for (i,) in await self.conn.execute(q)]

    async def with_photo(self, photo_id: str) -> Order | None:
        """The order a seeker or delivery photo belongs to, if any."""
        q = select(orders).where(or_(orders.c.seeker_photo == photo_id, orders.c.delivery_photo == photo_id))
        row = (await self.conn.execute(q.limit(1))).first()
        return _order(row) if row else None

    async def save(self, order: Order, loaded_version: int) -> None:
        """Write the order back if nobody changed it meanwhile; collect its events."""
        result = await self.conn.execute(
            update(orders)
            .where(orders.c.id == order.id, orders.c.version == loaded_version)
            .values(**_row_values(order, self.now))
        )
        if result.rowcount != 1:
            raise ConcurrentUpdate(f"order {order.id} changed since version {loaded_version}")
        order.status_at = order.status_at or self.now
        self._collect(order.events)
        order.events = []

    async def find(
        self,
        *,
        donor_id: int | None = None,
        restaurant_id: int | None = None,
        worker_id: int | None = None,
        statuses: Sequence[Status] | None = None,
        limit: int = 50,
    ) -> list[Order]:
        """Orders matching the given filters, newest first."""
        q = select(orders)
        if donor_id is not None:
            q = q.where(orders.c.donor_id == donor_id)
        if restaurant_id is not None:
            q = q.where(orders.c.restaurant_id == restaurant_id)
        if worker_id is not None:
            q = q.where(orders.c.worker_id == worker_id)
        if statuses is not None:
            q = q.where(orders.c.status.in_([s.value for s in statuses]))
        rows = await self.conn.execute(q.order_by(orders.c.id.desc()).limit(limit))
        return [_order(r) for r in rows]

    async def in_status_since(self, status: Status, before: str, limit: int = 1000) -> list[Order]:
        """Orders that have been in `status` since `before` or earlier, oldest first."""
        q = select(orders).where(orders.c.status == status.value, orders.c.status_at <= before)
        rows = await self.conn.execute(q.order_by(orders.c.status_at, orders.c.id).limit(limit))
        return [_order(r) for r in rows]

    async def held_capacity(self, day: str, statuses: Sequence[Status]) -> dict[int, int]:
        """Per restaurant, how many orders of a capacity day are in the given states."""
        q = select(orders.c.restaurant_id).where(
            orders.c.capacity_day == day, orders.c.status.in_([s.value for s in statuses])
        )
        out: dict[int, int] = {}
        for (rid,) in await self.conn.execute(q):
            out[rid] = out.get(rid, 0) + 1
        return out


class TimeoutRepo:
    """What the timeout job did to which order: one row per stage and round of a stay in a status."""

    def __init__(self, conn: AsyncConnection, now: str) -> None:
        self.conn, self.now = conn, now

    async def mark(self, order_id: int, stage: str, since: str, round_: int = 1) -> bool:
        """Record a stage's round as done; False if it was done already (nothing to do then)."""
        values = {"order_id": order_id, "stage": stage, "since": since, "round": round_, "acted_at": self.now}
        return await insert_ignore(self.conn, order_timeouts, values, ["order_id", "stage", "since", "round"])

    async def done(self, order_id: int, stage: str, since: str) -> list[str]:
        """When each round of a stage was done during the order's stay that began at `since`."""
        q = select(order_timeouts.c.acted_at).where(
            order_timeouts.c.order_id == order_id, order_timeouts.c.stage == stage, order_timeouts.c.since == since
        )
        return [a for (a,) in await self.conn.execute(q.order_by(order_timeouts.c.round))]

"""Restaurant capacity: never oversold under concurrency, released on demand, reconciled daily."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from core.adapters.sql.board import SqlJobBoard
from core.adapters.sql.db import Database
from core.adapters.sql.schema import capacity_log
from core.adapters.sql.uow import Store
from core.ledger import service as money
from core.orders import service as orders
from core.orders.lifecycle import Status
from core.orders.model import Order
from core.schedule.jobs import reconcile_capacity
from core.seekers.screening import PassThroughScreener
from core.shared.events import CapacityMismatch
from tests.clock import FixedClock
from tests.helpers import CHENNAI, Coop, assert_ledger_invariants, chain_events, seed_coop

# Reconciliation runs once per business day and the PostgreSQL database is shared by the
# session, so every test works on a day of its own (noon in Chennai), far from other tests' days.
_days = itertools.count()


def fresh_noon() -> datetime:
    """12:00 in Chennai on a business day no other test uses."""
    return datetime(2101, 1, 1, 6, 30, tzinfo=UTC) + timedelta(days=next(_days))


@pytest.fixture
def store(db: Database) -> Store:
    return Store(db, FixedClock(fresh_noon()))


async def _reserve_concurrently(store: Store, restaurant_id: int, n: int) -> list[bool]:
    """`n` reservations at once, each in its own unit of work (own connection on PostgreSQL)."""

    async def one(order_id: int) -> bool:
        async with store.uow() as uow:
            return await uow.restaurants.reserve(restaurant_id, uow.day, order_id)

    return list(await asyncio.gather(*(one(i) for i in range(1, n + 1))))


async def _send(store: Store, coop: Coop, item_id: int) -> Order:
    """A screened, funded order sent to the restaurant of `item_id`."""
    async with store.uow() as uow:
        order = await orders.start_order(uow, coop.donor, *CHENNAI, None, PassThroughScreener())
    async with store.uow() as uow:
        return await orders.fund_and_send(uow, order.id, coop.donor, item_id, tip=0)


async def test_fifty_simultaneous_reservations_at_capacity_twenty_sell_exactly_twenty(store: Store) -> None:
    coop = await seed_coop(store, uuid.uuid4().hex[:8], capacity=20)
    rid = coop.restaurants[0].id

    results = await _reserve_concurrently(store, rid, 50)

    assert results.count(True) == 20
    async with store.reader() as uow:
        assert await uow.restaurants.used(rid, uow.day) == 20
        assert await uow.restaurants.remaining(rid, uow.day) == 0
        logged = select(func.count()).select_from(capacity_log).where(
            capacity_log.c.restaurant_id == rid, capacity_log.c.change == "reserve"
        )
        assert (await uow.conn.execute(logged)).scalar_one() == 20


async def test_a_released_unit_can_be_reserved_again(store: Store) -> None:
    coop = await seed_coop(store, uuid.uuid4().hex[:8], capacity=2)
    rid = coop.restaurants[0].id
    async with store.uow() as uow:
        assert await uow.restaurants.reserve(rid, uow.day, 1)
        assert await uow.restaurants.reserve(rid, uow.day, 2)
        assert not await uow.restaurants.reserve(rid, uow.day, 3)

    async with store.uow() as uow:
        await uow.restaurants.release(rid, uow.day, 1)
        assert await uow.restaurants.remaining(rid, uow.day) == 1
        assert await uow.restaurants.reserve(rid, uow.day, 3)

    async with store.reader() as uow:
        assert await uow.restaurants.used(rid, uow.day) == 2
        assert [c for (c,) in await uow.conn.execute(
            select(capacity_log.c.change).where(capacity_log.c.restaurant_id == rid).order_by(capacity_log.c.id)
        )] == ["reserve", "reserve", "release", "reserve"]  # fmt: skip


async def test_reconciliation_finds_no_mismatch_on_a_consistent_day(store: Store, db: Database) -> None:
    tag = uuid.uuid4().hex[:8]
    coop = await seed_coop(store, tag)
    board = SqlJobBoard(db)
    worker = coop.workers[0]
    async with store.uow() as uow:
        await money.record_deposit(uow, coop.donor.id, 100_000, f"dep-{tag}", coop.admin.actor, "cash")
        day = uow.day
    waiting = await _send(store, coop, coop.restaurants[0].menu[0].id)
    cancelled = await _send(store, coop, coop.restaurants[0].menu[1].id)
    delivered = await _send(store, coop, coop.restaurants[1].menu[0].id)
    async with store.uow() as uow:
        await orders.cancel(uow, cancelled.id, coop.donor, board)
        await orders.accept(uow, delivered.id, coop.restaurants[1], board, "r")
    async with store.uow() as uow:
        assert (await orders.claim(uow, delivered.id, worker, board, "w")).won
    async with store.uow() as uow:
        await orders.pickup(uow, delivered.id, worker, board, "w")
        await orders.deliver(uow, delivered.id, worker, "photo", *CHENNAI, "w")

    assert await reconcile_capacity(store, day) == []

    async with store.reader() as uow:
        assert (await uow.orders.get(waiting.id)).status is Status.AT_RESTAURANT  # type: ignore[union-attr]
        counters = {rid: (reserved, completed) for rid, _p, reserved, completed in await uow.restaurants.counters(day)}
        assert counters[coop.restaurants[0].id] == (1, 0)
        assert counters[coop.restaurants[1].id] == (0, 1)
        assert [e for e in await chain_events(uow, "capacity.mismatch") if e.data["day"] == day] == []
    await assert_ledger_invariants(store)


async def test_a_tampered_counter_is_reported_once_and_recorded_in_the_chain(store: Store) -> None:
    tag = uuid.uuid4().hex[:8]
    coop = await seed_coop(store, tag)
    rid = coop.restaurants[0].id
    async with store.uow() as uow:
        await money.record_deposit(uow, coop.donor.id, 100_000, f"dep-{tag}", coop.admin.actor, "cash")
        day = uow.day
    await _send(store, coop, coop.restaurants[0].menu[0].id)
    async with store.uow() as uow:
        await uow.conn.execute(
            text("UPDATE capacity_days SET reserved = reserved + 2 WHERE restaurant_id = :r AND day = :d"),
            {"r": rid, "d": day},
        )

    found = await reconcile_capacity(store, day)

    assert found == [CapacityMismatch(actor="scheduler", restaurant_id=rid, day=day, counter=3, orders=1)]
    assert await reconcile_capacity(store, day) == []  # once per day
    async with store.reader() as uow:
        recorded = [e for e in await chain_events(uow, "capacity.mismatch") if e.data["day"] == day]
    assert [(e.actor, e.data) for e in recorded] == [
        ("scheduler", {"restaurant_id": rid, "day": day, "counter": 3, "orders": 1})
    ]
    await assert_ledger_invariants(store)

"""Delivered rests, then settles: the dispute window, failed deliveries, and settling exactly once.

Worked examples with the default parameters (₹30 fee; 80 % worker, 10 % pool, 10 % infra; a
30-minute dispute window), each ending with the ledger's invariants."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from core.adapters.sql.board import SqlJobBoard
from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.ledger.model import INFRA, POOL
from core.orders import service as orders
from core.orders.lifecycle import IllegalTransition, Status
from core.schedule.jobs import settle_due
from tests.clock import FixedClock
from tests.helpers import assert_ledger_invariants, settle_after_window
from tests.test_order_paths import DEPOSIT, NOON, seed_apart, send


@pytest.fixture
def store(db: Database) -> Store:
    return Store(db, FixedClock(NOON))


async def picked_up(store: Store, tip: int) -> tuple[object, int, object, object]:
    """A curd rice (₹60) with `tip`, accepted, claimed and picked up; (coop, order id, kitchen, worker)."""
    coop, spot = await seed_apart(store)
    kitchen, worker = coop.restaurants[0], coop.workers[0]
    board = SqlJobBoard(store.db)
    order = await send(store, coop, spot, kitchen.menu[0].id, tip=tip)
    async with store.uow() as uow:
        await orders.accept(uow, order.id, kitchen, board, "r")
    async with store.uow() as uow:
        assert (await orders.claim(uow, order.id, worker, board, "w")).won
    async with store.uow() as uow:
        await orders.pickup(uow, order.id, worker, board, "w")
    return coop, order.id, kitchen, worker


async def test_a_delivered_order_rests_for_the_window_then_settles_exactly(store: Store) -> None:
    # Curd rice ₹60 + fee ₹30 + tip ₹15 = 10 500 paise in escrow; delivered at 12:00 IST.
    coop, order_id, kitchen, worker = await picked_up(store, tip=1_500)
    async with store.reader() as uow:
        pool, infra = await uow.ledger.balance(POOL), await uow.ledger.balance(INFRA)
    async with store.uow() as uow:
        order = await orders.deliver(uow, order_id, worker, "photo", -40.0, 150.0, "w")  # type: ignore[arg-type]
    assert order.status is Status.DELIVERED and order.settle_after == (NOON + timedelta(minutes=30)).isoformat()
    # 29 minutes later nothing is paid; the job finds nothing due.
    early = Store(store.db, FixedClock(NOON + timedelta(minutes=29)))
    assert await settle_due(early) == 0
    async with early.uow() as uow:
        assert await orders.settle(uow, order_id) is None
        assert await uow.ledger.balance(f"escrow:order:{order_id}") == 10_500
    # After the window: restaurant 6 000, worker 2 400 + 1 500, pool 300, infra 300, escrow 0.
    settled, _tx = await settle_after_window(store, order_id)
    assert settled.status is Status.SETTLED
    async with store.reader() as uow:
        assert await uow.ledger.balance(f"restaurant:{kitchen.id}") == 6_000  # type: ignore[attr-defined]
        assert await uow.ledger.balance(f"worker:{worker.id}") == 3_900  # type: ignore[attr-defined]
        assert await uow.ledger.balance(POOL) - pool == 300
        assert await uow.ledger.balance(INFRA) - infra == 300
        assert await uow.ledger.balance(f"escrow:order:{order_id}") == 0
        assert await uow.ledger.balance(f"donor:{coop.donor.id}") == DEPOSIT - 10_500  # type: ignore[attr-defined]
    await assert_ledger_invariants(store)


async def test_a_failed_delivery_pays_meal_and_fee_and_returns_the_tip(store: Store) -> None:
    # The worker could not find the person: restaurant 6 000 and worker 2 400 (+ pool 300, infra
    # 300) as for a delivery, but the 1 500 tip goes back to the donor who gave it.
    coop, order_id, kitchen, worker = await picked_up(store, tip=1_500)
    async with store.reader() as uow:
        pool = await uow.ledger.balance(POOL)
    async with store.uow() as uow:
        failed = await orders.fail_delivery(uow, order_id, worker, "place-photo", -40.0, 150.0, "w")  # type: ignore[arg-type]
        assert failed.status is Status.DELIVERY_FAILED
        assert await uow.restaurants.used(kitchen.id, uow.day) == 1  # type: ignore[attr-defined]  (the meal was cooked)
    settled, _tx = await settle_after_window(store, order_id)
    assert settled.status is Status.SETTLED
    async with store.reader() as uow:
        assert await uow.ledger.balance(f"restaurant:{kitchen.id}") == 6_000  # type: ignore[attr-defined]
        assert await uow.ledger.balance(f"worker:{worker.id}") == 2_400  # type: ignore[attr-defined]
        assert await uow.ledger.balance(POOL) - pool == 300
        assert await uow.ledger.balance(f"donor:{coop.donor.id}") == DEPOSIT - 10_500 + 1_500  # type: ignore[attr-defined]
        assert await uow.ledger.balance(f"escrow:order:{order_id}") == 0
        order = await uow.orders.get(order_id)
        assert order is not None and order.delivery_failed
        good, bad = await uow.screening.outcomes_near(order.seeker_lat, order.seeker_lng, 300, NOON - timedelta(days=1))
    assert (good, bad) == (0, 1)  # the safety model now hears of a failed delivery near here
    await assert_ledger_invariants(store)


async def test_failure_is_refused_before_pickup_and_by_another_worker(store: Store) -> None:
    coop, spot = await seed_apart(store)
    kitchen, worker, other = coop.restaurants[0], coop.workers[0], coop.workers[1]
    board = SqlJobBoard(store.db)
    order = await send(store, coop, spot, kitchen.menu[0].id)
    async with store.uow() as uow:
        await orders.accept(uow, order.id, kitchen, board, "r")
    async with store.uow() as uow:
        assert (await orders.claim(uow, order.id, worker, board, "w")).won
    with pytest.raises(orders.OrderError):  # claimed, not yet picked up
        async with store.uow() as uow:
            await orders.fail_delivery(uow, order.id, worker, None, *spot, "w")
    async with store.uow() as uow:
        await orders.pickup(uow, order.id, worker, board, "w")
    with pytest.raises(orders.OrderError):
        async with store.uow() as uow:
            await orders.fail_delivery(uow, order.id, other, None, *spot, "o")
    async with store.uow() as uow:
        await orders.deliver(uow, order.id, worker, None, *spot, "w")
    with pytest.raises((orders.OrderError, IllegalTransition)):  # delivered: no failing any more
        async with store.uow() as uow:
            await orders.fail_delivery(uow, order.id, worker, None, *spot, "w")
    await assert_ledger_invariants(store)


@pytest.mark.postgres
async def test_two_processes_settling_at_once_settle_each_order_once(pg_fresh_url: str) -> None:
    # Two app processes' scheduler jobs run at the same minute on one database.
    first, second = Database(pg_fresh_url), Database(pg_fresh_url)
    try:
        store = Store(first, FixedClock(NOON))
        delivered = []
        for _ in range(3):
            _coop, order_id, _kitchen, worker = await picked_up(store, tip=1_000)
            async with store.uow() as uow:
                await orders.deliver(uow, order_id, worker, None, -40.0, 150.0, "w")  # type: ignore[arg-type]
            delivered.append(order_id)
        later = NOON + timedelta(minutes=31)
        counts = await asyncio.gather(settle_due(Store(first, FixedClock(later))), settle_due(Store(second, FixedClock(later))))
        assert sum(counts) == 3
        async with Store(first, FixedClock(later)).reader() as uow:
            kinds = [(kind, ref) async for _id, kind, ref, _lines in uow.ledger.transactions() if kind == "settle"]
            assert sorted(kinds) == sorted(("settle", f"order:{o}") for o in delivered)
            for order_id in delivered:
                assert (await uow.orders.get(order_id)).status is Status.SETTLED  # type: ignore[union-attr]
        await assert_ledger_invariants(store)
    finally:
        await first.dispose()
        await second.dispose()

"""The end-of-day guarantee: workers who worked are topped up to the daily minimum from the pool."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from core.adapters.sql.board import SqlJobBoard
from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.ledger import service as money
from core.ledger.model import DEPOSITS, PAYOUTS, POOL, transfer
from core.members.model import Worker
from core.orders import service as orders
from core.schedule.jobs import end_of_day_topup
from core.seekers.screening import PassThroughScreener
from tests.clock import FixedClock
from tests.helpers import CHENNAI, Coop, assert_ledger_invariants, chain_events, seed_coop, settle_after_window

MINIMUM = 10_000  # ₹100 a day, set for these tests
EARNED = 2_400  # a worker's 80 % of the default ₹30 delivery fee

# Top-ups run once per business day and the PostgreSQL database is shared by the session, so
# each test owns three days of its own (the one before, the day, the one after).
_days = itertools.count()


@pytest.fixture
def clock() -> FixedClock:
    """Noon in Chennai on the middle one of three days no other test uses."""
    return FixedClock(datetime(2121, 1, 2, 6, 30, tzinfo=UTC) + timedelta(days=3 * next(_days)))


@pytest.fixture
def store(db: Database, clock: FixedClock) -> Store:
    return Store(db, clock)


@pytest.fixture
async def coop(store: Store) -> AsyncIterator[Coop]:
    """Three workers, a donor with ₹2,000, and a daily minimum of ₹100 (the old one restored after,
    since parameters are shared on PostgreSQL)."""
    tag = uuid.uuid4().hex[:8]
    seeded = await seed_coop(store, tag, n_workers=3)
    async with store.uow() as uow:
        previous = (await uow.params.current()).daily_minimum
        await uow.params.change("daily_minimum", MINIMUM, "setup")
        await money.record_deposit(uow, seeded.donor.id, 200_000, f"dep-{tag}", seeded.admin.actor, "cash")
    yield seeded
    async with store.uow() as uow:
        await uow.params.change("daily_minimum", previous, "setup")


async def deliver_meal(store: Store, coop: Coop, worker: Worker, tip: int = 0) -> None:
    """A ₹60 curd rice carried by `worker` and settled on the clock's day."""
    board, kitchen = SqlJobBoard(store.db), coop.restaurants[0]
    async with store.uow() as uow:
        order = await orders.start_order(uow, coop.donor, *CHENNAI, None, PassThroughScreener())
        await orders.fund_and_send(uow, order.id, coop.donor, kitchen.menu[0].id, tip)
        await orders.accept(uow, order.id, kitchen, board, "r")
    async with store.uow() as uow:
        assert (await orders.claim(uow, order.id, worker, board, "w")).won
        await orders.pickup(uow, order.id, worker, board, "w")
        await orders.deliver(uow, order.id, worker, "photo", *CHENNAI, "w")
    await settle_after_window(store, order.id)


async def fund_pool(store: Store, amount: int) -> None:
    """Money given straight to the guarantee pool."""
    async with store.uow() as uow:
        await uow.ledger.record(transfer("deposit", f"pool-{uuid.uuid4().hex}", DEPOSITS, POOL, amount), "admin")


async def empty_pool(store: Store) -> None:
    """Pay the pool out, so a test knows exactly what it holds (other tests fill it on PostgreSQL)."""
    async with store.uow() as uow:
        if (held := await uow.ledger.balance(POOL)) > 0:
            await uow.ledger.record(transfer("payout", f"drain-{uuid.uuid4().hex}", POOL, PAYOUTS, held), "admin")


async def balance(store: Store, account: str) -> int:
    async with store.reader() as uow:
        return await uow.ledger.balance(account)


async def test_a_worker_who_earned_below_the_minimum_is_topped_up_exactly_to_it(
    store: Store, clock: FixedClock, coop: Coop
) -> None:
    busy, idle_today, _ = coop.workers
    clock.advance(days=-1)
    await deliver_meal(store, coop, idle_today)  # yesterday's work does not count for today
    clock.advance(days=1)
    async with store.reader() as uow:
        day = uow.day
    await deliver_meal(store, coop, busy)
    await fund_pool(store, 100_000)
    pool_before = await balance(store, POOL)
    clock.advance(days=1)

    paid = await end_of_day_topup(store)  # runs for the day before the clock's

    assert paid == {busy.id: MINIMUM - EARNED}
    assert await balance(store, f"worker:{busy.id}") == MINIMUM
    assert await balance(store, f"worker:{idle_today.id}") == EARNED
    assert await balance(store, POOL) == pool_before - (MINIMUM - EARNED)
    async with store.reader() as uow:
        topup = await uow.ledger.existing("topup", day)
        assert topup is not None
        assert [e for e in await chain_events(uow, "topup.shortfall") if e.data["day"] == day] == []
    await assert_ledger_invariants(store)


async def test_a_worker_who_earned_the_minimum_or_more_gets_nothing(
    store: Store, clock: FixedClock, coop: Coop
) -> None:
    tipped = coop.workers[0]
    await deliver_meal(store, coop, tipped, tip=MINIMUM)
    await fund_pool(store, 100_000)
    clock.advance(days=1)

    assert await end_of_day_topup(store) == {}
    assert await balance(store, f"worker:{tipped.id}") == EARNED + MINIMUM
    await assert_ledger_invariants(store)


async def test_running_the_top_up_twice_for_a_day_pays_once(store: Store, clock: FixedClock, coop: Coop) -> None:
    worker = coop.workers[0]
    await deliver_meal(store, coop, worker)
    await fund_pool(store, 100_000)
    async with store.reader() as uow:
        day = uow.day
    clock.advance(days=1)

    first = await end_of_day_topup(store, day)
    second = await end_of_day_topup(store, day)

    assert (first, second) == ({worker.id: MINIMUM - EARNED}, {})
    assert await balance(store, f"worker:{worker.id}") == MINIMUM
    async with store.reader() as uow:
        topups = [ref async for _id, kind, ref, _lines in uow.ledger.transactions() if kind == "topup" and ref == day]
    assert topups == [day]
    await assert_ledger_invariants(store)


async def test_a_short_pool_is_shared_pro_rata_down_to_exactly_zero_and_the_shortfall_recorded(
    store: Store, clock: FixedClock, coop: Coop
) -> None:
    plain, tipped, idle = coop.workers
    await empty_pool(store)
    await deliver_meal(store, coop, plain)  # earns 2 400, needs 7 600; pool +300
    await deliver_meal(store, coop, tipped, tip=1_000)  # earns 3 400, needs 6 600; pool +300
    await fund_pool(store, 2_000)  # 2 600 in the pool for 14 200 of needs
    async with store.reader() as uow:
        day = uow.day
    clock.advance(days=1)

    paid = await end_of_day_topup(store)

    # 7 600 × 2 600 / 14 200 ≈ 1 391.55 and 6 600 × 2 600 / 14 200 ≈ 1 208.45, floored; the one
    # paisa lost to flooring goes to the larger need.
    assert paid == {plain.id: 1_392, tipped.id: 1_208}
    assert await balance(store, POOL) == 0
    assert await balance(store, f"worker:{plain.id}") == 2_400 + 1_392
    assert await balance(store, f"worker:{tipped.id}") == 3_400 + 1_208
    assert await balance(store, f"worker:{idle.id}") == 0
    async with store.reader() as uow:
        shortfalls = [e for e in await chain_events(uow, "topup.shortfall") if e.data["day"] == day]
    assert [(e.actor, e.data) for e in shortfalls] == [
        ("scheduler", {"day": day, "needed": 14_200, "paid": 2_600, "worker_ids": sorted([plain.id, tipped.id])})
    ]
    await assert_ledger_invariants(store)

"""Stuck orders time out: each stage once, money exact, the clock only moved by the test."""

from __future__ import annotations

import pytest

from core.adapters.sql.board import SqlJobBoard
from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.orders import service as orders
from core.orders import timeouts
from core.orders.lifecycle import Status
from core.schedule.jobs import time_out_stuck_orders
from tests.clock import FixedClock
from tests.helpers import assert_ledger_invariants, chain_events
from tests.test_order_paths import DEPOSIT, NOON, seed_apart, send, status_of


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOON)


@pytest.fixture
def store(db: Database, clock: FixedClock) -> Store:
    return Store(db, clock)


@pytest.fixture
def board(db: Database) -> SqlJobBoard:
    return SqlJobBoard(db)


async def _stages(store: Store, order_id: int) -> list[str]:
    async with store.reader() as uow:
        return [e.data["stage"] for e in await chain_events(uow, "order.timed_out") if e.data["order_id"] == order_id]


async def run(store: Store, board: SqlJobBoard, order_id: int) -> list[str]:
    """Run the timeout job once; the stages it did to this order (the PostgreSQL database is
    shared, so other tests' orders may time out too)."""
    before = await _stages(store, order_id)
    await time_out_stuck_orders(store, board)
    return (await _stages(store, order_id))[len(before):]


async def test_a_restaurant_that_never_answers_loses_the_order_to_the_next_one(
    store: Store, board: SqlJobBoard, clock: FixedClock
) -> None:
    # The donor pays 7 000 sambar rice + 3 000 fee; the near kitchen says nothing for 10 minutes.
    coop, spot = await seed_apart(store)
    near, far = coop.restaurants
    order = await send(store, coop, spot, near.menu[1].id)
    clock.advance(minutes=9)
    assert await run(store, board, order.id) == []
    clock.advance(minutes=1)
    assert await run(store, board, order.id) == ["restaurant"]
    assert await run(store, board, order.id) == []  # twice: nothing more

    async with store.reader() as uow:
        moved = await status_of(uow, order.id)
        assert (moved.status, moved.restaurant_id, moved.meal_price) == (Status.AT_RESTAURANT, far.id, 5_500)
        assert await uow.ledger.balance(f"donor:{coop.donor.id}") == DEPOSIT - 10_000 + 1_500
        assert await uow.ledger.balance(f"escrow:order:{order.id}") == 5_500 + 3_000
        assert await uow.restaurants.used(near.id, uow.day) == 0
        assert await uow.restaurants.used(far.id, uow.day) == 1
    assert await _stages(store, order.id) == ["restaurant"]
    async with store.uow() as uow:  # the silent kitchen's Accept no longer acts
        with pytest.raises(orders.OrderError) as late:
            await orders.accept(uow, order.id, near, board, "person:r1")
    assert late.value.code == "moved_on"

    # The far kitchen is silent too: nobody is left, so everything comes back.
    clock.advance(minutes=10)
    assert await run(store, board, order.id) == ["restaurant"]
    async with store.reader() as uow:
        assert (await status_of(uow, order.id)).status is Status.DECLINED
        assert await uow.ledger.balance(f"donor:{coop.donor.id}") == DEPOSIT
        assert await uow.ledger.balance(f"escrow:order:{order.id}") == 0
        assert await uow.restaurants.used(far.id, uow.day) == 0
    await assert_ledger_invariants(store)


async def test_a_job_nobody_claims_is_widened_then_the_donor_may_abandon_it_paying_the_kitchen(
    store: Store, board: SqlJobBoard, clock: FixedClock
) -> None:
    # 6 000 curd rice + 3 000 fee + 1 000 tip in escrow; accepted, then nobody claims.
    coop, spot = await seed_apart(store)
    kitchen = coop.restaurants[0]
    order = await send(store, coop, spot, kitchen.menu[0].id, tip=1_000)
    async with store.uow() as uow:
        await orders.accept(uow, order.id, kitchen, board, "person:r1")
    clock.advance(minutes=20)
    assert await run(store, board, order.id) == ["widen"]
    clock.advance(minutes=40)
    assert await run(store, board, order.id) == ["give_up"]
    assert await run(store, board, order.id) == []
    async with store.uow() as uow:
        await timeouts.keep_waiting(uow, order.id, coop.donor)
    clock.advance(minutes=60)
    assert await run(store, board, order.id) == ["give_up"]  # asked again

    async with store.uow() as uow:
        done, paid, refund = await timeouts.abandon(uow, order.id, coop.donor, board)
    assert (done.status, paid, refund) == (Status.ABANDONED, 6_000, 4_000)
    async with store.reader() as uow:
        assert await uow.ledger.balance(f"restaurant:{kitchen.id}") == 6_000
        assert await uow.ledger.balance(f"donor:{coop.donor.id}") == DEPOSIT - 6_000
        assert await uow.ledger.balance(f"escrow:order:{order.id}") == 0
        assert await uow.restaurants.used(kitchen.id, uow.day) == 1  # the meal was cooked
        tx = await uow.ledger.existing("abandon", f"order:{order.id}:abandon")
        assert tx is not None
        assert sorted(await uow.ledger.postings_of(tx)) == sorted(
            [(f"escrow:order:{order.id}", -6_000), (f"restaurant:{kitchen.id}", 6_000)])
    assert [e.job.order_id for e in await board.entries() if e.job.order_id == order.id] == []
    assert await _stages(store, order.id) == ["widen", "give_up", "kept_waiting", "give_up"]
    clock.advance(minutes=120)
    assert await run(store, board, order.id) == []  # an abandoned order never times out again
    await assert_ledger_invariants(store)


async def test_a_claim_while_the_question_is_pending_makes_abandoning_harmless(
    store: Store, board: SqlJobBoard, clock: FixedClock
) -> None:
    coop, spot = await seed_apart(store)
    kitchen, worker = coop.restaurants[0], coop.workers[0]
    order = await send(store, coop, spot, kitchen.menu[0].id)
    async with store.uow() as uow:
        await orders.accept(uow, order.id, kitchen, board, "person:r1")
    clock.advance(minutes=60)
    assert await run(store, board, order.id) == ["widen", "give_up"]
    async with store.uow() as uow:
        assert (await orders.claim(uow, order.id, worker, board, "person:w1")).won
    async with store.uow() as uow:
        with pytest.raises(orders.OrderError) as late:
            await timeouts.abandon(uow, order.id, coop.donor, board)
    assert late.value.code == "already_claimed"
    async with store.reader() as uow:
        assert (await status_of(uow, order.id)).status is Status.CLAIMED
        assert await uow.ledger.balance(f"escrow:order:{order.id}") == 9_000
    await assert_ledger_invariants(store)


async def test_a_worker_who_does_not_come_is_asked_and_then_the_job_goes_back(
    store: Store, board: SqlJobBoard, clock: FixedClock
) -> None:
    coop, spot = await seed_apart(store)
    kitchen, worker = coop.restaurants[0], coop.workers[0]
    order = await send(store, coop, spot, kitchen.menu[0].id)
    async with store.uow() as uow:
        await orders.accept(uow, order.id, kitchen, board, "person:r1")
    async with store.uow() as uow:
        assert (await orders.claim(uow, order.id, worker, board, "person:w1")).won
    clock.advance(minutes=30)
    assert await run(store, board, order.id) == ["pickup_ask"]
    clock.advance(minutes=9)
    assert await run(store, board, order.id) == []
    clock.advance(minutes=1)
    assert await run(store, board, order.id) == ["pickup_release"]
    async with store.reader() as uow:
        back = await status_of(uow, order.id)
        assert (back.status, back.worker_id) == (Status.ON_BOARD, None)
        assert await uow.ledger.balance(f"escrow:order:{order.id}") == 9_000
        moves = [e.data["transition"] for e in await chain_events(uow, "order.transitioned") if e.data["order_id"] == order.id]
    assert moves[-1] == "release"
    [entry] = [e for e in await board.entries() if e.job.order_id == order.id]
    assert entry.claimed_by is None
    await assert_ledger_invariants(store)


async def test_a_worker_on_the_way_keeps_the_job_and_one_who_gives_it_back_frees_it(
    store: Store, board: SqlJobBoard, clock: FixedClock
) -> None:
    coop, spot = await seed_apart(store)
    kitchen, first, second = coop.restaurants[0], *coop.workers[:2]
    order = await send(store, coop, spot, kitchen.menu[0].id)
    async with store.uow() as uow:
        await orders.accept(uow, order.id, kitchen, board, "person:r1")
    async with store.uow() as uow:
        assert (await orders.claim(uow, order.id, first, board, "person:w1")).won
    clock.advance(minutes=30)
    assert await run(store, board, order.id) == ["pickup_ask"]
    async with store.uow() as uow:
        await timeouts.still_coming(uow, order.id, first, "person:w1")
    clock.advance(minutes=30)
    assert await run(store, board, order.id) == []
    async with store.uow() as uow:
        await timeouts.give_back(uow, order.id, first, board, "person:w1")
    async with store.uow() as uow:
        assert (await orders.claim(uow, order.id, second, board, "person:w2")).won
    async with store.reader() as uow:
        assert (await status_of(uow, order.id)).worker_id == second.id


async def test_a_late_delivery_is_nudged_once_and_settled_orders_are_left_alone(
    store: Store, board: SqlJobBoard, clock: FixedClock
) -> None:
    coop, spot = await seed_apart(store)
    kitchen, worker = coop.restaurants[0], coop.workers[0]
    order = await send(store, coop, spot, kitchen.menu[0].id)
    async with store.uow() as uow:
        await orders.accept(uow, order.id, kitchen, board, "person:r1")
    async with store.uow() as uow:
        assert (await orders.claim(uow, order.id, worker, board, "person:w1")).won
    async with store.uow() as uow:
        await orders.pickup(uow, order.id, worker, board, "person:w1")
    clock.advance(minutes=59)
    assert await run(store, board, order.id) == []
    clock.advance(minutes=1)
    assert await run(store, board, order.id) == ["delivery"]
    clock.advance(minutes=60)
    assert await run(store, board, order.id) == []
    async with store.uow() as uow:
        await orders.deliver(uow, order.id, worker, None, *spot, "person:w1")
    clock.advance(minutes=600)
    assert await run(store, board, order.id) == []
    assert await _stages(store, order.id) == ["delivery"]
    await assert_ledger_invariants(store)

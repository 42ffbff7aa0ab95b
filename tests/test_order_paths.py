"""Order paths beyond the happy meal: reject and reroute, decline, cancel, wrong hands, lost claims."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime

import pytest

from core.adapters.sql.board import SqlJobBoard
from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store, UnitOfWork
from core.ledger import service as money
from core.ledger.model import INFRA, POOL
from core.orders import service as orders
from core.orders.lifecycle import IllegalTransition, Status
from core.orders.model import Order
from core.seekers.screening import PassThroughScreener
from tests.clock import FixedClock
from tests.helpers import Coop, assert_ledger_invariants, chain_events, seed_coop, settle_after_window

NOON = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)  # 12:00 in Chennai
DEPOSIT = 100_000

# The PostgreSQL database is shared by the session and rerouting picks the next *nearest*
# restaurant, so each test's cooperative sits at a place of its own, out of range of all others.
_places = itertools.count()


@pytest.fixture
def store(db: Database) -> Store:
    return Store(db, FixedClock(NOON))


@pytest.fixture
def board(db: Database) -> SqlJobBoard:
    return SqlJobBoard(db)


async def seed_apart(store: Store) -> tuple[Coop, tuple[float, float]]:
    """seed_coop's cooperative (same menus and distances) around a fresh place; (coop, seeker spot)."""
    tag = uuid.uuid4().hex[:8]
    lat, lng = -40.0 + next(_places) * 0.2, 150.0  # 0.2° ≈ 22 km apart; the radius is 5 km
    coop = await seed_coop(store, tag, at=(lat, lng))
    async with store.uow() as uow:
        await money.record_deposit(uow, coop.donor.id, DEPOSIT, f"dep-{tag}", coop.admin.actor, "cash")
    return coop, (lat, lng)


async def send(store: Store, coop: Coop, spot: tuple[float, float], item_id: int, tip: int = 0) -> Order:
    """An order for the seeker at `spot`, funded from the donor's balance and sent to the item's kitchen."""
    async with store.uow() as uow:
        order = await orders.start_order(uow, coop.donor, *spot, None, PassThroughScreener())
        return await orders.fund_and_send(uow, order.id, coop.donor, item_id, tip)


async def status_of(uow: UnitOfWork, order_id: int) -> Order:
    found = await uow.orders.get(order_id)
    assert found is not None
    return found


async def test_a_rejected_order_goes_to_the_next_nearest_kitchen_with_the_price_difference_refunded(
    store: Store, board: SqlJobBoard
) -> None:
    coop, spot = await seed_apart(store)
    near, far = coop.restaurants
    sambar = near.menu[1]
    assert (sambar.name, sambar.price) == ("Sambar rice", 7000)
    order = await send(store, coop, spot, sambar.id)  # 7 000 meal + 3 000 fee in escrow

    async with store.uow() as uow:
        await orders.reject(uow, order.id, near, "person:r1")

    async with store.reader() as uow:
        moved = await status_of(uow, order.id)
        assert moved.status is Status.AT_RESTAURANT
        # far's dearest meal within the 7 000 paid: Lemon rice (its Veg biryani costs 8 000)
        assert (moved.restaurant_id, moved.meal_name, moved.meal_price) == (far.id, "Lemon rice", 5500)
        assert moved.tried_restaurants == [near.id, far.id]
        assert await uow.ledger.balance(f"donor:{coop.donor.id}") == DEPOSIT - 10_000 + 1_500
        assert await uow.ledger.balance(f"escrow:order:{order.id}") == 5_500 + 3_000
        assert await uow.restaurants.used(near.id, uow.day) == 0
        assert await uow.restaurants.used(far.id, uow.day) == 1
        reroutes = [e.data for e in await chain_events(uow, "order.transitioned")
                    if e.data["order_id"] == order.id and e.data["transition"] == "reroute"]  # fmt: skip
    assert [r["details"] for r in reroutes] == [{"previous": near.id, "restaurant_id": far.id, "refund": 1_500}]

    async with store.uow() as uow:
        await orders.accept(uow, order.id, far, board, "person:r2")
    assert [e.job.order_id for e in await board.entries() if e.job.order_id == order.id] == [order.id]
    await assert_ledger_invariants(store)


async def test_a_rerouted_order_gets_the_dearest_meal_within_what_was_paid_not_the_cheapest(store: Store) -> None:
    # An ₹80 biryani at the far kitchen is rejected; the near kitchen offers curd rice ₹60 and
    # sambar rice ₹70: the seeker gets the sambar rice and the donor ₹10 back (not ₹20).
    coop, spot = await seed_apart(store)
    near, far = coop.restaurants
    biryani = far.menu[1]
    assert (biryani.name, biryani.price) == ("Veg biryani", 8000)
    order = await send(store, coop, spot, biryani.id)

    async with store.uow() as uow:
        await orders.reject(uow, order.id, far, "person:r2")

    async with store.reader() as uow:
        moved = await status_of(uow, order.id)
        assert (moved.restaurant_id, moved.meal_name, moved.meal_price) == (near.id, "Sambar rice", 7000)
        assert await uow.ledger.balance(f"donor:{coop.donor.id}") == DEPOSIT - 11_000 + 1_000
        assert await uow.ledger.balance(f"escrow:order:{order.id}") == 7_000 + 3_000
    await assert_ledger_invariants(store)


async def test_a_reroute_after_midnight_holds_and_returns_the_new_kitchens_capacity_on_the_day_it_took_it(
    store: Store,
) -> None:
    # Sent to the near kitchen on day 1; the near kitchen rejects after midnight, so the far one
    # takes a unit of day 2's capacity. Cancelling must return that very unit (found by the
    # stateful test: the order used to keep day 1 as its capacity day).
    coop, spot = await seed_apart(store)
    near, far = coop.restaurants
    order = await send(store, coop, spot, near.menu[1].id)
    async with store.reader() as uow:
        first_day = uow.day
    store.clock.advance(days=1)  # type: ignore[attr-defined]
    async with store.uow() as uow:
        second_day = uow.day
        await orders.reject(uow, order.id, near, "person:r1")

    async with store.reader() as uow:
        moved = await status_of(uow, order.id)
        assert (moved.restaurant_id, moved.capacity_day) == (far.id, second_day)
        assert [await uow.restaurants.used(k.id, d) for k in (near, far) for d in (first_day, second_day)] == [0, 0, 0, 1]
    async with store.uow() as uow:
        await orders.cancel(uow, order.id, coop.donor, SqlJobBoard(store.db))
    async with store.reader() as uow:
        assert [await uow.restaurants.used(k.id, d) for k in (near, far) for d in (first_day, second_day)] == [0, 0, 0, 0]
        assert await uow.ledger.balance(f"donor:{coop.donor.id}") == DEPOSIT
    await assert_ledger_invariants(store)


async def test_when_both_kitchens_reject_the_order_is_declined_refunded_in_full_and_both_released(
    store: Store,
) -> None:
    coop, spot = await seed_apart(store)
    near, far = coop.restaurants
    order = await send(store, coop, spot, near.menu[1].id, tip=500)

    async with store.uow() as uow:
        await orders.reject(uow, order.id, near, "person:r1")
    async with store.uow() as uow:
        declined = await orders.reject(uow, order.id, far, "person:r2")

    assert declined.status is Status.DECLINED
    async with store.reader() as uow:
        assert (await status_of(uow, order.id)).status is Status.DECLINED
        assert await uow.ledger.balance(f"donor:{coop.donor.id}") == DEPOSIT
        assert await uow.ledger.balance(f"escrow:order:{order.id}") == 0
        assert await uow.restaurants.used(near.id, uow.day) == 0
        assert await uow.restaurants.used(far.id, uow.day) == 0
    await assert_ledger_invariants(store)


@pytest.mark.parametrize("stage", [Status.AT_RESTAURANT, Status.ON_BOARD, Status.CLAIMED], ids=str)
async def test_cancelling_before_pickup_refunds_all_releases_capacity_and_clears_the_board(
    store: Store, board: SqlJobBoard, stage: Status
) -> None:
    coop, spot = await seed_apart(store)
    kitchen, worker = coop.restaurants[0], coop.workers[0]
    order = await send(store, coop, spot, kitchen.menu[0].id, tip=1_000)  # 6 000 + 3 000 + 1 000
    if stage is not Status.AT_RESTAURANT:
        async with store.uow() as uow:
            await orders.accept(uow, order.id, kitchen, board, "person:r1")
    if stage is Status.CLAIMED:
        async with store.uow() as uow:
            assert (await orders.claim(uow, order.id, worker, board, "person:w1")).won
    async with store.reader() as uow:
        assert (await status_of(uow, order.id)).status is stage

    async with store.uow() as uow:
        cancelled, refund = await orders.cancel(uow, order.id, coop.donor, board)

    assert (cancelled.status, refund) == (Status.CANCELLED, 10_000)
    async with store.reader() as uow:
        assert (await status_of(uow, order.id)).status is Status.CANCELLED
        assert await uow.ledger.balance(f"donor:{coop.donor.id}") == DEPOSIT
        assert await uow.ledger.balance(f"escrow:order:{order.id}") == 0
        assert await uow.restaurants.used(kitchen.id, uow.day) == 0
    assert order.id not in {e.job.order_id for e in await board.entries()}
    await assert_ledger_invariants(store)


async def test_cancelling_after_pickup_is_refused_and_changes_nothing(store: Store, board: SqlJobBoard) -> None:
    coop, spot = await seed_apart(store)
    kitchen, worker = coop.restaurants[0], coop.workers[0]
    order = await send(store, coop, spot, kitchen.menu[0].id)
    async with store.uow() as uow:
        await orders.accept(uow, order.id, kitchen, board, "person:r1")
    async with store.uow() as uow:
        await orders.claim(uow, order.id, worker, board, "person:w1")
    async with store.uow() as uow:
        await orders.pickup(uow, order.id, worker, board, "person:w1")
    async with store.reader() as uow:
        before = (await status_of(uow, order.id), await uow.ledger.balances(), await uow.chain.head())

    with pytest.raises(IllegalTransition, match="cannot 'cancel' from 'picked_up'"):
        async with store.uow() as uow:
            await orders.cancel(uow, order.id, coop.donor, board)

    async with store.reader() as uow:
        after = (await status_of(uow, order.id), await uow.ledger.balances(), await uow.chain.head())
        assert await uow.restaurants.used(kitchen.id, uow.day) == 1
    assert after == before
    assert after[0].status is Status.PICKED_UP
    await assert_ledger_invariants(store)


async def test_a_kitchen_cannot_accept_or_reject_another_kitchens_order(store: Store, board: SqlJobBoard) -> None:
    coop, spot = await seed_apart(store)
    mine, other = coop.restaurants
    order = await send(store, coop, spot, mine.menu[0].id)

    for act in (lambda uow: orders.accept(uow, order.id, other, board, "person:r2"),
                lambda uow: orders.reject(uow, order.id, other, "person:r2")):  # fmt: skip
        with pytest.raises(orders.OrderError) as refused:
            async with store.uow() as uow:
                await act(uow)
        assert (refused.value.code, refused.value.order_id) == ("not_yours", order.id)

    async with store.reader() as uow:
        assert (await status_of(uow, order.id)).restaurant_id == mine.id
        assert (await status_of(uow, order.id)).status is Status.AT_RESTAURANT
    assert order.id not in {e.job.order_id for e in await board.entries()}


async def test_accepting_the_same_order_twice_is_refused(store: Store, board: SqlJobBoard) -> None:
    coop, spot = await seed_apart(store)
    kitchen = coop.restaurants[0]
    order = await send(store, coop, spot, kitchen.menu[0].id)
    async with store.uow() as uow:
        await orders.accept(uow, order.id, kitchen, board, "person:r1")

    with pytest.raises(orders.OrderError) as refused:
        async with store.uow() as uow:
            await orders.accept(uow, order.id, kitchen, board, "person:r1")

    assert refused.value.code == "already_on_board"
    async with store.reader() as uow:
        accepted = await status_of(uow, order.id)
        moves = [e.data["transition"] for e in await chain_events(uow, "order.transitioned")
                 if e.data["order_id"] == order.id]  # fmt: skip
    assert (accepted.status, moves.count("accept"), moves.count("post")) == (Status.ON_BOARD, 1, 1)
    assert [e.job.order_id for e in await board.entries()].count(order.id) == 1


async def test_a_second_worker_claiming_later_loses_and_is_told_who_won(store: Store, board: SqlJobBoard) -> None:
    coop, spot = await seed_apart(store)
    kitchen, (first, second) = coop.restaurants[0], coop.workers
    order = await send(store, coop, spot, kitchen.menu[0].id)
    async with store.uow() as uow:
        await orders.accept(uow, order.id, kitchen, board, "person:r1")
    async with store.uow() as uow:
        won = await orders.claim(uow, order.id, first, board, "person:w1")

    async with store.uow() as uow:
        lost = await orders.claim(uow, order.id, second, board, "person:w2")

    assert (won.won, won.winner) == (True, first.id)
    assert (lost.won, lost.winner) == (False, first.id)
    async with store.reader() as uow:
        claimed = await status_of(uow, order.id)
    assert (claimed.status, claimed.worker_id) == (Status.CLAIMED, first.id)
    with pytest.raises(orders.OrderError, match="not_yours"):
        async with store.uow() as uow:
            await orders.pickup(uow, order.id, second, board, "person:w2")


async def test_simultaneous_claims_have_exactly_one_winner_whom_the_other_is_told(
    store: Store, board: SqlJobBoard
) -> None:
    coop, spot = await seed_apart(store)
    kitchen, workers = coop.restaurants[0], coop.workers
    order = await send(store, coop, spot, kitchen.menu[0].id)
    async with store.uow() as uow:
        await orders.accept(uow, order.id, kitchen, board, "person:r1")

    async def tap(worker_index: int) -> orders.ClaimResult:
        async with store.uow() as uow:
            return await orders.claim(uow, order.id, workers[worker_index], board, "w")

    results = await asyncio.gather(tap(0), tap(1))

    winners = [r for r in results if r.won]
    assert len(winners) == 1
    assert {r.winner for r in results} == {winners[0].winner}
    async with store.reader() as uow:
        assert (await status_of(uow, order.id)).worker_id == winners[0].winner


async def test_delivery_settles_with_exact_balances(store: Store, board: SqlJobBoard) -> None:
    coop, spot = await seed_apart(store)
    kitchen, worker = coop.restaurants[0], coop.workers[0]
    async with store.reader() as uow:
        pool, infra = await uow.ledger.balance(POOL), await uow.ledger.balance(INFRA)
    order = await send(store, coop, spot, kitchen.menu[0].id, tip=1_500)  # 6 000 + 3 000 + 1 500
    async with store.uow() as uow:
        await orders.accept(uow, order.id, kitchen, board, "person:r1")
    async with store.uow() as uow:
        await orders.claim(uow, order.id, worker, board, "person:w1")
    async with store.uow() as uow:
        await orders.pickup(uow, order.id, worker, board, "person:w1")

    async with store.uow() as uow:
        delivered = await orders.deliver(uow, order.id, worker, "photo-1", *spot, "person:w1")
    assert delivered.status is Status.DELIVERED
    delivered, tx_id = await settle_after_window(store, order.id)

    assert delivered.status is Status.SETTLED
    async with store.reader() as uow:
        assert (await status_of(uow, order.id)).status is Status.SETTLED
        settle = [lines async for t, _kind, _ref, lines in uow.ledger.transactions() if t == tx_id]
        assert await uow.ledger.balance(f"donor:{coop.donor.id}") == DEPOSIT - 10_500
        assert await uow.ledger.balance(f"restaurant:{kitchen.id}") == 6_000
        assert await uow.ledger.balance(f"worker:{worker.id}") == 2_400 + 1_500
        assert await uow.ledger.balance(POOL) - pool == 300
        assert await uow.ledger.balance(INFRA) - infra == 300
        assert await uow.ledger.balance(f"escrow:order:{order.id}") == 0
        counters = {rid: (r, c) for rid, _p, r, c in await uow.restaurants.counters(uow.day)}
    assert sorted(map(tuple, settle[0])) == sorted([
        (f"restaurant:{kitchen.id}", 6_000), (f"worker:{worker.id}", 2_400), (f"worker:{worker.id}", 1_500),
        (POOL, 300), (INFRA, 300), (f"escrow:order:{order.id}", -10_500),
    ])  # fmt: skip
    assert counters[kitchen.id] == (0, 1)  # reserved unit turned into a completed one
    assert order.id not in {e.job.order_id for e in await board.entries()}
    await assert_ledger_invariants(store)

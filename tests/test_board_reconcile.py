"""Board reconciliation: after a crash between an order change and its board step, both agree again."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from core.adapters.redis.board import RedisJobBoard
from core.adapters.sql.board import SqlJobBoard
from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.board.base import JobBoard
from core.ledger import service as money
from core.orders import service as orders
from core.orders.lifecycle import Status
from core.orders.model import Order
from core.schedule.jobs import reconcile_board
from core.seekers.screening import PassThroughScreener
from tests.clock import FixedClock
from tests.helpers import CHENNAI, Coop, chain_events, seed_coop

NOON = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)  # 12:00 in Chennai
NOTHING_TO_FIX = {"posted": 0, "removed": 0, "claims_applied": 0, "released": 0}


@pytest.fixture(
    params=[
        "sql-sqlite",
        pytest.param("sql-postgres", marks=pytest.mark.postgres),
        pytest.param("redis-postgres", marks=[pytest.mark.postgres, pytest.mark.redis]),
    ]
)
def backend(request: pytest.FixtureRequest) -> tuple[Database, str | None]:
    """The orders' database and, for the Redis board, the Redis URL.

    Synchronous on purpose: pytest-asyncio cannot set up the async database fixtures from inside
    another async fixture."""
    if request.param == "sql-sqlite":
        return request.getfixturevalue("sqlite_db"), None
    db = request.getfixturevalue("pg_db")
    return db, (request.getfixturevalue("redis_url") if request.param == "redis-postgres" else None)


@pytest.fixture
def store(backend: tuple[Database, str | None]) -> Store:
    return Store(backend[0], FixedClock(NOON))


@pytest.fixture
async def board(backend: tuple[Database, str | None], redis_prefix: str) -> AsyncIterator[JobBoard]:
    """The SQL board on the orders' database, or a Redis board under this test's own prefix."""
    db, redis_url = backend
    built: JobBoard = SqlJobBoard(db) if redis_url is None else RedisJobBoard(redis_url, prefix=redis_prefix)
    yield built
    await built.close()


async def accepted_order(store: Store, board: JobBoard) -> tuple[Coop, Order]:
    """A funded order its kitchen accepted (so its job was posted after commit)."""
    tag = uuid.uuid4().hex[:8]
    coop = await seed_coop(store, tag)
    kitchen = coop.restaurants[0]
    async with store.uow() as uow:
        await money.record_deposit(uow, coop.donor.id, 50_000, f"dep-{tag}", coop.admin.actor, "cash")
        order = await orders.start_order(uow, coop.donor, *CHENNAI, None, PassThroughScreener())
        await orders.fund_and_send(uow, order.id, coop.donor, kitchen.menu[0].id, tip=0)
        order = await orders.accept(uow, order.id, kitchen, board, "person:r1")
    return coop, order


async def reload(store: Store, order_id: int) -> Order:
    async with store.reader() as uow:
        found = await uow.orders.get(order_id)
    assert found is not None
    return found


async def assert_board_agrees(store: Store, board: JobBoard, order: Order) -> None:
    """Open job iff ON_BOARD; a claimed entry only for the CLAIMED order's worker; else nothing."""
    current = await reload(store, order.id)
    entry = next((e for e in await board.entries() if e.job.order_id == order.id), None)
    if current.status is Status.ON_BOARD:
        assert entry is not None and entry.claimed_by is None
    elif current.status is Status.CLAIMED:
        assert entry is None or entry.claimed_by == current.worker_id
    else:
        assert entry is None, f"{current.status} order still on the board"


async def test_a_job_lost_between_accepting_and_posting_is_posted_again(store: Store, board: JobBoard) -> None:
    coop, order = await accepted_order(store, board)
    await board.remove(order.id)  # as if the process died before the post after commit

    fixed = await reconcile_board(store, board)

    assert fixed["posted"] >= 1
    kitchen = coop.restaurants[0]
    expected = orders.job_for(order, kitchen, await store.params())
    assert [j for j in await board.open_jobs([kitchen.zone]) if j.order_id == order.id] == [expected]
    assert (await reload(store, order.id)).status is Status.ON_BOARD
    await assert_board_agrees(store, board, order)
    assert await reconcile_board(store, board) == NOTHING_TO_FIX


async def test_a_board_claim_the_order_never_heard_of_is_rolled_forward(store: Store, board: JobBoard) -> None:
    coop, order = await accepted_order(store, board)
    worker = coop.workers[1]
    assert (await board.claim(order.id, worker.id)).won  # then the process died before the order update

    fixed = await reconcile_board(store, board)

    assert fixed["claims_applied"] >= 1
    claimed = await reload(store, order.id)
    assert (claimed.status, claimed.worker_id) == (Status.CLAIMED, worker.id)
    async with store.reader() as uow:
        claims = [(e.actor, e.data["details"]) for e in await chain_events(uow, "order.transitioned")
                  if e.data["order_id"] == order.id and e.data["transition"] == "claim"]  # fmt: skip
    assert claims == [("system", {"worker_id": worker.id})]
    await assert_board_agrees(store, board, order)
    assert await reconcile_board(store, board) == NOTHING_TO_FIX
    # the roll-forward is a real claim: a later tap by someone else learns who won
    async with store.uow() as uow:
        late = await orders.claim(uow, order.id, coop.workers[0], board, "person:w1")
    assert (late.won, late.winner) == (False, worker.id)


async def test_a_job_whose_order_was_cancelled_is_removed(store: Store, board: JobBoard) -> None:
    coop, order = await accepted_order(store, board)
    async with store.uow() as uow:
        await orders.cancel(uow, order.id, coop.donor, board)
    # as if the removal after the cancel never happened
    await board.post(orders.job_for(order, coop.restaurants[0], await store.params()))

    fixed = await reconcile_board(store, board)

    assert fixed["removed"] >= 1
    assert (await reload(store, order.id)).status is Status.CANCELLED
    assert order.id not in {e.job.order_id for e in await board.entries()}
    await assert_board_agrees(store, board, order)
    assert await reconcile_board(store, board) == NOTHING_TO_FIX

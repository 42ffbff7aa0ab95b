"""The JobBoard contract, held against every backend: SQL on SQLite and PostgreSQL, and Redis."""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import cast

import pytest

from core.adapters.redis.board import RedisJobBoard
from core.adapters.sql.board import SqlJobBoard
from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.board.base import ClaimResult, Job, JobBoard
from core.shared.clock import SystemClock

# The PostgreSQL database is shared by the whole session, so ids are fresh rather than cleaned
# up: a random base (well inside a 32-bit INTEGER) and a counter never repeat within a run.
_order_ids = itertools.count(random.randrange(1, 2**30))


def fresh_order_id() -> int:
    """An order id no other test in this session uses."""
    return next(_order_ids)


def fresh_zone() -> str:
    """A zone no other test uses, so open_jobs sees only this test's jobs."""
    return "z" + uuid.uuid4().hex[:11]  # board_jobs.zone is 12 characters


def job(posted_at: float, zone: str, **payload: object) -> Job:
    """A job with a fresh order id."""
    return Job(order_id=fresh_order_id(), zone=zone, posted_at=posted_at, payload=dict(payload))


@dataclass(frozen=True)
class RedisTarget:
    """Where a Redis board lives: the server and this test's own key prefix."""

    url: str
    prefix: str


@pytest.fixture(
    params=[
        "sql-sqlite",
        pytest.param("sql-postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def board_target(request: pytest.FixtureRequest) -> Database | RedisTarget:
    """The storage one backend runs on.

    Synchronous on purpose: pytest-asyncio cannot set up an async fixture (sqlite_db, pg_db) or
    the migrating session fixtures (their Alembic env.py calls asyncio.run()) from inside
    another async fixture, whose event loop is already running.
    """
    if request.param == "sql-sqlite":
        return cast(Database, request.getfixturevalue("sqlite_db"))
    if request.param == "sql-postgres":
        return cast(Database, request.getfixturevalue("pg_db"))
    url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
    return RedisTarget(url, prefix)


@pytest.fixture
async def board(board_target: Database | RedisTarget) -> AsyncIterator[JobBoard]:
    """Each contract test runs once on every backend."""
    built: JobBoard
    if isinstance(board_target, RedisTarget):
        built = RedisJobBoard(board_target.url, prefix=board_target.prefix)
    else:
        built = SqlJobBoard(board_target)
    yield built
    await built.close()


class TestJobBoardContract:
    """What every board backend promises."""

    async def test_every_open_job_in_the_zones_is_listed_oldest_first(
        self, board: JobBoard
    ) -> None:
        """Jobs from the asked zones come oldest first, ties by order id; other zones stay out."""
        here, there, elsewhere = fresh_zone(), fresh_zone(), fresh_zone()
        newest = job(300.0, here, restaurant="Dosa Corner")
        oldest = job(100.0, there, restaurant="Idli House")
        tie_low = job(200.0, here)
        tie_high = job(200.0, there)
        ignored = job(50.0, elsewhere)
        for posted in (newest, tie_high, ignored, oldest, tie_low):
            await board.post(posted)

        listed = await board.open_jobs([here, there])

        assert listed == [oldest, tie_low, tie_high, newest]

    async def test_no_zones_list_no_jobs(self, board: JobBoard) -> None:
        """Asking about no zones at all is an empty answer, not an error."""
        await board.post(job(1.0, fresh_zone()))

        assert await board.open_jobs([]) == []

    async def test_claimed_job_leaves_the_open_list(self, board: JobBoard) -> None:
        """Once claimed, a job is no longer offered to other workers."""
        zone = fresh_zone()
        first, second = job(1.0, zone), job(2.0, zone)
        await board.post(first)
        await board.post(second)

        result = await board.claim(first.order_id, worker_id=7)

        assert result == ClaimResult(first.order_id, won=True, winner=7)
        assert await board.open_jobs([zone]) == [second]

    async def test_second_claimer_is_told_who_won(self, board: JobBoard) -> None:
        """A later claim by someone else loses and names the first claimer."""
        posted = job(1.0, fresh_zone())
        await board.post(posted)
        await board.claim(posted.order_id, worker_id=7)

        result = await board.claim(posted.order_id, worker_id=8)

        assert result == ClaimResult(posted.order_id, won=False, winner=7)

    async def test_same_worker_double_tap_still_wins(self, board: JobBoard) -> None:
        """Tapping 'claim' twice does not turn a win into a loss."""
        posted = job(1.0, fresh_zone())
        await board.post(posted)
        await board.claim(posted.order_id, worker_id=7)

        result = await board.claim(posted.order_id, worker_id=7)

        assert result == ClaimResult(posted.order_id, won=True, winner=7)

    async def test_claim_of_missing_job_finds_no_winner(self, board: JobBoard) -> None:
        """Claiming a job that is not on the board loses to nobody."""
        missing = fresh_order_id()

        result = await board.claim(missing, worker_id=7)

        assert result == ClaimResult(missing, won=False, winner=None)

    async def test_claim_of_removed_job_finds_no_winner(self, board: JobBoard) -> None:
        """A job taken off the board cannot be claimed any more."""
        posted = job(1.0, fresh_zone())
        await board.post(posted)
        await board.remove(posted.order_id)

        result = await board.claim(posted.order_id, worker_id=7)

        assert result == ClaimResult(posted.order_id, won=False, winner=None)

    async def test_release_reopens_a_job_at_its_old_place(self, board: JobBoard) -> None:
        """A released job is open again, ordered by its original posting time."""
        zone = fresh_zone()
        first, second, third = job(1.0, zone), job(2.0, zone), job(3.0, zone)
        for posted in (first, second, third):
            await board.post(posted)
        await board.claim(second.order_id, worker_id=7)

        await board.release(second.order_id)

        assert await board.open_jobs([zone]) == [first, second, third]
        assert await board.claim(second.order_id, worker_id=8) == ClaimResult(
            second.order_id, won=True, winner=8
        )

    async def test_release_of_an_open_or_missing_job_changes_nothing(
        self, board: JobBoard
    ) -> None:
        """Releasing what is not claimed is harmless."""
        zone = fresh_zone()
        posted = job(1.0, zone)
        await board.post(posted)

        await board.release(posted.order_id)
        await board.release(fresh_order_id())

        assert await board.open_jobs([zone]) == [posted]

    async def test_remove_is_idempotent(self, board: JobBoard) -> None:
        """Removing twice, or removing what was never there, is not an error."""
        zone = fresh_zone()
        posted = job(1.0, zone)
        await board.post(posted)

        await board.remove(posted.order_id)
        await board.remove(posted.order_id)
        await board.remove(fresh_order_id())

        assert await board.open_jobs([zone]) == []
        assert posted.order_id not in {entry.job.order_id for entry in await board.entries()}

    async def test_removed_claimed_job_is_gone_everywhere(self, board: JobBoard) -> None:
        """A picked-up (claimed, then removed) job leaves the board entirely."""
        zone = fresh_zone()
        posted = job(1.0, zone)
        await board.post(posted)
        await board.claim(posted.order_id, worker_id=7)

        await board.remove(posted.order_id)
        await board.release(posted.order_id)  # a late release must not resurrect it

        assert await board.open_jobs([zone]) == []
        assert posted.order_id not in {entry.job.order_id for entry in await board.entries()}

    async def test_post_twice_keeps_first_posting_time(self, board: JobBoard) -> None:
        """Posting the same order again changes neither its place nor its payload."""
        zone = fresh_zone()
        first = job(100.0, zone, pay=4000)
        await board.post(first)

        await board.post(Job(first.order_id, zone, posted_at=200.0, payload={"pay": 9999}))

        assert await board.open_jobs([zone]) == [first]

    async def test_post_keeps_a_claim(self, board: JobBoard) -> None:
        """Re-posting a claimed job (a retried handler) does not reopen it."""
        zone = fresh_zone()
        posted = job(1.0, zone)
        await board.post(posted)
        await board.claim(posted.order_id, worker_id=7)

        await board.post(posted)

        assert await board.open_jobs([zone]) == []

    async def test_entries_show_claims(self, board: JobBoard) -> None:
        """entries() lists open and claimed jobs alike, with their claimers."""
        zone = fresh_zone()
        open_job = job(1.0, zone, restaurant="Dosa Corner")
        taken = job(2.0, zone)
        await board.post(open_job)
        await board.post(taken)
        await board.claim(taken.order_id, worker_id=7)

        mine = {open_job.order_id, taken.order_id}
        seen = {e.job.order_id: e for e in await board.entries() if e.job.order_id in mine}

        assert seen[open_job.order_id].job == open_job
        assert seen[open_job.order_id].claimed_by is None
        assert seen[taken.order_id].job == taken
        assert seen[taken.order_id].claimed_by == 7

    async def test_posting_time_survives_exactly(self, board: JobBoard) -> None:
        """A real clock reading comes back bit for bit, so ordering never drifts."""
        zone = fresh_zone()
        posted = job(1_767_225_600.123456, zone)
        await board.post(posted)

        [listed] = await board.open_jobs([zone])

        assert listed.posted_at == posted.posted_at

    async def test_hundred_concurrent_claims_have_exactly_one_winner(
        self, board: JobBoard
    ) -> None:
        """100 workers claim one job at once: one wins, the 99 others all name that winner."""
        posted = job(1.0, fresh_zone())
        await board.post(posted)
        workers = range(1000, 1100)

        results = await asyncio.gather(*(board.claim(posted.order_id, w) for w in workers))

        winners = [r for r in results if r.won]
        assert len(winners) == 1
        winner = winners[0].winner
        assert winner in workers
        assert all(r.winner == winner for r in results if not r.won)
        assert sum(not r.won for r in results) == 99


@pytest.mark.redis
async def test_another_process_hears_about_a_claim(redis_url: str, redis_prefix: str) -> None:
    """A claim made through one app process reaches a subscriber in another one."""
    listener = RedisJobBoard(redis_url, prefix=redis_prefix)
    claimer = RedisJobBoard(redis_url, prefix=redis_prefix)  # a second app process
    try:
        # subscribe() returns once the server confirmed: nothing published after it is lost.
        async with await listener.subscribe() as events:
            posted = job(1.0, fresh_zone())
            await claimer.post(posted)
            await claimer.claim(posted.order_id, worker_id=7)

            received = [await asyncio.wait_for(anext(events), timeout=10) for _ in range(2)]

        about = {"order_id": posted.order_id, "zone": posted.zone}
        assert received == [
            {"event": "posted", **about, "worker_id": None},
            {"event": "claimed", **about, "worker_id": 7},
        ]
    finally:
        await listener.close()
        await claimer.close()


async def test_the_board_is_outside_the_callers_transaction(board: JobBoard, board_target: Database | RedisTarget,
                                                            sqlite_db: Database) -> None:
    """A claim made inside a unit of work that then rolls back stays claimed, on every backend:
    the board never joins the caller's transaction (callers release or reconcile instead)."""
    caller_db = board_target if isinstance(board_target, Database) else sqlite_db
    store = Store(caller_db, SystemClock())
    posted = job(10.0, fresh_zone())
    await board.post(posted)

    class RolledBack(Exception):
        pass

    with pytest.raises(RolledBack):
        async with store.uow():
            assert (await board.claim(posted.order_id, 7)).won
            await board.post(job(11.0, posted.zone))
            raise RolledBack

    on_board = {e.job.order_id: e.claimed_by for e in await board.entries()}
    assert on_board[posted.order_id] == 7
    assert any(j.posted_at == 11.0 for j in await board.open_jobs([posted.zone]))

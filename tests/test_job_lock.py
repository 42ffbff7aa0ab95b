"""Scheduled jobs across several app processes: one at a time on PostgreSQL, never lost.

Two `Database` objects on one PostgreSQL database stand for two app processes (each has its
own connection pool, so the advisory locks really are taken by different sessions)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from core.adapters.sql.db import Database
from webhooks.scheduler import one_process_at_a_time


@pytest.fixture
async def two_processes(pg_url: str) -> AsyncIterator[tuple[Database, Database]]:
    first, second = Database(pg_url), Database(pg_url)
    yield first, second
    await first.dispose()
    await second.dispose()


async def waiting_for_lock(db: Database) -> bool:
    """True when some session is queued behind an advisory lock (seen in pg_locks)."""
    async with db.read() as conn:
        q = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        return bool((await conn.execute(q)).scalar_one())


@pytest.mark.postgres
async def test_a_job_another_process_is_running_is_skipped_here(two_processes: tuple[Database, Database]) -> None:
    first, second = two_processes
    name, started, release, runs = f"job-{uuid.uuid4().hex[:8]}", asyncio.Event(), asyncio.Event(), []

    async def slow_job() -> None:
        runs.append("ran")
        started.set()
        await release.wait()

    holder = asyncio.create_task(one_process_at_a_time(first, name, slow_job)())
    await started.wait()
    async with asyncio.timeout(10):  # were it not skipped, it would wait for `release`
        await one_process_at_a_time(second, name, slow_job)()  # returns at once: skipped
    assert runs == ["ran"]
    release.set()
    await holder
    await one_process_at_a_time(second, name, slow_job)()  # the lock was released: runs now
    assert runs == ["ran", "ran"]


@pytest.mark.postgres
async def test_a_waiting_job_runs_after_the_holder_finishes(two_processes: tuple[Database, Database]) -> None:
    first, second = two_processes
    name, started, release, order = f"job-{uuid.uuid4().hex[:8]}", asyncio.Event(), asyncio.Event(), []

    async def job_of(who: str) -> None:
        order.append(f"{who} start")
        started.set()
        if who == "first":
            await release.wait()
        order.append(f"{who} end")

    async def first_job() -> None:
        await job_of("first")

    async def second_job() -> None:
        await job_of("second")

    holder = asyncio.create_task(one_process_at_a_time(first, name, first_job, wait=True)())
    await started.wait()
    waiter = asyncio.create_task(one_process_at_a_time(second, name, second_job, wait=True)())
    async with asyncio.timeout(10):
        while not await waiting_for_lock(first):  # the second process is queued in PostgreSQL
            await asyncio.sleep(0.01)
    assert order == ["first start"]
    release.set()
    await asyncio.gather(holder, waiter)
    assert order == ["first start", "first end", "second start", "second end"]


@pytest.mark.postgres
async def test_a_failed_holder_releases_the_lock(two_processes: tuple[Database, Database]) -> None:
    first, second = two_processes
    name = f"job-{uuid.uuid4().hex[:8]}"

    async def crash() -> None:
        raise RuntimeError("the job failed")

    with pytest.raises(RuntimeError):
        await one_process_at_a_time(first, name, crash)()
    async with second.exclusive(f"job:{name}") as mine:
        assert mine


async def test_sqlite_is_one_process_and_always_holds_the_lock(sqlite_db: Database) -> None:
    async with sqlite_db.exclusive("job:anything") as outer, sqlite_db.exclusive("job:anything") as inner:
        assert outer and inner

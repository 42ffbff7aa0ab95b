"""The job board on the relational database (table board_jobs), for SQLite and PostgreSQL.

Like the Redis board, it never joins the caller's transaction (see JobBoard): each call commits
on its own connection. SQLite has one writer per file and the caller's unit of work holds it, so
there the board keeps its table in a file beside the database (`<name>-board.db`); on
PostgreSQL it uses the same database through connections of its own."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Row, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

from core.adapters.sql.db import Database
from core.adapters.sql.schema import board_jobs
from core.board.base import BoardEntry, ClaimResult, Job


def _job(row: Row[Any]) -> Job:
    """Turn a board_jobs row back into a Job."""
    return Job(
        order_id=row.order_id,
        zone=row.zone,
        posted_at=row.posted_at,
        payload=json.loads(row.payload),
    )


class SqlJobBoard:
    """A JobBoard whose first-claim-wins rests on one conditional UPDATE."""

    def __init__(self, db: Database) -> None:
        self._db = db.sibling("board")
        self._owns_db = self._db is not db
        self._ready = not self._owns_db  # the sibling file gets its table on first use

    async def _ensure_table(self) -> None:
        if not self._ready:
            async with self._db.write_apart() as conn:
                await conn.run_sync(lambda sync: board_jobs.create(sync, checkfirst=True))
            self._ready = True

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        await self._ensure_table()
        async with self._db.write_apart() as conn:
            yield conn

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        await self._ensure_table()
        async with self._db.read() as conn:
            yield conn

    def _insert_ignoring_duplicates(self, values: dict[str, Any]) -> Insert:
        """INSERT that does nothing when the order is already on the board."""
        # Each dialect spells ON CONFLICT DO NOTHING with its own insert construct.
        dialect_insert = sqlite.insert if self._db.is_sqlite else postgresql.insert
        return dialect_insert(board_jobs).values(**values).on_conflict_do_nothing(
            index_elements=[board_jobs.c.order_id]
        )

    async def post(self, job: Job) -> None:
        """Put a job on the board; a repeat post keeps the first posting time."""
        stmt = self._insert_ignoring_duplicates(
            {
                "order_id": job.order_id,
                "zone": job.zone,
                "posted_at": job.posted_at,
                "payload": json.dumps(job.payload, sort_keys=True),
                "claimed_by": None,
            }
        )
        async with self._write() as conn:
            await conn.execute(stmt)

    async def open_jobs(self, zones: Sequence[str]) -> list[Job]:
        """Every unclaimed job in these zones, oldest first, ties by order id."""
        if not zones:
            return []
        stmt = (
            select(board_jobs)
            .where(board_jobs.c.zone.in_(list(zones)), board_jobs.c.claimed_by.is_(None))
            .order_by(board_jobs.c.posted_at, board_jobs.c.order_id)
        )
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [_job(row) for row in rows]

    async def claim(self, order_id: int, worker_id: int) -> ClaimResult:
        """Claim atomically: the conditional UPDATE's row count says who won."""
        stmt = (
            update(board_jobs)
            .where(board_jobs.c.order_id == order_id, board_jobs.c.claimed_by.is_(None))
            .values(claimed_by=worker_id)
        )
        async with self._write() as conn:
            if (await conn.execute(stmt)).rowcount == 1:
                return ClaimResult(order_id, won=True, winner=worker_id)
            # Lost (or gone): on PostgreSQL the UPDATE waited for the winner's commit, so this
            # read-committed SELECT sees the winner.
            winner = await conn.scalar(
                select(board_jobs.c.claimed_by).where(board_jobs.c.order_id == order_id)
            )
        return ClaimResult(order_id, won=winner == worker_id, winner=winner)

    async def release(self, order_id: int) -> None:
        """Reopen a claimed job; its posted_at is untouched, so it returns to its old place."""
        stmt = update(board_jobs).where(board_jobs.c.order_id == order_id).values(claimed_by=None)
        async with self._write() as conn:
            await conn.execute(stmt)

    async def remove(self, order_id: int) -> None:
        """Take a job off the board; removing a missing job is a no-op."""
        async with self._write() as conn:
            await conn.execute(delete(board_jobs).where(board_jobs.c.order_id == order_id))

    async def entries(self) -> list[BoardEntry]:
        """Every job on the board with its claimer, oldest first."""
        stmt = select(board_jobs).order_by(board_jobs.c.posted_at, board_jobs.c.order_id)
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [BoardEntry(job=_job(row), claimed_by=row.claimed_by) for row in rows]

    async def close(self) -> None:
        """Release the sibling file's engine (the caller's Database stays the caller's)."""
        if self._owns_db:
            await self._db.dispose()

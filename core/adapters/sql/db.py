"""Engines and transactions for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

_READONLY = "ketpaar_readonly"


def normalise_url(url: str) -> str:
    """Pick the async driver for a plain sqlite:// or postgresql:// URL."""
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _tune_sqlite(engine: AsyncEngine) -> None:
    """WAL, a busy timeout, foreign keys; writers take the lock at BEGIN (no upgrade deadlocks)."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let the begin hook below emit BEGIN itself
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        readonly = conn.get_execution_options().get(_READONLY, False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


PING_AFTER_IDLE_S = 10.0


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Ping a pooled connection before use only when it sat idle for `PING_AFTER_IDLE_S`: one that
    the server or a firewall dropped meanwhile is replaced before a transaction fails on it. A
    ping on every checkout (SQLAlchemy's pool_pre_ping) is a round trip more per transaction,
    about a tenth of a busy one; a connection dropped while in steady use fails its transaction
    once, is invalidated, and the work is retried (inbox messages stay pending until processed)."""

    @event.listens_for(engine.sync_engine.pool, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["ketpaar_idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine.pool, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("ketpaar_idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
            return
        try:
            cursor = dbapi_conn.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
            dbapi_conn.rollback()  # the ping opened a transaction on the driver's connection
        except Exception as error:
            # The pool replaces the connection and tries again (SQLAlchemy's documented recipe).
            raise exc.DisconnectionError("connection dropped while idle") from error


class Database:
    """One engine plus the right way to open a write or read transaction on it."""

    def __init__(self, url: str, *, echo: bool = False, pooled: bool = True) -> None:
        self.url = normalise_url(url)
        self.is_sqlite = make_url(self.url).get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"echo": echo}
        if not self.is_sqlite:
            kwargs.update(pool_size=10, max_overflow=20)
        elif not pooled:
            kwargs.update(poolclass=NullPool)  # nothing left open by a board nobody closes
        self.engine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            _tune_sqlite(self.engine)
        else:
            _ping_when_idle(self.engine)
        # SQLite has one writer; queueing here avoids busy-waiting inside the driver.
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None
        # The write transaction open in the current task, joined by nested write() calls so that
        # an adapter on the same database (the SQL job board) commits atomically with the caller.
        self._current: ContextVar[AsyncConnection | None] = ContextVar(f"ketpaar_tx_{id(self)}", default=None)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """Open a read-write transaction (or join the one this task has open); commit on success."""
        if (current := self._current.get()) is not None:
            yield current
            return
        if self._write_lock is None:
            async with self.engine.begin() as conn:
                token = self._current.set(conn)
                try:
                    yield conn
                finally:
                    self._current.reset(token)
            return
        async with self._write_lock, self.engine.begin() as conn:
            token = self._current.set(conn)
            try:
                yield conn
            finally:
                self._current.reset(token)

    @asynccontextmanager
    async def write_apart(self) -> AsyncIterator[AsyncConnection]:
        """Open a read-write transaction of its own, never joining the one this task has open.

        On SQLite that would wait for this task's own write lock: callers use a sibling file there."""
        if self._write_lock is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._write_lock, self.engine.begin() as conn:
            yield conn

    def sibling(self, name: str) -> Database:
        """A database beside this one for state kept apart from its transactions: on SQLite a
        file next to it (SQLite has one writer per file), on PostgreSQL this same database."""
        if not self.is_sqlite:
            return self
        path = make_url(self.url).database or ""
        if path in ("", ":memory:"):
            raise ValueError("a sibling of an in-memory SQLite database cannot be shared")
        stem, dot, suffix = path.rpartition(".")
        return Database(f"sqlite:///{stem}-{name}.{suffix}" if dot else f"sqlite:///{path}-{name}", pooled=False)

    @asynccontextmanager
    async def read(self, *, snapshot: bool = False) -> AsyncIterator[AsyncConnection]:
        """Open a read-only transaction that does not queue behind writers. With `snapshot`, every
        statement in it sees the database as at its first read (PostgreSQL REPEATABLE READ; a
        SQLite read transaction always does), so a reader of several passes sees one state."""
        async with self.engine.connect() as conn:
            options: dict[str, Any] = {_READONLY: True}
            if snapshot and not self.is_sqlite:
                options["isolation_level"] = "REPEATABLE READ"
            conn = await conn.execution_options(**options)
            async with conn.begin():
                yield conn

    @asynccontextmanager
    async def exclusive(self, name: str, *, wait: bool = False) -> AsyncIterator[bool]:
        """Hold a lock named `name` across every process on this database while the block runs.

        Yields True when this process holds it. When another process holds it, yields False at
        once, or with `wait` waits for it and yields True. PostgreSQL session advisory lock, on a
        connection of its own, so a crashed holder releases it with its connection. SQLite
        always yields True: the embedded default is one process."""
        if self.is_sqlite:
            yield True
            return
        key = {"k": f"ketpaar:{name}"}
        async with self.engine.connect() as conn:
            if wait:
                await conn.execute(text("SELECT pg_advisory_lock(hashtext(:k))"), key)
                got = True
            else:
                got = bool((await conn.execute(text("SELECT pg_try_advisory_lock(hashtext(:k))"), key)).scalar_one())
            await conn.commit()  # the lock belongs to the session, not to this transaction
            try:
                yield got
            finally:
                if got:
                    await conn.execute(text("SELECT pg_advisory_unlock(hashtext(:k))"), key)
                    await conn.commit()

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()

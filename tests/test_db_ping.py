"""A pooled PostgreSQL connection is pinged before use only after sitting idle (a ping on every
checkout is a round trip more per transaction): a live one is kept, one the server dropped while
idle is replaced before any transaction fails on it."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text

import core.adapters.sql.db as db_module
from core.adapters.sql.db import Database

pytestmark = pytest.mark.postgres


def drop(url: str, pid: int) -> None:
    """End a server backend behind the pool's back (a restart, a firewall's idle timeout)."""
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


async def backend_pid(db: Database) -> int:
    async with db.write() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_live_idle_connection_is_pinged_and_kept(pg_fresh_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_S", 0.0)  # every connection back in the pool counts as idle
    db = Database(pg_fresh_url)
    try:
        first = await backend_pid(db)
        assert await backend_pid(db) == first  # pinged (and its transaction ended), then used as it was
        async with db.write() as conn:  # and it still commits what it writes
            await conn.execute(text("CREATE TABLE pinged (n int)"))
            await conn.execute(text("INSERT INTO pinged VALUES (1)"))
        async with db.read() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM pinged"))).scalar_one() == 1
    finally:
        await db.dispose()


async def test_a_connection_dropped_while_idle_is_replaced_before_use(pg_fresh_url: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_S", 0.0)
    db = Database(pg_fresh_url)
    try:
        dropped = await backend_pid(db)
        drop(pg_fresh_url, dropped)
        replaced = await backend_pid(db)  # no error: the ping found it dead, the pool opened another
    finally:
        await db.dispose()
    assert replaced != dropped


async def test_without_the_idle_ping_a_dropped_connection_fails_once(pg_fresh_url: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    # What the ping saves a caller from (and why the threshold must stay short of server timeouts).
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_S", 3600.0)
    db = Database(pg_fresh_url)
    try:
        dropped = await backend_pid(db)
        drop(pg_fresh_url, dropped)
        with pytest.raises(Exception, match="terminat|closed|connection"):
            await backend_pid(db)
        assert await backend_pid(db) != dropped  # invalidated: the next transaction gets a new one
    finally:
        await db.dispose()

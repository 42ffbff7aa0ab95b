"""Migration 0020 fills the hashed bytes of events written before it, and the audit then passes;
on PostgreSQL the append-only guard is back on afterwards."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from core.adapters.sql.db import Database
from core.adapters.sql.migrate import upgrade
from core.adapters.sql.uow import Store
from core.ledger.audit import audit
from core.ledger.chain import GENESIS, canonical_json, event_body, link_hash
from tests.clock import FixedClock
from tests.conftest import PG_ADMIN_URL
from tests.test_tamper import NOON

OLD_EVENTS = [("role.applied", "person:1", {"person_id": 1, "role": "worker", "entity_id": 3}),
              ("admin.signed_in", "person:2", {"channel": "webchat", "note": "பெயர் \"quoted\""}),
              ("photos.deleted", "system", {"count": 2, "reason": "retention"})]  # fmt: skip


async def write_old_chain(db: Database) -> str:
    """Events as revision 0019 stored them (no hashed bytes); return the head hash."""
    prev = GENESIS
    async with db.write() as conn:
        for seq, (type_, actor, data) in enumerate(OLD_EVENTS, start=1):
            at = f"2026-11-23T06:30:0{seq}+00:00"
            digest = link_hash(prev, event_body(seq, type_, at, actor, data))
            await conn.execute(
                text("INSERT INTO events (seq, type, occurred_at, actor, data, prev_hash, hash) "
                     "VALUES (:s, :t, :o, :a, :d, :p, :h)"),
                {"s": seq, "t": type_, "o": at, "a": actor, "d": canonical_json(data), "p": prev, "h": digest},
            )  # fmt: skip
            prev = digest
        await conn.execute(text("UPDATE chain_head SET seq = :s, hash = :h WHERE id = 1"), {"s": len(OLD_EVENTS), "h": prev})
    return prev


async def migrate_and_audit(url: str) -> Database:
    upgrade(url, "0019")
    db = Database(url)
    head = await write_old_chain(db)
    upgrade(url)
    report = await audit(Store(db, FixedClock(NOON)))
    assert report.ok, report.problem
    assert (report.events, report.head, report.columns_checked) == (len(OLD_EVENTS), head, len(OLD_EVENTS))
    return db


async def test_sqlite_events_before_0017_get_their_hashed_bytes(tmp_path: Path) -> None:
    db = await migrate_and_audit(f"sqlite:///{tmp_path / 'old.db'}")
    await db.dispose()


@pytest.mark.postgres
async def test_postgres_events_before_0017_get_their_hashed_bytes_and_stay_append_only(pg_url: str) -> None:
    name = f"ketpaar_m17_{uuid.uuid4().hex[:8]}"  # pg_url only makes sure the server is there
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        db = await migrate_and_audit(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.write() as conn:
                await conn.execute(text("UPDATE event_bodies SET body = body WHERE seq = 1"))
        await db.dispose()
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

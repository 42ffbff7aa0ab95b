"""The audit's fast pass may read a long log in seq ranges at once, one process each (PostgreSQL:
inside the audit's exported snapshot), each range hashed from the stored prev_hash of its first
event: it must say exactly what one pass from genesis says, and name a break inside or between
ranges."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import psycopg
import pytest
from sqlalchemy import text

from core.adapters.sql.chain_worker import _chunked, _where
from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.ledger.audit import audit
from core.ledger.chain import ChainFold
from tests.clock import FixedClock
from tests.test_tamper import NOON, fresh_meal, tamper


async def test_the_log_read_in_ranges_checks_out_like_one_pass(db: Database) -> None:
    store = Store(db, FixedClock(NOON))
    await fresh_meal(store)
    async with store.reader() as uow:
        head = await uow.chain.head()

    whole, ranged = await audit(store, ranges=1), await audit(store, ranges=4, range_min=1)

    assert whole.ok and ranged.ok
    assert (ranged.events, ranged.head) == (whole.events, whole.head) == head


async def test_each_range_is_really_hashed(db: Database) -> None:
    # The folds the adapter hands back are what the audit trusts: a break the ranges hide would
    # be a false OK. Each range's fold starts at its first event's stored prev_hash and ends at
    # the stored hash of its last event.
    store = Store(db, FixedClock(NOON))
    await fresh_meal(store)
    async with store.reader(snapshot=True) as uow:
        head_seq, head_hash = await uow.chain.head()
        folds = await uow.chain.fold_hashed(ChainFold, head_seq, ranges=3, range_min=1)
        stored = {e.seq: e for e in [e async for e in uow.chain.stream()]}
    assert len(folds) == 3  # each in a process of its own
    seq = 0
    for fold in folds:
        assert fold.start == stored[seq + 1].prev_hash
        seq += fold.count
        assert fold.head == stored[seq].hash
    assert (seq, folds[-1].head) == (head_seq, head_hash)


@pytest.fixture
async def pg_private(pg_fresh_url: str) -> AsyncIterator[Database]:
    """A PostgreSQL database of this test's own, whose append-only guard the test may lift."""
    db = Database(pg_fresh_url)
    yield db
    await db.dispose()


async def _unguard(db: Database) -> None:
    await tamper(db, "ALTER TABLE events DISABLE TRIGGER events_append_only")
    await tamper(db, "ALTER TABLE event_bodies DISABLE TRIGGER event_bodies_append_only")


async def test_edited_bytes_inside_a_middle_range_are_named_on_postgres(pg_private: Database) -> None:
    store = Store(pg_private, FixedClock(NOON))
    await fresh_meal(store)
    async with store.reader() as uow:
        head_seq, _ = await uow.chain.head()
    target = head_seq // 2  # inside the second of three ranges
    await _unguard(pg_private)
    await tamper(pg_private, "UPDATE event_bodies SET body = convert_to(replace(convert_from(body, 'UTF8'), 'system', "
                 "'forger'), 'UTF8') WHERE seq = :s", s=target)  # fmt: skip
    await tamper(pg_private, "UPDATE events SET actor = replace(actor, 'system', 'forger') WHERE seq = :s", s=target)

    report = await audit(store, ranges=3, range_min=1)

    assert (report.ok, report.broken_seq) == (False, target)
    assert report.problem == f"event {target}: hash does not match the content"


async def test_a_forged_link_where_a_range_starts_is_named_on_postgres(pg_private: Database) -> None:
    # The forger rewrites the chain from the first event of the second range on, from a made-up
    # prev_hash, and moves the head: every range hashes to its own end and the last to the head,
    # so only the check that each range starts where the one before ended can see it.
    store = Store(pg_private, FixedClock(NOON))
    await fresh_meal(store)
    async with store.reader() as uow:
        head_seq, _ = await uow.chain.head()
    first_of_second = head_seq // 3 + 1
    await _unguard(pg_private)
    async with pg_private.write() as conn:
        rows = (await conn.execute(text("SELECT seq, body FROM event_bodies WHERE seq >= :s ORDER BY seq"),
                                   {"s": first_of_second})).all()  # fmt: skip
        prev = "a" * 64
        for seq, body in rows:
            digest = hashlib.sha256(prev.encode() + bytes(body)).hexdigest()
            await conn.execute(text("UPDATE events SET prev_hash = :p, hash = :h WHERE seq = :s"),
                               {"p": prev, "h": digest, "s": seq})  # fmt: skip
            prev = digest
        await conn.execute(text("UPDATE chain_head SET hash = :h WHERE id = 1"), {"h": prev})

    ranged, whole = await audit(store, ranges=3, range_min=1), await audit(store, ranges=1)

    assert (ranged.ok, ranged.broken_seq) == (False, first_of_second)
    assert ranged.problem == whole.problem == f"event {first_of_second}: prev_hash does not match"


async def test_a_deleted_event_at_a_range_edge_is_named_on_postgres(pg_private: Database) -> None:
    store = Store(pg_private, FixedClock(NOON))
    await fresh_meal(store)
    async with store.reader() as uow:
        head_seq, _ = await uow.chain.head()
    edge = head_seq // 3 + 1
    await _unguard(pg_private)
    await tamper(pg_private, "DELETE FROM events WHERE seq = :s", s=edge)

    report = await audit(store, ranges=3, range_min=1)

    assert (report.ok, report.broken_seq) == (False, edge)
    assert report.problem == f"event {edge}: missing or reordered event"


async def test_edited_bytes_inside_a_middle_range_are_named_on_sqlite(sqlite_db: Database) -> None:
    store = Store(sqlite_db, FixedClock(NOON))
    await fresh_meal(store)
    async with store.reader() as uow:
        head_seq, _ = await uow.chain.head()
    target = head_seq // 2
    await tamper(sqlite_db, "UPDATE event_bodies SET body = CAST(REPLACE(CAST(body AS TEXT), 'system', 'forger') AS BLOB) "
                 "WHERE seq = :s", s=target)  # fmt: skip
    await tamper(sqlite_db, "UPDATE events SET actor = REPLACE(actor, 'system', 'forger') WHERE seq = :s", s=target)

    report = await audit(store, ranges=3, range_min=1)

    assert (report.ok, report.broken_seq) == (False, target)
    assert report.problem == f"event {target}: hash does not match the content"


async def test_an_event_stored_past_the_head_fails_a_ranged_audit_on_sqlite(sqlite_db: Database) -> None:
    # The SQLite range processes stop at the audited head; what lies beyond it is counted apart.
    store = Store(sqlite_db, FixedClock(NOON))
    await fresh_meal(store)
    async with store.reader() as uow:
        head_seq, head_hash = await uow.chain.head()
    await tamper(sqlite_db, "INSERT INTO events (seq, type, occurred_at, actor, data, prev_hash, hash) "
                 "VALUES (:s, 'x', 'now', 'forger', '{}', :p, :p)", s=head_seq + 1, p=head_hash)  # fmt: skip
    await tamper(sqlite_db, "INSERT INTO event_bodies (seq, body) VALUES (:s, X'7b7d')", s=head_seq + 1)

    report = await audit(store, ranges=3, range_min=1)

    assert (report.ok, report.broken_seq) == (False, head_seq + 1)


def test_the_chunked_reader_raises_a_failed_query_and_leaves_the_connection_usable(pg_url: str) -> None:
    # The fold reads libpq's results itself: an error from the server must not pass for the end
    # of the log (which would fail later as a short chain, or not at all for an empty range).
    with psycopg.connect(pg_url) as conn:
        with pytest.raises(psycopg.DatabaseError, match="division by zero"):
            list(_chunked(conn.pgconn, "SELECT 1 / (3 - g) FROM generate_series(1, 3) g", []))
        assert conn.execute("SELECT 41 + 1").fetchone() == (42,)


def test_the_chunked_reader_hands_over_every_row_of_a_bounded_range(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        where, args = _where(10, 25_000, lambda i: f"${i}")
        query = f"SELECT seq::text::bytea AS body FROM generate_series(1, 30000) seq WHERE {where} ORDER BY seq"
        results = list(_chunked(conn.pgconn, query, [str(a).encode() for a in args]))
    got = [int(r.get_value(i, 0)) for r in results for i in range(r.ntuples)]
    assert got == list(range(11, 25_001))
    assert len(results) > 1  # more than one chunk of BATCH rows

"""The hashed bytes live in the narrow table `event_bodies`, the structured columns in `events`:
the audit must name a body that says something else than its columns even when the chain over the
bodies has been rehashed to fit, and an event row or a body that is missing or extra, however
sparsely the columns are sampled. On SQLite and on PostgreSQL (its append-only guards lifted)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.ledger.audit import audit
from tests.clock import FixedClock
from tests.helpers import assert_ledger_invariants
from tests.test_tamper import NOON, fresh_meal, tamper

SPARSE = 10**6  # one sampled event in the whole log: only the checks that read every row can see


@pytest.fixture
async def pg_unguarded(pg_fresh_url: str) -> AsyncIterator[Database]:
    """A PostgreSQL database of this test's own, its append-only guards on the log lifted."""
    db = Database(pg_fresh_url)
    for table in ("events", "event_bodies"):
        await tamper(db, f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
    yield db
    await db.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def forgeable(request: pytest.FixtureRequest) -> Database:
    """A database whose log a test may rewrite, once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_unguarded")


async def a_log(db: Database) -> tuple[Store, int]:
    """A store with one meal's events in its log; (store, head seq)."""
    store = Store(db, FixedClock(NOON))
    await fresh_meal(store)
    async with store.reader() as uow:
        head_seq, _ = await uow.chain.head()
    return store, head_seq


async def rechain_from(db: Database, seq: int) -> None:
    """Rewrite every stored link and the head from `seq` on so the chain over the bodies checks out."""
    async with db.write() as conn:
        prev = (await conn.execute(text("SELECT prev_hash FROM events WHERE seq = :s"), {"s": seq})).scalar_one()
        rows = (await conn.execute(text("SELECT seq, body FROM event_bodies WHERE seq >= :s ORDER BY seq"), {"s": seq})).all()
        for s, body in rows:
            digest = hashlib.sha256(prev.encode() + bytes(body)).hexdigest()
            await conn.execute(text("UPDATE events SET prev_hash = :p, hash = :h WHERE seq = :s"), {"p": prev, "h": digest, "s": s})
            prev = digest
        await conn.execute(text("UPDATE chain_head SET hash = :h WHERE id = 1"), {"h": prev})


async def test_every_appended_event_has_exactly_one_body_which_is_what_was_hashed(forgeable: Database) -> None:
    store, head_seq = await a_log(forgeable)
    async with forgeable.read() as conn:
        bodies = (await conn.execute(text("SELECT count(*), min(seq), max(seq) FROM event_bodies"))).one()
        rows = (await conn.execute(text("SELECT e.prev_hash, e.hash, b.body FROM events e JOIN event_bodies b "
                                        "ON b.seq = e.seq ORDER BY e.seq"))).all()  # fmt: skip

    assert tuple(bodies) == (head_seq, 1, head_seq) and len(rows) == head_seq
    assert all(hashlib.sha256(p.encode() + bytes(b)).hexdigest() == h for p, h, b in rows)
    report = await audit(store)
    assert report.ok and report.columns_checked == head_seq
    await assert_ledger_invariants(store)


async def test_a_body_rewritten_and_rechained_is_named_against_its_columns(forgeable: Database) -> None:
    # The forger changes who acted in the hashed bytes and rewrites every link after it, so the
    # chain over the narrow table checks out end to end; the columns still say what happened.
    store, head_seq = await a_log(forgeable)
    async with forgeable.read() as conn:
        target = (await conn.execute(text("SELECT min(seq) FROM events WHERE actor = 'system'"))).scalar_one()
        body = bytes((await conn.execute(text("SELECT body FROM event_bodies WHERE seq = :s"), {"s": target})).scalar_one())
    forged = body.replace(b'"actor":"system"', b'"actor":"forger"')
    assert forged != body
    await tamper(forgeable, "UPDATE event_bodies SET body = :b WHERE seq = :s", s=target, b=forged)
    await rechain_from(forgeable, target)

    report = await audit(store)

    assert (report.ok, report.broken_seq) == (False, target)
    assert report.problem == f"event {target}: the stored columns differ from the hashed content"
    assert (await audit(store, columns_every=SPARSE)).problem in ("", report.problem)  # a sample may miss it


async def test_an_event_row_deleted_under_its_body_is_named_however_sparse_the_sample(forgeable: Database) -> None:
    store, head_seq = await a_log(forgeable)
    target = head_seq // 2
    await tamper(forgeable, "DELETE FROM events WHERE seq = :s", s=target)

    for every in (1, SPARSE):
        report = await audit(store, columns_every=every)
        assert (report.ok, report.broken_seq) == (False, target)
        assert report.problem == f"event {target}: missing or reordered event"


async def test_a_body_deleted_under_its_event_is_named(forgeable: Database) -> None:
    store, head_seq = await a_log(forgeable)
    target = head_seq // 2
    await tamper(forgeable, "DELETE FROM event_bodies WHERE seq = :s", s=target)

    report = await audit(store, columns_every=SPARSE)

    assert (report.ok, report.broken_seq) == (False, target)
    assert report.problem == f"event {target}: missing or reordered event"


async def test_an_event_row_without_a_body_past_the_head_fails_a_sampled_audit(forgeable: Database) -> None:
    store, head_seq = await a_log(forgeable)
    async with store.reader() as uow:
        _, head_hash = await uow.chain.head()
    await tamper(forgeable, "INSERT INTO events (seq, type, occurred_at, actor, data, prev_hash, hash) "
                 "VALUES (:s, 'x', 'now', 'forger', '{}', :p, :p)", s=head_seq + 1, p=head_hash)  # fmt: skip

    report = await audit(store, columns_every=SPARSE)

    assert not report.ok


async def test_sqlite_reads_the_bodies_in_a_plain_scan_of_the_table(sqlite_db: Database) -> None:
    # seq is the rowid (INTEGER PRIMARY KEY): the hash pass reads the table in key order with no
    # index in between (that is what makes the narrow table cheaper to read than the wide rows).
    async with sqlite_db.read() as conn:
        plan = (await conn.execute(text("EXPLAIN QUERY PLAN SELECT body FROM event_bodies ORDER BY seq"))).all()
    assert [row[-1] for row in plan] == ["SCAN event_bodies"]


async def test_two_bodies_merged_into_one_row_across_a_newline_are_named(forgeable: Database) -> None:
    # Guards any fast pass that reads chunks of bodies joined by newlines and splits them (tried on
    # PostgreSQL): moving the next body into this row after a newline keeps the pieces and the
    # chain the same; only the row count differs, and the slow walk names the row.
    store, head_seq = await a_log(forgeable)
    target = head_seq // 2
    async with forgeable.read() as conn:
        rows = (await conn.execute(text("SELECT body FROM event_bodies WHERE seq IN (:a, :b) ORDER BY seq"),
                                   {"a": target, "b": target + 1})).all()  # fmt: skip
    await tamper(forgeable, "UPDATE event_bodies SET body = :b WHERE seq = :s", s=target,
                 b=bytes(rows[0][0]) + b"\n" + bytes(rows[1][0]))  # fmt: skip
    await tamper(forgeable, "DELETE FROM event_bodies WHERE seq = :s", s=target + 1)

    report = await audit(store, columns_every=SPARSE)

    assert (report.ok, report.broken_seq) == (False, target)
    assert report.problem == f"event {target}: hash does not match the content"


async def test_a_body_stored_before_the_first_event_fails_a_sampled_audit(forgeable: Database) -> None:
    store, _ = await a_log(forgeable)
    await tamper(forgeable, "INSERT INTO event_bodies (seq, body) VALUES (0, :b)", b=b"{}")

    report = await audit(store, columns_every=SPARSE)

    assert not report.ok


async def test_an_event_row_moved_to_seq_zero_fails_a_sampled_audit(forgeable: Database) -> None:
    # As many event rows as bodies and the same highest seq, but one is not where its body is.
    store, head_seq = await a_log(forgeable)
    target = head_seq // 2
    await tamper(forgeable, "UPDATE events SET seq = 0 WHERE seq = :s", s=target)

    report = await audit(store, columns_every=SPARSE)

    assert (report.ok, report.broken_seq) == (False, target)
    assert report.problem == f"event {target}: missing or reordered event"


async def test_the_store_confirms_sampled_columns_only_where_they_spell_the_hashed_bytes(forgeable: Database) -> None:
    # On PostgreSQL the sampled column check runs on the server (sha256 and the body spliced with
    # to_json): every event it confirms must be one the Python check passes, and each way of
    # breaking a column must leave the event for the Python check. SQLite confirms nothing.
    store, head_seq = await a_log(forgeable)
    everything = list(range(1, head_seq + 1))
    async with store.reader() as uow:
        clean = await uow.chain.unconfirmed_columns(everything)
    # One event per way of breaking it: a column (the actor, with characters JSON escapes), the
    # stored hash, the stored prev_hash, the stored data, and the event row deleted.
    await tamper(forgeable, "UPDATE events SET actor = :a WHERE seq = 2", a='person:"1"\\\n')
    await tamper(forgeable, "UPDATE events SET hash = :h WHERE seq = 3", h="0" * 64)
    await tamper(forgeable, "UPDATE events SET prev_hash = :h WHERE seq = 4", h="1" * 64)
    await tamper(forgeable, "UPDATE events SET data = replace(data, '\"', ' \"') WHERE seq = 5")
    await tamper(forgeable, "DELETE FROM events WHERE seq = 6")
    async with store.reader() as uow:
        confirmed, left = await uow.chain.unconfirmed_columns(everything)

    if forgeable.is_sqlite:
        assert clean == (0, everything) and (confirmed, left) == (0, everything)
        return
    assert clean == (head_seq, [])
    assert (confirmed, left) == (head_seq - 5, [2, 3, 4, 5, 6])

"""Tampering is caught: the audit names an edited event, edited postings fail it, PostgreSQL refuses both."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from core.adapters.sql.board import SqlJobBoard
from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.ledger import service as money
from core.ledger.audit import audit
from core.ledger.chain import canonical_json
from core.orders import service as orders
from core.seekers.screening import PassThroughScreener
from tests.clock import FixedClock
from tests.helpers import CHENNAI, assert_ledger_invariants, chain_events, seed_coop, settle_after_window

NOON = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)  # 12:00 in Chennai


async def fresh_meal(store: Store) -> int:
    """Deposit, fund, accept, claim, pick up, deliver and settle one meal; return the settlement's tx id."""
    tag = uuid.uuid4().hex[:8]
    coop = await seed_coop(store, tag)
    board, kitchen, worker = SqlJobBoard(store.db), coop.restaurants[0], coop.workers[0]
    async with store.uow() as uow:
        await money.record_deposit(uow, coop.donor.id, 50_000, f"dep-{tag}", coop.admin.actor, "cash")
        order = await orders.start_order(uow, coop.donor, *CHENNAI, None, PassThroughScreener())
        await orders.fund_and_send(uow, order.id, coop.donor, kitchen.menu[0].id, tip=0)
        await orders.accept(uow, order.id, kitchen, board, "r")
    async with store.uow() as uow:
        await orders.claim(uow, order.id, worker, board, "w")
        await orders.pickup(uow, order.id, worker, board, "w")
        await orders.deliver(uow, order.id, worker, "photo", *CHENNAI, "w")
    _, tx_id = await settle_after_window(store, order.id)
    return tx_id


async def a_deposit(store: Store) -> int:
    """One recorded deposit (a ledger transaction and its chained event); return its tx id."""
    tag = uuid.uuid4().hex[:8]
    async with store.uow() as uow:
        donor = await uow.people.get_or_create("test", f"{tag}-donor")
        return await money.record_deposit(uow, donor.id, 10_000, f"dep-{tag}", "admin", "cash")


async def posting_ids(db: Database, tx_id: int) -> list[int]:
    async with db.read() as conn:
        return list(await conn.scalars(text("SELECT id FROM postings WHERE tx_id = :t ORDER BY id"), {"t": tx_id}))


async def tamper(db: Database, sql: str, **params: object) -> None:
    """Change stored rows behind the application's back."""
    async with db.write() as conn:
        await conn.execute(text(sql), params)


async def test_the_audit_passes_after_a_whole_meal(db: Database) -> None:
    store = Store(db, FixedClock(NOON))
    await fresh_meal(store)

    report = await audit(store)

    assert report.ok, report.problem
    async with store.reader() as uow:
        assert (report.events, report.head) == await uow.chain.head()
    assert report.transactions >= 3  # deposit, fund, settle (and those of other tests on PostgreSQL)
    await assert_ledger_invariants(store)


async def test_an_edited_event_is_named_by_its_seq(sqlite_db: Database) -> None:
    store = Store(sqlite_db, FixedClock(NOON))
    tx_id = await fresh_meal(store)
    async with store.reader() as uow:
        settled = next(e for e in await chain_events(uow, "ledger.transaction") if e.data["tx_id"] == tx_id)
        head = await uow.chain.head()
    forged = {**settled.data, "postings": [[a, v * 2] for a, v in settled.data["postings"]]}
    await tamper(sqlite_db, "UPDATE events SET data = :d WHERE seq = :s", d=canonical_json(forged), s=settled.seq)

    report = await audit(store)

    assert not report.ok
    assert settled.seq < head[0]  # an event inside the chain, not just its last one
    assert report.broken_seq == settled.seq
    assert report.problem == f"event {settled.seq}: the stored columns differ from the hashed content"


async def test_a_removed_event_is_named_by_its_seq(sqlite_db: Database) -> None:
    store = Store(sqlite_db, FixedClock(NOON))
    await fresh_meal(store)
    await tamper(sqlite_db, "DELETE FROM events WHERE seq = 3")

    report = await audit(store)

    assert (report.ok, report.broken_seq) == (False, 3)
    assert report.problem == "event 3: missing or reordered event"


async def test_edited_hashed_bytes_are_named_by_their_seq(sqlite_db: Database) -> None:
    store = Store(sqlite_db, FixedClock(NOON))
    await fresh_meal(store)
    async with store.reader() as uow:
        head_seq, _ = await uow.chain.head()
    target = head_seq // 2
    # The forger edits the hashed bytes and the columns alike, leaving the stored hashes alone.
    await tamper(sqlite_db, "UPDATE event_bodies SET body = CAST(REPLACE(CAST(body AS TEXT), 'system', 'forger') AS BLOB) "
                 "WHERE seq = :s", s=target)  # fmt: skip
    await tamper(sqlite_db, "UPDATE events SET actor = REPLACE(actor, 'system', 'forger') WHERE seq = :s", s=target)

    report = await audit(store)

    assert (report.ok, report.broken_seq) == (False, target)
    assert report.problem == f"event {target}: hash does not match the content"


async def test_a_rehashed_event_breaks_the_link_to_the_next(sqlite_db: Database) -> None:
    store = Store(sqlite_db, FixedClock(NOON))
    await fresh_meal(store)
    await tamper(sqlite_db, "UPDATE events SET hash = :h WHERE seq = 2", h="f" * 64)

    report = await audit(store)

    assert (report.ok, report.broken_seq) == (False, 2)
    assert report.problem == "event 2: its stored hash does not match"


async def test_a_sampled_audit_checks_one_event_in_each_block_and_still_the_whole_chain(sqlite_db: Database) -> None:
    store = Store(sqlite_db, FixedClock(NOON))
    await fresh_meal(store)
    async with store.reader() as uow:
        head_seq, head = await uow.chain.head()

    full, sampled = await audit(store), await audit(store, columns_every=4)

    assert full.ok and sampled.ok and sampled.head == full.head == head
    assert full.columns_checked == head_seq
    assert head_seq // 4 <= sampled.columns_checked <= -(-head_seq // 4)  # the last block may be short
    await tamper(sqlite_db, "UPDATE event_bodies SET body = CAST(REPLACE(CAST(body AS TEXT), '\"seq\"', '\"seq\" ') "
                 "AS BLOB) WHERE seq = 3")  # fmt: skip
    assert (await audit(store, columns_every=10**6)).problem == "event 3: hash does not match the content"


async def test_a_changed_posting_amount_fails_the_audit(sqlite_db: Database) -> None:
    store = Store(sqlite_db, FixedClock(NOON))
    tx_id = await fresh_meal(store)
    first, *_ = await posting_ids(sqlite_db, tx_id)
    await tamper(sqlite_db, "UPDATE postings SET amount = amount + 100 WHERE id = :p", p=first)

    report = await audit(store)

    assert not report.ok
    assert report.problem == f"ledger transaction {tx_id} does not balance"


async def test_a_still_balanced_edit_of_postings_fails_the_audit_against_the_chain(sqlite_db: Database) -> None:
    store = Store(sqlite_db, FixedClock(NOON))
    tx_id = await fresh_meal(store)
    first, second, *_ = await posting_ids(sqlite_db, tx_id)
    await tamper(sqlite_db, "UPDATE postings SET amount = amount + 100 WHERE id = :p", p=first)
    await tamper(sqlite_db, "UPDATE postings SET amount = amount - 100 WHERE id = :p", p=second)

    report = await audit(store)

    assert not report.ok
    assert report.problem == f"ledger transaction {tx_id} differs from its chained event"


async def test_a_deleted_posting_fails_the_audit(sqlite_db: Database) -> None:
    store = Store(sqlite_db, FixedClock(NOON))
    tx_id = await fresh_meal(store)
    *_, last = await posting_ids(sqlite_db, tx_id)
    await tamper(sqlite_db, "DELETE FROM postings WHERE id = :p", p=last)

    report = await audit(store)

    assert not report.ok
    assert report.problem == f"ledger transaction {tx_id} does not balance"


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("sql", "refusal"),
    [
        pytest.param("UPDATE events SET actor = 'forger' WHERE seq = :seq", "UPDATE on events", id="update-event"),
        pytest.param("DELETE FROM events WHERE seq = :seq", "DELETE on events", id="delete-event"),
        pytest.param("UPDATE postings SET amount = amount + 100 WHERE tx_id = :tx", "UPDATE on postings",
                     id="update-posting"),
        pytest.param("DELETE FROM postings WHERE tx_id = :tx", "DELETE on postings", id="delete-posting"),
        pytest.param("UPDATE ledger_transactions SET memo = 'forged' WHERE id = :tx",
                     "UPDATE on ledger_transactions", id="update-transaction"),
        pytest.param("TRUNCATE events", "TRUNCATE on events", id="truncate-events"),
        pytest.param("UPDATE event_bodies SET body = body WHERE seq = :seq", "UPDATE on event_bodies", id="update-body"),
        pytest.param("DELETE FROM event_bodies WHERE seq = :seq", "DELETE on event_bodies", id="delete-body"),
        pytest.param("TRUNCATE event_bodies", "TRUNCATE on event_bodies", id="truncate-bodies"),
        pytest.param("TRUNCATE postings", "TRUNCATE on postings", id="truncate-postings"),
    ],
)  # fmt: skip
async def test_postgres_refuses_to_change_the_log_or_the_postings(pg_db: Database, sql: str, refusal: str) -> None:
    store = Store(pg_db, FixedClock(NOON))
    tx_id = await a_deposit(store)
    async with store.reader() as uow:
        seq, _ = await uow.chain.head()

    with pytest.raises(DBAPIError, match=f"ketpaar: {refusal} is refused: the table is append-only"):
        await tamper(pg_db, sql, seq=seq, tx=tx_id)

    assert (await audit(store)).ok
    await assert_ledger_invariants(store)


@pytest.mark.postgres
async def test_postgres_refuses_an_unbalanced_transaction_when_it_commits(pg_db: Database) -> None:
    ref = f"forged-{uuid.uuid4().hex}"
    inserted = False

    with pytest.raises(IntegrityError, match=r"ledger transaction \d+ is unbalanced by 1 paise"):
        async with pg_db.write() as conn:
            tx_id = await conn.scalar(
                text("INSERT INTO ledger_transactions (kind, ref, memo, occurred_at, day) "
                     "VALUES ('deposit', :r, '', '2026-11-23T06:30:00+00:00', '2026-11-23') RETURNING id"),
                {"r": ref},
            )  # fmt: skip
            await conn.execute(
                text("INSERT INTO postings (tx_id, account, amount) VALUES (:t, 'external:deposits', -100), "
                     "(:t, 'donor:0', 101)"),
                {"t": tx_id},
            )  # fmt: skip
            inserted = True  # the check is deferred: each statement went through

    assert inserted
    async with pg_db.read() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM ledger_transactions WHERE ref = :r"), {"r": ref}) == 0

"""Group commit of the inbox: a batch of different senders' messages commits as one transaction, a
message that fails is undone and set aside alone, and a crash mid-batch loses and doubles nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import event, select, text

from bot.accept import AcceptBatcher, Accepted, Proof, Refused, Submission
from bot.processor import InboxProcessor
from core.adapters.sql.db import Database
from core.adapters.sql.schema import events, inbox, outbox
from core.adapters.sql.uow import Store, UnitOfWork
from core.members.identity import open_session
from core.ports import UnitOfWork as AnyUnitOfWork
from core.seekers.photos import LocalPhotoStore
from core.shared.clock import SystemClock
from core.shared.events import RetentionApplied
from core.shared.messaging import NewInbound
from flows.messages import Inbound
from tests.helpers import assert_ledger_invariants


class Crash(BaseException):
    """What a killed process looks like to the transaction: nothing after it runs, nothing is caught."""


def effects(crash_on: set[str], fail_on: set[str]):  # type: ignore[no-untyped-def]
    """A handler with every kind of effect a flow has: a row, a reply and a chain event per message."""

    async def handle(uow: AnyUnitOfWork, msg: Inbound) -> None:
        await uow.outbox.enqueue(msg.channel, msg.address, {"text": f"re {msg.text}"}, delivered=True)
        uow.record(RetentionApplied(actor=f"test:{msg.address}", counts={"messages": 1}, before={"text": msg.text}))
        if msg.text in fail_on:
            raise ValueError("this message breaks its flow")
        if msg.text in crash_on:
            raise Crash

    return handle


async def store_messages(store: Store, tag: str, texts: list[str]) -> None:
    async with store.uow() as uow:
        for i, text in enumerate(texts):
            await uow.inbox.store("webchat", f"{tag}-{i}", f"{tag}-{i}", {"kind": "text", "text": text})


@pytest.fixture
async def pg_fresh_db(pg_fresh_url: str) -> AsyncIterator[Database]:
    """A PostgreSQL database of this test's own."""
    db = Database(pg_fresh_url)
    yield db
    await db.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def own_db(request: pytest.FixtureRequest) -> Database:
    """SQLite, or a PostgreSQL database of this test's own: a batch claims the oldest pending
    messages in the whole database, and other tests leave theirs in the shared one."""
    return request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_fresh_db")


async def outcome(db: Database, tag: str) -> tuple[dict[str, str], list[str], list[str]]:
    """(status by text, reply texts, chained event `before.text`s) of this test's messages."""
    async with db.read() as conn:
        q = select(inbox.c.payload, inbox.c.status).where(inbox.c.address.startswith(f"{tag}-"))
        statuses = {p.split('"text": "')[1].split('"')[0]: s for p, s in await conn.execute(q)}
        q2 = select(outbox.c.payload).where(outbox.c.address.startswith(f"{tag}-"))
        replies = [p for (p,) in await conn.execute(q2)]
        q3 = select(events.c.data).where(events.c.actor.startswith(f"test:{tag}-"))
        chained = [d for (d,) in await conn.execute(q3)]
    return statuses, replies, chained


async def test_a_failing_message_is_set_aside_alone_and_the_rest_of_its_batch_commits(own_db: Database, tmp_path: Path) -> None:
    tag = f"b-{uuid.uuid4().hex[:8]}"
    store = Store(own_db, SystemClock())
    texts = ["one", "two", "boom", "four", "five"]
    await store_messages(store, tag, texts)
    processor = InboxProcessor(store, effects(set(), {"boom"}), LocalPhotoStore(tmp_path / "p", b"k" * 32), per_minute=0)

    handled = await processor.process_batch(64)

    statuses, replies, chained = await outcome(own_db, tag)
    assert handled == 5
    assert statuses == {"one": "done", "two": "done", "boom": "failed", "four": "done", "five": "done"}
    assert sorted(r for r in replies if "re " in r) == sorted(f'{{"text": "re {t}"}}' for t in texts if t != "boom")
    assert len(replies) == 5  # four answers and the apology for the failed one: its own reply was undone
    assert len(chained) == 4 and not any('"boom"' in d for d in chained)  # its event was undone with it
    assert await processor.process_batch(64) == 0  # nothing left pending: the failed one is not retried in a loop
    await assert_ledger_invariants(store)


async def test_a_batch_that_needs_no_savepoint_takes_none_and_one_that_fails_is_done_again_with_them(
    own_db: Database, tmp_path: Path
) -> None:
    tag = f"r-{uuid.uuid4().hex[:8]}"
    store = Store(own_db, SystemClock())
    photos = LocalPhotoStore(tmp_path / "p", b"k" * 32)
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, sql: str, *_rest: object) -> None:
        statements.append(sql.split()[0].upper())

    event.listen(own_db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        await store_messages(store, tag, ["one", "two"])
        assert await InboxProcessor(store, effects(set(), set()), photos, per_minute=0).process_batch(64) == 2
        assert "SAVEPOINT" not in statements  # straight through: nothing failed, nothing to undo alone
        statements.clear()
        await store_messages(store, f"{tag}x", ["three", "boom"])
        assert await InboxProcessor(store, effects(set(), {"boom"}), photos, per_minute=0).process_batch(64) == 2
        assert statements.count("SAVEPOINT") == 2  # done again, each message in a savepoint of its own
        statements.clear()
        await store_messages(store, f"{tag}y", ["six", "boom", "eight"])
        processor = InboxProcessor(store, effects(set(), {"boom"}), photos, per_minute=0)
        await processor.process_batch(64)
        await store_messages(store, f"{tag}z", ["nine", "ten"])
        assert await processor.process_batch(64) == 2
        # the first batch was done twice; after it, batches run guarded for a while: a stream of
        # failing messages must not have every batch they land in done twice
        assert statements.count("SAVEPOINT") == 3 + 2
    finally:
        event.remove(own_db.engine.sync_engine, "before_cursor_execute", seen)
    statuses, replies, chained = await outcome(own_db, f"{tag}x")
    assert statuses == {"three": "done", "boom": "failed"}
    assert len([r for r in replies if "re three" in r]) == 1 and len(chained) == 1  # the first run left nothing
    await assert_ledger_invariants(store)


async def test_a_flood_warning_in_a_batch_that_is_done_again_is_sent_once(own_db: Database, tmp_path: Path) -> None:
    tag = f"w-{uuid.uuid4().hex[:8]}"
    store = Store(own_db, SystemClock())
    processor = InboxProcessor(store, effects(set(), {"boom"}), LocalPhotoStore(tmp_path / "p", b"k" * 32), per_minute=1)
    processor.limiter.hit(f"webchat:{tag}-0")  # this sender has had its message of the minute
    await store_messages(store, tag, ["too soon", "boom"])

    await processor.process_batch(64)

    statuses, replies, _ = await outcome(own_db, tag)
    assert statuses == {"too soon": "pending", "boom": "failed"}  # it waits its turn; the failure is set aside
    assert len([r for r in replies if "faster than I can answer" in r]) == 1  # the rolled-back warning is sent again


async def test_a_crash_mid_batch_loses_nothing_and_the_batch_done_again_doubles_nothing(own_db: Database, tmp_path: Path) -> None:
    tag = f"c-{uuid.uuid4().hex[:8]}"
    store = Store(own_db, SystemClock())
    texts = ["one", "two", "crash", "four"]
    await store_messages(store, tag, texts)
    photos = LocalPhotoStore(tmp_path / "p", b"k" * 32)

    with pytest.raises(Crash):
        await InboxProcessor(store, effects({"crash"}, set()), photos, per_minute=0).process_batch(64)
    statuses, replies, chained = await outcome(own_db, tag)
    assert set(statuses.values()) == {"pending"} and replies == [] and chained == []  # all rolled back, none lost

    restarted = InboxProcessor(store, effects(set(), set()), photos, per_minute=0)  # the process comes back
    assert await restarted.process_batch(64) == 4
    assert await restarted.process_batch(64) == 0
    statuses, replies, chained = await outcome(own_db, tag)
    assert set(statuses.values()) == {"done"}
    assert sorted(replies) == sorted(f'{{"text": "re {t}"}}' for t in texts) and len(chained) == 4  # once each
    await assert_ledger_invariants(store)


async def test_a_batch_takes_only_each_senders_oldest_message(own_db: Database, tmp_path: Path) -> None:
    tag = f"o-{uuid.uuid4().hex[:8]}"
    store = Store(own_db, SystemClock())
    async with store.uow() as uow:
        for i in range(3):
            for p in range(2):
                await uow.inbox.store("webchat", f"{tag}-{p}-{i}", f"{tag}-{p}", {"kind": "text", "text": f"m{i}"})
    async with store.uow() as uow:
        claimed = await uow.inbox.claim_batch(64)
    mine = [(c.address, c.payload["text"]) for c in claimed if c.address.startswith(tag)]
    assert sorted(mine) == [(f"{tag}-0", "m0"), (f"{tag}-1", "m0")]


@pytest.mark.postgres
async def test_a_sender_whose_oldest_message_is_held_is_skipped_whole(pg_fresh_db: Database) -> None:
    tag = f"h-{uuid.uuid4().hex[:8]}"
    store = Store(pg_fresh_db, SystemClock())
    async with store.uow() as uow:
        for i in range(2):
            await uow.inbox.store("webchat", f"{tag}-{i}", tag, {"kind": "text", "text": f"m{i}"})
    async with store.uow() as holder:
        first = [c for c in await holder.inbox.claim_batch(64) if c.address == tag]
        assert [c.payload["text"] for c in first] == ["m0"]
        async with pg_fresh_db.write_apart() as conn:  # another process, while the first still holds m0
            second = [c for c in await UnitOfWork(conn, holder.at).inbox.claim_batch(64) if c.address == tag]
        assert second == []  # m1 waits for m0: taking it would break the sender's order
        await holder.inbox.finish(first[0].id)
    async with store.uow() as uow:  # once m0 is done, m1 is the one to take
        assert [c.payload["text"] for c in await uow.inbox.claim_batch(64) if c.address == tag] == ["m1"]


@pytest.mark.postgres
async def test_a_backlog_arriving_after_a_calm_period_is_claimed_without_reading_all_of_it(pg_fresh_db: Database) -> None:
    """Statistics taken while nothing was pending must not make a claim read every pending row:
    16 messages claimed from a 3,000-message backlog read tens of rows, not thousands."""
    store = Store(pg_fresh_db, SystemClock())
    async with pg_fresh_db.write_apart() as conn:  # statistics stay as the calm period left them
        await conn.execute(text("ALTER TABLE inbox SET (autovacuum_enabled = false)"))
    await store_messages(store, "calm", ["hello"] * 50)
    async with store.uow() as uow:
        await uow.inbox.finish_many([row.id for row in await uow.inbox.claim_batch(64)])
    async with pg_fresh_db.write_apart() as conn:
        await conn.execute(text("ANALYZE inbox"))
    backlog = [NewInbound("webchat", f"b-{i}", f"b-{i % 100}", {"kind": "text", "text": f"m{i // 100}"}) for i in range(3000)]
    async with store.uow() as uow:
        await uow.inbox.store_many(backlog)
    rows_read = text("SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables "
                     "WHERE relname = 'inbox'")  # this backend's counts not yet reported: take the difference
    async with store.uow() as uow:
        before = (await uow.conn.execute(rows_read)).scalar_one()
        claimed = await uow.inbox.claim_batch(16)
        reads = (await uow.conn.execute(rows_read)).scalar_one() - before
    assert [c.address for c in claimed] == [f"b-{i}" for i in range(16)] and {c.payload["text"] for c in claimed} == {"m0"}
    assert reads < 200, f"claiming 16 read {reads} inbox rows"


async def test_storing_a_batch_stores_each_provider_id_once_and_names_the_first_copy(db: Database) -> None:
    tag = f"s-{uuid.uuid4().hex[:8]}"
    store = Store(db, SystemClock())
    async with store.uow() as uow:
        (before, _), = await uow.inbox.store_many([NewInbound("webchat", f"{tag}-a", tag, {"kind": "text", "text": "a"})])
    rows = [NewInbound("webchat", f"{tag}-{k}", tag, {"kind": "text", "text": k}) for k in ("b", "a", "c", "b")]
    async with store.uow() as uow:
        stored = await uow.inbox.store_many(rows)
    assert [new for _, new in stored] == [True, False, True, False]  # a redelivery, in the batch or before it
    assert stored[1][0] == before and stored[3][0] == stored[0][0] and len({i for i, _ in stored}) == 3
    async with db.read() as conn:
        texts = [t for (t,) in await conn.execute(select(inbox.c.payload).where(inbox.c.address == tag).order_by(inbox.c.id))]
    assert [t.split('"text": "')[1][0] for t in texts] == ["a", "b", "c"]


HOSTILE = ["NULL", "null", "", '{"a","b"}', "{}", "a,b", 'quote " and \\ backslash', "\\N", "'; DROP TABLE inbox; --",
           "வணக்கம் 🙏", "\u202eevil", "x" * 4000]


async def test_a_batch_of_hostile_texts_and_ids_is_stored_exactly_and_replies_come_back_exactly(db: Database) -> None:
    """The rows of a batch go to PostgreSQL as one array per column: a text that looks like an
    array literal, a NULL, a quote or a backslash must come back as sent, in order."""
    tag = f"x-{uuid.uuid4().hex[:8]}"
    store = Store(db, SystemClock())
    rows = [NewInbound("webchat", f"{tag}-{text[:40]}-{i}", f"{tag}-{i % 3}", {"kind": "text", "text": text})
            for i, text in enumerate(HOSTILE)]  # fmt: skip
    async with store.uow() as uow:
        stored = await uow.inbox.store_many(rows)
        for i, text in enumerate(HOSTILE):
            uow.outbox.add("webchat", f"{tag}-{i}", {"text": text, "n": i}, delivered=True)
    assert all(new for _, new in stored) and [i for i, _ in stored] == sorted(i for i, _ in stored)  # ids in order
    async with store.reader() as uow:
        assert [await uow.inbox.payload(i) for i, _ in stored] == [{"kind": "text", "text": t} for t in HOSTILE]
        replies = [(await uow.outbox.for_recipient("webchat", f"{tag}-{i}", 0))[0][1] for i in range(len(HOSTILE))]
    assert replies == [{"text": t, "n": i} for i, t in enumerate(HOSTILE)]
    async with db.read() as conn:
        ids = [r for (r,) in await conn.execute(select(inbox.c.provider_id).where(inbox.c.address.startswith(tag)))]
    assert sorted(ids) == sorted(r.provider_id for r in rows)
    async with store.uow() as uow:  # nothing left pending for the tests that share this database
        await uow.inbox.finish_many([i for i, _ in stored])


async def test_posts_arriving_together_are_stored_together_and_each_session_is_checked_in_that_transaction(
    db: Database,
) -> None:
    store = Store(db, SystemClock())
    async with store.uow() as uow:
        good, mine = await open_session(uow)
        revoked, gone = await open_session(uow)
        await uow.identity.revoke_session(gone.id)
    batcher = AcceptBatcher(store)

    def sub(proof: Proof | None, address: str | None = None, pid: str | None = None) -> Submission:
        return Submission("webchat", lambda a: pid or uuid.uuid4().hex, address, {"kind": "text", "text": "hi"}, proof)

    outcomes = await asyncio.gather(
        batcher.submit(sub(Proof(good, None), pid="k1")),  # the session's own chat
        batcher.submit(sub(Proof(revoked, None))),  # signed out: refused
        batcher.submit(sub(Proof(good, "someone-else"))),  # a session of another person: refused
        batcher.submit(sub(Proof(revoked, "demo-user", fallback=True))),  # a demo user on loopback
        batcher.submit(sub(Proof(good, mine.address), pid="k1")),  # the same key again, in the same batch
        batcher.submit(sub(None, "telegram-7")),  # a provider webhook: already proven by its signature
        return_exceptions=True,
    )
    first, signed_out, other, demo, again, provider = outcomes
    assert isinstance(first, Accepted) and first.new and first.address == mine.address and first.binding == f"s:{mine.id}"
    assert isinstance(signed_out, Refused) and signed_out.status == 401
    assert isinstance(other, Refused) and other.status == 403
    assert isinstance(demo, Accepted) and demo.address == "demo-user" and demo.binding == "demo:demo-user"
    assert isinstance(again, Accepted) and again.id == first.id and not again.new
    assert isinstance(provider, Accepted) and provider.new and provider.address == "telegram-7"
    async with db.read() as conn:
        stored = {a for (a,) in await conn.execute(select(inbox.c.address).where(inbox.c.address.in_(
            [mine.address, gone.address, "someone-else", "demo-user", "telegram-7"])))}  # fmt: skip
    assert stored == {mine.address, "demo-user", "telegram-7"}  # nothing stored for a refused sender


async def test_one_serve_processes_what_arrives_together_in_batches_in_each_senders_order(
    own_db: Database, tmp_path: Path
) -> None:
    # `serve` processing in its own process: messages stored together wake at most `concurrency`
    # batch pumps, not a transaction each; everyone's messages are answered once, in order.
    tag = f"p-{uuid.uuid4().hex[:8]}"
    store = Store(own_db, SystemClock())
    processor = InboxProcessor(store, effects(set(), set()), LocalPhotoStore(tmp_path / "p", b"k" * 32), per_minute=0)
    claims: list[str] = []

    def seen(_conn: object, _cursor: object, sql: str, *_rest: object) -> None:
        if sql.lstrip().upper().startswith("SELECT INBOX.ID"):
            claims.append(sql)

    event.listen(own_db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        for round_ in range(3):  # each person's second and third messages arrive while the first are handled
            await asyncio.gather(*(processor.receive("webchat", f"{tag}-{p}-{round_}", f"{tag}-{p}",
                                                     {"kind": "text", "text": f"{p}.{round_}"})
                                   for p in range(20)))  # fmt: skip
        await processor.drain()
    finally:
        event.remove(own_db.engine.sync_engine, "before_cursor_execute", seen)

    assert len(claims) < 60 / 2  # 60 messages in far fewer transactions
    async with own_db.read() as conn:
        q = select(outbox.c.address, outbox.c.payload).where(outbox.c.address.startswith(f"{tag}-")).order_by(outbox.c.seq)
        replies = [(a, p) for a, p in await conn.execute(q)]
    for p in range(20):
        mine = [payload for address, payload in replies if address == f"{tag}-{p}"]
        assert mine == [f'{{"text": "re {p}.{r}"}}' for r in range(3)]  # once each, in the order sent
    await assert_ledger_invariants(store)

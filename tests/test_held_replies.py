"""Replies held by a transaction and inserted at commit in one statement: a savepoint that failed
takes back only its own, a flush inside it loses nobody else's, and the order of a transaction's
messages is the order they were stored in, whichever way they were stored."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.processor import InboxProcessor
from core.adapters.sql.db import Database
from core.adapters.sql.schema import outbox
from core.adapters.sql.uow import Store
from core.ports import UnitOfWork
from core.seekers.photos import LocalPhotoStore
from core.shared.clock import SystemClock
from flows.messages import Inbound
from tests.helpers import assert_ledger_invariants


async def replies(db: Database, tag: str) -> list[tuple[str, str, str]]:
    """(address, text, status) of this test's outbound messages in commit order (`seq`)."""
    async with db.read() as conn:
        q = select(outbox.c.address, outbox.c.payload, outbox.c.status, outbox.c.seq).where(outbox.c.address.startswith(tag))
        rows = sorted(await conn.execute(q), key=lambda r: r.seq)
    assert all(r.seq is not None for r in rows)
    return [(r.address, json.loads(r.payload)["text"], r.status) for r in rows]


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database of this test's own: `process_batch` claims whatever is pending, also what another
    test left pending in the session's database."""
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_fresh_url"))
    shutil.copy(request.getfixturevalue("sqlite_template"), tmp_path / "own.db")
    return f"sqlite:///{tmp_path / 'own.db'}"


async def test_a_failed_message_that_flushed_the_held_replies_takes_back_only_its_own(fresh_url: str, tmp_path: Path) -> None:
    db = Database(fresh_url)
    try:
        await flush_then_fail(db, tmp_path)
    finally:
        await db.dispose()


async def flush_then_fail(db: Database, tmp_path: Path) -> None:
    """A batch of three where the second flushes everyone's held replies and then fails."""
    tag = f"held-{uuid.uuid4().hex[:8]}"
    store = Store(db, SystemClock())

    async def handle(uow: UnitOfWork, msg: Inbound) -> None:
        uow.outbox.add(msg.channel, msg.address, {"text": f"re {msg.text}"})
        if msg.text == "boom":
            await uow.outbox.flush()  # what reading the outbox does: inserts everyone's held replies
            raise ValueError("this message breaks its flow after the flush")

    async with store.uow() as uow:
        for i, text in enumerate(["one", "boom", "three"]):
            await uow.inbox.store("webchat", f"{tag}-{i}", f"{tag}-{i}", {"kind": "text", "text": text})
    processor = InboxProcessor(store, handle, LocalPhotoStore(tmp_path / "p", b"k" * 32), per_minute=0)

    assert await processor.process_batch(64) == 3

    got = await replies(db, tag)
    answered = [(a, t) for a, t, _ in got if t.startswith("re ")]
    assert answered == [(f"{tag}-0", "re one"), (f"{tag}-2", "re three")]  # "one" was flushed inside the failed part, kept
    assert [a for a, t, _ in got if not t.startswith("re ")] == [f"{tag}-1"]  # the apology, alone
    await assert_ledger_invariants(store)


async def test_one_transactions_messages_keep_the_order_they_were_stored_in(db: Database) -> None:
    tag = f"order-{uuid.uuid4().hex[:8]}"
    store = Store(db, SystemClock())
    async with store.uow() as uow:
        uow.outbox.add("telegram", f"{tag}-a", {"text": "1"})
        await uow.outbox.enqueue("telegram", f"{tag}-a", {"text": "2"})  # inserted now, after the held one
        uow.outbox.add("telegram", f"{tag}-a", {"text": "3"})
        assert await uow.outbox.withdraw_unsent("job", 1) == 0  # reads the table: the held ones go in first
        uow.outbox.add("webchat", f"{tag}-a", {"text": "4"}, delivered=True)
    async with store.uow() as uow:
        uow.outbox.add("telegram", f"{tag}-a", {"text": "5"})

    assert [(t, s) for _a, t, s in await replies(db, tag)] == [
        ("1", "pending"), ("2", "pending"), ("3", "pending"), ("4", "sent"), ("5", "pending")]  # fmt: skip


async def test_a_held_offer_is_withdrawn_like_a_stored_one(db: Database) -> None:
    tag = f"wd-{uuid.uuid4().hex[:8]}"
    store = Store(db, SystemClock())
    job = int(uuid.uuid4().int % 1_000_000_000)
    async with store.uow() as uow:
        uow.outbox.add("telegram", f"{tag}-w1", {"text": "job offer", "meta": {"job": job}})
        uow.outbox.add("telegram", f"{tag}-w2", {"text": "hello"})
        assert await uow.outbox.withdraw_unsent("job", job) == 1

    assert sorted((a, s) for a, _t, s in await replies(db, tag)) == [(f"{tag}-w1", "withdrawn"), (f"{tag}-w2", "pending")]

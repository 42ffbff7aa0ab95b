"""Concurrency on PostgreSQL: polled messages are never skipped, notifications never clobber steps."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.shared.clock import SystemClock


async def test_a_message_committed_late_with_a_lower_id_is_not_skipped_by_a_poller(pg_db: Database) -> None:
    store = Store(pg_db, SystemClock())
    user = f"poller-{uuid.uuid4().hex[:8]}"
    a_inserted, release_a = asyncio.Event(), asyncio.Event()

    async def slow_a() -> None:
        async with store.uow() as uow:
            await uow.outbox.enqueue("webchat", user, {"text": "A"}, delivered=True)
            a_inserted.set()
            await release_a.wait()  # A holds a lower id but commits after B

    task = asyncio.create_task(slow_a())
    await a_inserted.wait()
    async with store.uow() as uow:
        await uow.outbox.enqueue("webchat", user, {"text": "B"}, delivered=True)
    seen: list[str] = []
    async with store.reader() as uow:
        rows = await uow.outbox.for_recipient("webchat", user, 0)
    seen += [p["text"] for _, p in rows]
    cursor = rows[-1][0]
    release_a.set()
    await task
    async with store.reader() as uow:
        seen += [p["text"] for _, p in await uow.outbox.for_recipient("webchat", user, cursor)]
    assert sorted(seen) == ["A", "B"]


async def test_concurrent_prompts_to_one_person_all_commit_with_distinct_numbers(pg_db: Database) -> None:
    store = Store(pg_db, SystemClock())
    async with store.uow() as uow:
        person = await uow.people.get_or_create("webchat", f"new-{uuid.uuid4().hex[:8]}")

    async def notify(label: str) -> None:
        async with store.uow() as uow:
            await uow.prompts.open(person.id, "claim", [(label, f"claim:{label}"), ("No", f"skip:{label}")], expires_at=None)

    await asyncio.gather(*(notify(str(i)) for i in range(10)))
    async with store.reader() as uow:
        numbers = [o.number for p in await uow.prompts.open_for(person.id) for o in p.options]
    assert sorted(numbers) == list(range(1, 21))


async def test_a_notification_does_not_overwrite_the_step_of_someone_mid_conversation(pg_db: Database) -> None:
    store = Store(pg_db, SystemClock())
    async with store.uow() as uow:
        person = await uow.people.get_or_create("webchat", f"mid-{uuid.uuid4().hex[:8]}")
        await uow.conversations.put(person.id, {"step": "deliver_photo", "data": {"order": 1}})
    loaded, notified = asyncio.Event(), asyncio.Event()

    async def own_message() -> None:
        async with store.uow() as uow:
            state = await uow.conversations.get(person.id)
            loaded.set()
            await notified.wait()
            state["step"] = "deliver_location"
            await uow.conversations.put(person.id, state)

    task = asyncio.create_task(own_message())
    await loaded.wait()
    async with store.uow() as uow:
        await uow.prompts.open(person.id, "claim", [("Claim", "claim:2")], expires_at=None)
    notified.set()
    await task
    async with store.reader() as uow:
        state = await uow.conversations.get(person.id)
        offers = await uow.prompts.open_for(person.id)
    assert state["step"] == "deliver_location" and [p.options[0].payload for p in offers] == ["claim:2"]


async def test_two_app_processes_handle_one_persons_messages_once_each_and_in_order(pg_url: str, tmp_path: Path) -> None:
    from bot.processor import InboxProcessor
    from core.adapters.sql.uow import UnitOfWork
    from core.seekers.photos import LocalPhotoStore
    from flows.messages import Inbound

    handled: list[str] = []

    async def handler(uow: UnitOfWork, msg: Inbound) -> None:
        await uow.conn.exec_driver_sql("SELECT pg_sleep(0.002)")  # real work takes a moment
        handled.append(msg.text)

    dbs = [Database(pg_url), Database(pg_url)]  # two processes: two pools, no shared memory
    staging = LocalPhotoStore(tmp_path, bytes(32))
    a, b = (InboxProcessor(Store(db, SystemClock()), handler, staging) for db in dbs)
    sender = f"+9198{uuid.uuid4().int % 10**8:08d}"
    texts = [f"m{i:02d}" for i in range(20)]
    async with a.store.uow() as uow:
        for i, text in enumerate(texts):
            await uow.inbox.store("sms", f"{sender}-{i}", sender, {"kind": "text", "text": text})
    for _ in range(3):  # both processes are told about the sender, repeatedly
        a.kick("sms", sender)
        b.kick("sms", sender)
    await asyncio.gather(a.drain(), b.drain())
    await a.recover()  # whatever a busy process skipped is picked up again
    await a.drain()
    for db in dbs:
        await db.dispose()
    assert handled == texts

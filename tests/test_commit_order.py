"""Concurrency on PostgreSQL: polled messages are never skipped, notifications never clobber steps."""

from __future__ import annotations

import asyncio
import uuid

from core.clock import SystemClock
from core.storage.db import Database
from core.storage.uow import Store


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


async def test_concurrent_notifications_to_a_new_person_both_commit(pg_db: Database) -> None:
    store = Store(pg_db, SystemClock())
    async with store.uow() as uow:
        person = await uow.people.get_or_create("webchat", f"new-{uuid.uuid4().hex[:8]}")

    async def notify(label: str) -> None:
        async with store.uow() as uow:
            await uow.conversations.set_choices(person.id, [[label, f"claim:{label}"]])

    await asyncio.gather(*(notify(str(i)) for i in range(10)))
    async with store.reader() as uow:
        assert len((await uow.conversations.get(person.id))["choices"]) == 1


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
        await uow.conversations.set_choices(person.id, [["Claim", "claim:2"]])
    notified.set()
    await task
    async with store.reader() as uow:
        state = await uow.conversations.get(person.id)
    assert state["step"] == "deliver_location" and state["choices"] == [["Claim", "claim:2"]]

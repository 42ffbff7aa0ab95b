"""Inbox, outbox, conversation state, photo records and scheduled-job runs."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.storage.schema import conversations, inbox, job_runs, outbox, photos
from core.storage.sqlhelpers import insert_ignore


class InboxRepo:
    """Inbound messages, stored once per provider id before anything acts on them."""

    def __init__(self, conn: AsyncConnection, now: str) -> None:
        self.conn, self.now = conn, now

    async def store(self, channel: str, provider_id: str, address: str, payload: dict[str, Any]) -> tuple[int, bool]:
        """Store a message; return (id, newly_stored). A redelivery returns the first id."""
        inserted = await insert_ignore(
            self.conn,
            inbox,
            {"channel": channel, "provider_id": provider_id, "address": address,
             "payload": json.dumps(payload), "status": "pending", "received_at": self.now},
            ["channel", "provider_id"],
        )  # fmt: skip
        q = select(inbox.c.id).where(inbox.c.channel == channel, inbox.c.provider_id == provider_id)
        return int((await self.conn.execute(q)).scalar_one()), inserted

    async def next_pending(self, channel: str, address: str) -> tuple[int, dict[str, Any]] | None:
        """The oldest unprocessed message from one sender."""
        q = (
            select(inbox.c.id, inbox.c.payload)
            .where(inbox.c.channel == channel, inbox.c.address == address, inbox.c.status == "pending")
            .order_by(inbox.c.id)
            .limit(1)
        )
        row = (await self.conn.execute(q)).first()
        return (int(row.id), json.loads(row.payload)) if row else None

    async def lock_sender(self, channel: str, address: str) -> bool:
        """Hold one sender's messages for this transaction, so several app processes keep
        their order (PostgreSQL advisory lock; SQLite writers are serialised anyway)."""
        if self.conn.dialect.name != "postgresql":
            return True
        q = text("SELECT pg_try_advisory_xact_lock(hashtext(:k))")
        return bool((await self.conn.execute(q, {"k": f"inbox:{channel}:{address}"})).scalar_one())

    async def pending_senders(self) -> list[tuple[str, str]]:
        """Every (channel, address) with unprocessed messages (for recovery after a crash)."""
        q = select(inbox.c.channel, inbox.c.address).where(inbox.c.status == "pending").distinct()
        return [(c, a) for c, a in await self.conn.execute(q)]

    async def finish(self, message_id: int, status: str = "done", error: str | None = None) -> None:
        """Mark a message processed (or failed, with the error kept for operators)."""
        await self.conn.execute(
            update(inbox).where(inbox.c.id == message_id).values(status=status, processed_at=self.now, error=error)
        )


class OutboxRepo:
    """Outbound messages, stored in the same transaction as the change that caused them."""

    def __init__(self, conn: AsyncConnection, now: str) -> None:
        self.conn, self.now = conn, now

    async def enqueue(self, channel: str, address: str, payload: dict[str, Any], *, delivered: bool = False) -> int:
        """Store a message for sending; `delivered` for channels read by polling (web chat)."""
        result = await self.conn.execute(
            outbox.insert().values(
                channel=channel, address=address, payload=json.dumps(payload, ensure_ascii=False),
                status="sent" if delivered else "pending", created_at=self.now,
                sent_at=self.now if delivered else None, next_attempt_at=self.now,
            )
        )  # fmt: skip
        return int(result.inserted_primary_key[0])

    async def for_recipient(self, channel: str, address: str, after: int, limit: int = 200) -> list[tuple[int, dict[str, Any]]]:
        """Messages to one recipient with id above a cursor, oldest first."""
        q = (
            select(outbox.c.id, outbox.c.payload)
            .where(outbox.c.channel == channel, outbox.c.address == address, outbox.c.id > after)
            .order_by(outbox.c.id)
            .limit(limit)
        )
        return [(int(i), json.loads(p)) for i, p in await self.conn.execute(q)]

    async def last_id(self, channel: str, address: str) -> int:
        """The newest message id for a recipient (0 if none)."""
        q = select(outbox.c.id).where(outbox.c.channel == channel, outbox.c.address == address)
        row = (await self.conn.execute(q.order_by(outbox.c.id.desc()).limit(1))).first()
        return int(row.id) if row else 0


class ConversationRepo:
    """Where each person is in a conversation, as JSON (never pickled)."""

    def __init__(self, conn: AsyncConnection, now: str) -> None:
        self.conn, self.now = conn, now

    async def get(self, person_id: int) -> dict[str, Any]:
        """The stored state, or an empty one."""
        q = select(conversations.c.state).where(conversations.c.person_id == person_id)
        raw = (await self.conn.execute(q)).scalar_one_or_none()
        return json.loads(raw) if raw else {}

    async def put(self, person_id: int, state: dict[str, Any]) -> None:
        """Replace the stored state."""
        raw = json.dumps(state, sort_keys=True)
        changed = await self.conn.execute(
            update(conversations).where(conversations.c.person_id == person_id).values(state=raw, updated_at=self.now)
        )
        if not changed.rowcount:
            await self.conn.execute(conversations.insert().values(person_id=person_id, state=raw, updated_at=self.now))


class PhotoRepo:
    """Records of stored photos (the bytes live in the photo store)."""

    def __init__(self, conn: AsyncConnection, now: str) -> None:
        self.conn, self.now = conn, now

    async def add(self, photo_id: str, kind: str, owner_id: int, content_type: str) -> None:
        """Record a stored photo."""
        await self.conn.execute(
            photos.insert().values(id=photo_id, kind=kind, owner_id=owner_id, content_type=content_type, created_at=self.now)
        )

    async def get(self, photo_id: str) -> dict[str, Any] | None:
        """A photo's record, if it exists and was not deleted."""
        q = select(photos).where(photos.c.id == photo_id, photos.c.deleted_at.is_(None))
        row = (await self.conn.execute(q)).first()
        return dict(row._mapping) if row else None


class JobRunRepo:
    """Which idempotent scheduled jobs already ran for which key (usually a day)."""

    def __init__(self, conn: AsyncConnection, now: str) -> None:
        self.conn, self.now = conn, now

    async def claim(self, name: str, key: str) -> bool:
        """Mark a job run; False if it already ran for this key."""
        return await insert_ignore(self.conn, job_runs, {"name": name, "key": key, "ran_at": self.now}, ["name", "key"])

"""Signed daily checkpoints of the chain, the salts of its commitments to personal data, subscriptions."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.adapters.sql.checkpoints_schema import checkpoints, commitment_salts, subscriptions
from core.adapters.sql.sqlhelpers import insert_ignore


class CheckpointRepo:
    """One signed checkpoint per business day, kept as published."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, day: str, seq: int, head: str, body: str) -> bool:
        """Store a day's checkpoint; False when that day already has one (the first stands)."""
        return await insert_ignore(self.conn, checkpoints, {"day": day, "seq": seq, "head": head, "body": body}, ["day"])

    async def latest(self, limit: int = 1) -> list[str]:
        """The newest checkpoints' bodies (canonical JSON), newest first."""
        q = select(checkpoints.c.body).order_by(checkpoints.c.day.desc()).limit(limit)
        return [str(b) for (b,) in await self.conn.execute(q)]

    async def for_day(self, day: str) -> str | None:
        """The checkpoint body of one business day, if made."""
        q = select(checkpoints.c.body).where(checkpoints.c.day == day)
        return (await self.conn.execute(q)).scalar_one_or_none()


class CommitmentRepo:
    """Salts of the chain's commitments to personal data, kept outside the chain."""

    def __init__(self, conn: AsyncConnection, now: str) -> None:
        self.conn, self.now = conn, now

    async def add(self, subject: str, salt: str) -> None:
        """Keep the salt of a new commitment."""
        await self.conn.execute(commitment_salts.insert().values(subject=subject, salt=salt, created_at=self.now))

    async def salt(self, subject: str) -> str | None:
        """The salt of a commitment, unless it was forgotten."""
        q = select(commitment_salts.c.salt).where(commitment_salts.c.subject == subject)
        return (await self.conn.execute(q)).scalar_one_or_none()

    async def forget(self, subjects: list[str]) -> int:
        """Delete salts (the committed values become unrecoverable); return how many went."""
        result = await self.conn.execute(delete(commitment_salts).where(commitment_salts.c.subject.in_(subjects)))
        return int(result.rowcount or 0)


class SubscriptionRepo:
    """Who asked for which regular message."""

    def __init__(self, conn: AsyncConnection, now: str) -> None:
        self.conn, self.now = conn, now

    async def set(self, person_id: int, topic: str, on: bool) -> bool:
        """Subscribe or unsubscribe; tell whether anything changed."""
        if on:
            return await insert_ignore(self.conn, subscriptions, {"person_id": person_id, "topic": topic, "created_at": self.now},
                                       ["person_id", "topic"])  # fmt: skip
        gone = await self.conn.execute(delete(subscriptions).where(subscriptions.c.person_id == person_id, subscriptions.c.topic == topic))
        return bool(gone.rowcount)

    async def subscribed(self, person_id: int, topic: str) -> bool:
        """Whether a person gets a topic's messages."""
        q = select(subscriptions.c.person_id).where(subscriptions.c.person_id == person_id, subscriptions.c.topic == topic)
        return (await self.conn.execute(q)).first() is not None

    async def subscribers(self, topic: str) -> list[int]:
        """Person ids subscribed to a topic, oldest subscription first."""
        sub = subscriptions.c
        q = select(sub.person_id).where(sub.topic == topic).order_by(sub.created_at, sub.person_id)
        return [int(p) for (p,) in await self.conn.execute(q)]

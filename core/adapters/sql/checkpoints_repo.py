"""Signed daily checkpoints of the chain."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.adapters.sql.checkpoints_schema import checkpoints
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

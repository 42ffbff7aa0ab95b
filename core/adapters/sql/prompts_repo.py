"""Open questions with numbered options, several per person (core/prompts/model.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.adapters.sql.schema import prompts
from core.adapters.sql.sqlhelpers import is_postgres, new_id
from core.prompts.model import Option, Prompt, PromptState, numbered, superseded

# Closed prompts are kept this long, so a late tap or typed number still gets a fitting answer.
KEEP_CLOSED = timedelta(days=7)
RECENT = 50  # how many of a person's newest prompts a typed number is looked up in


def _prompt(row: Any) -> Prompt:
    options = tuple(Option(int(n), str(label), str(payload)) for n, label, payload in json.loads(row.options))
    return Prompt(int(row.id), int(row.person_id), row.kind, options, row.opened_at, row.expires_at,
                  row.answered_at, row.withdrawn_at, row.ref)  # fmt: skip


class PromptRepo:
    """A person's prompts: opened with numbers unique among their open ones, then closed once."""

    def __init__(self, conn: AsyncConnection, now: str) -> None:
        self.conn, self.now = conn, now
        # People known to have no prompt at all (`UnitOfWork.remember_roles`, one query for a batch):
        # every read about them answers "none" without a query, until `open` gives them one.
        self.none_for: set[int] = set()
        # What `open_and_recent` read per person, until this unit of work changes a prompt: a typed
        # word is looked up in it, then answered with the open prompts' numbers (two reads, one query).
        self._seen: dict[int, tuple[list[Prompt], list[Prompt]]] = {}

    def forget(self) -> None:
        """Drop what was remembered (a savepoint was undone, or another writer changed prompts)."""
        self.none_for.clear()
        self._seen.clear()

    def _open(self) -> Any:
        return and_(prompts.c.answered_at.is_(None), prompts.c.withdrawn_at.is_(None),
                    or_(prompts.c.expires_at.is_(None), prompts.c.expires_at > self.now))  # fmt: skip

    async def open(self, person_id: int, kind: str, options: Sequence[tuple[str, str]], *,
                   expires_at: str | None, ref: str | None = None) -> Prompt:  # fmt: skip
        """Open a prompt; the same question still open is withdrawn (asked again)."""
        self.none_for.discard(person_id)
        self._seen.pop(person_id, None)
        await self._lock(person_id)
        current = await self.open_for(person_id)
        if old := superseded(current, (payload for _, payload in options)):
            await self.conn.execute(update(prompts).where(prompts.c.id.in_(old)).values(withdrawn_at=self.now))
            current = [p for p in current if p.id not in old]
        numbered_options = numbered(options, current)
        values = {"person_id": person_id, "kind": kind[:32], "ref": ref, "opened_at": self.now, "expires_at": expires_at,
                  "options": json.dumps([[o.number, o.label, o.payload] for o in numbered_options], ensure_ascii=False)}  # fmt: skip
        prompt_id = new_id(await self.conn.execute(prompts.insert().values(**values)))
        await self._purge(person_id)
        return Prompt(prompt_id, person_id, kind[:32], numbered_options, self.now, expires_at, ref=ref)

    async def _lock(self, person_id: int) -> None:
        """Serialise numbering per person: two offers committed at once must not share numbers
        (PostgreSQL advisory lock until commit; SQLite writers are serialised anyway)."""
        if is_postgres(self.conn):
            await self.conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"prompts:{person_id}"})

    async def _purge(self, person_id: int) -> None:
        """Forget this person's prompts closed or opened long ago (the table stays small)."""
        before = (datetime.fromisoformat(self.now) - KEEP_CLOSED).isoformat()
        await self.conn.execute(delete(prompts).where(prompts.c.person_id == person_id, prompts.c.opened_at < before,
                                                      ~self._open()))  # fmt: skip

    async def open_for(self, person_id: int) -> list[Prompt]:
        """The person's open prompts, newest first."""
        if person_id in self.none_for:
            return []
        if person_id in self._seen:
            return list(self._seen[person_id][0])
        q = select(prompts).where(prompts.c.person_id == person_id, self._open()).order_by(prompts.c.id.desc())
        return [_prompt(r) for r in await self.conn.execute(q)]

    async def open_and_recent(self, person_id: int) -> tuple[list[Prompt], list[Prompt]]:
        """`open_for` and `recent` in one statement (what a typed answer is looked up in)."""
        if person_id in self.none_for:
            return [], []
        if person_id in self._seen:
            open_prompts, recent = self._seen[person_id]
            return list(open_prompts), list(recent)
        newest = select(prompts.c.id).where(prompts.c.person_id == person_id).order_by(prompts.c.id.desc()).limit(RECENT)
        q = (
            select(prompts, case((self._open(), 1), else_=0).label("is_open"))
            .where(prompts.c.person_id == person_id, or_(self._open(), prompts.c.id.in_(newest)))
            .order_by(prompts.c.id.desc())
        )
        rows = list(await self.conn.execute(q))
        # The newest RECENT of all the person's prompts have the highest ids, so they lead the list;
        # an open prompt older than them follows.
        found = [_prompt(r) for r in rows if r.is_open], [_prompt(r) for r in rows[:RECENT]]
        self._seen[person_id] = found
        return list(found[0]), list(found[1])

    async def recent(self, person_id: int, limit: int = RECENT) -> list[Prompt]:
        """The person's newest prompts, open or closed, newest first."""
        if person_id in self.none_for:
            return []
        q = select(prompts).where(prompts.c.person_id == person_id).order_by(prompts.c.id.desc()).limit(limit)
        return [_prompt(r) for r in await self.conn.execute(q)]

    async def with_payload(self, person_id: int, payload: str) -> Prompt | None:
        """The person's prompt offering this payload: the newest open one, else the newest closed one."""
        if person_id in self.none_for:
            return None
        pattern = json.dumps(payload, ensure_ascii=False).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        q = select(prompts).where(prompts.c.person_id == person_id, prompts.c.options.like(f"%{pattern}%", escape="\\"))
        found = [p for p in (_prompt(r) for r in await self.conn.execute(q.order_by(prompts.c.id.desc())))
                 if p.with_payload(payload)]  # fmt: skip
        return next((p for p in found if p.state(self.now) is PromptState.OPEN), found[0] if found else None)

    async def answer(self, prompt_id: int) -> bool:
        """Close a prompt as answered; False if it was no longer open."""
        self._seen.clear()  # whosever it is, their open prompts change
        result = await self.conn.execute(
            update(prompts).where(prompts.c.id == prompt_id, self._open()).values(answered_at=self.now)
        )
        return bool(result.rowcount)

    async def withdraw(self, ref: str) -> int:
        """Close every open prompt about something that is gone (e.g. "job:42"); return how many."""
        self._seen.clear()  # anyone's prompt may be about it
        result = await self.conn.execute(update(prompts).where(prompts.c.ref == ref, self._open()).values(withdrawn_at=self.now))
        return int(result.rowcount or 0)

    async def get(self, prompt_id: int) -> Prompt | None:
        """One prompt by id."""
        row = (await self.conn.execute(select(prompts).where(prompts.c.id == prompt_id))).first()
        return _prompt(row) if row else None

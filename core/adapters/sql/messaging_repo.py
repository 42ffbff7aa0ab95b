"""Inbox, outbox, conversation state, photo records and scheduled-job runs."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, or_, select, text, tuple_, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from core.adapters.sql.schema import chain_head, conversations, inbox, job_runs, outbox, photos
from core.adapters.sql.sqlhelpers import insert_ignore, is_postgres, new_id, upsert
from core.shared.messaging import ClaimedInbound, NewInbound, OutboxRow
from core.shared.queues import InboxStatus, OutboxStatus

_CLAIM_PG = text("SELECT * FROM ketpaar_claim_inbox(:lim, CAST(:skip AS text[]))")


def _unnest(columns: dict[str, str]) -> str:
    """A SELECT of one row per array element, one array parameter per column (PostgreSQL)."""
    return "SELECT * FROM unnest(" + ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in columns.items()) + ")"


def _columns(rows: Sequence[dict[str, Any]], names: Iterable[str]) -> dict[str, list[Any]]:
    """The rows as one list per column, for `_unnest`."""
    return {name: [row.get(name) for row in rows] for name in names}


# Several rows in one INSERT. SQLite: rows as parameters of a statement compiled once and cached
# (SQLAlchemy sends them as one multi-row INSERT; .values(rows) has no cache key and was compiled
# afresh for every batch). PostgreSQL: one array per column, so the statement's text is the same
# whatever the number of rows: psycopg converts a statement's placeholders once and caches it only
# up to 50 parameters, and the server prepares it once, where a multi-row VALUES (6 or 9 parameters
# a row) was converted and parsed afresh for every batch.
_INBOX_COLUMNS = {"channel": "varchar", "provider_id": "varchar", "address": "varchar", "payload": "text",
                  "status": "varchar", "received_at": "varchar"}  # fmt: skip
_STORE_INBOX = (sqlite.insert(inbox).on_conflict_do_nothing(index_elements=["channel", "provider_id"])
                .returning(inbox.c.id, inbox.c.channel, inbox.c.provider_id))  # fmt: skip
_STORE_INBOX_PG = text(f"INSERT INTO inbox ({', '.join(_INBOX_COLUMNS)}) {_unnest(_INBOX_COLUMNS)} "
                       "ON CONFLICT (channel, provider_id) DO NOTHING RETURNING id, channel, provider_id")  # fmt: skip
_OUTBOX_COLUMNS = {"channel": "varchar", "address": "varchar", "payload": "text", "status": "varchar",
                   "next_attempt_at": "varchar", "created_at": "varchar", "sent_at": "varchar", "last_error": "text",
                   "seq": "bigint"}  # fmt: skip
_INSERT_OUTBOX = outbox.insert().returning(outbox.c.id)
_INSERT_OUTBOX_PG = text(f"INSERT INTO outbox ({', '.join(_OUTBOX_COLUMNS)}) {_unnest(_OUTBOX_COLUMNS)} RETURNING id")


async def _insert_outbox(conn: AsyncConnection, rows: list[dict[str, Any]]) -> list[int]:
    """Insert outbox rows in one statement; their ids."""
    if is_postgres(conn):
        return [int(i) for (i,) in await conn.execute(_INSERT_OUTBOX_PG, _columns(rows, _OUTBOX_COLUMNS))]
    return [int(i) for (i,) in await conn.execute(_INSERT_OUTBOX, rows)]


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
             "payload": json.dumps(payload), "status": InboxStatus.PENDING, "received_at": self.now},
            ["channel", "provider_id"],
        )  # fmt: skip
        q = select(inbox.c.id).where(inbox.c.channel == channel, inbox.c.provider_id == provider_id)
        return int((await self.conn.execute(q)).scalar_one()), inserted

    async def payload(self, message_id: int) -> dict[str, Any] | None:
        """The stored payload of one message."""
        raw = (await self.conn.execute(select(inbox.c.payload).where(inbox.c.id == message_id))).scalar_one_or_none()
        return json.loads(raw) if raw is not None else None

    async def next_pending(self, channel: str, address: str) -> tuple[int, dict[str, Any]] | None:
        """The oldest unprocessed message from one sender."""
        q = (
            select(inbox.c.id, inbox.c.payload)
            .where(inbox.c.channel == channel, inbox.c.address == address, inbox.c.status == InboxStatus.PENDING)
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

    async def store_many(self, rows: Sequence[NewInbound]) -> list[tuple[int, bool]]:
        """Store several messages in one statement; (id, newly_stored) for each, in order.

        A provider id met twice (here or stored before) is stored once: the first occurrence in
        this call is new only when no earlier call stored it."""
        if not rows:
            return []
        unique: dict[tuple[str, str], NewInbound] = {}
        for row in rows:
            unique.setdefault((row.channel, row.provider_id), row)
        values = [{"channel": r.channel, "provider_id": r.provider_id, "address": r.address,
                   "payload": json.dumps(r.payload), "status": InboxStatus.PENDING, "received_at": self.now}
                  for r in unique.values()]  # fmt: skip
        if is_postgres(self.conn):
            result = await self.conn.execute(_STORE_INBOX_PG, _columns(values, _INBOX_COLUMNS))
        else:
            result = await self.conn.execute(_STORE_INBOX, values)
        inserted = {(c, p): int(i) for i, c, p in result}
        ids = dict(inserted)
        if missing := [key for key in unique if key not in inserted]:
            q = select(inbox.c.id, inbox.c.channel, inbox.c.provider_id).where(
                tuple_(inbox.c.channel, inbox.c.provider_id).in_(missing))  # fmt: skip
            ids.update({(c, p): int(i) for i, c, p in await self.conn.execute(q)})
        out, seen = [], set()
        for row in rows:
            key = (row.channel, row.provider_id)
            out.append((ids[key], key in inserted and key not in seen))
            seen.add(key)
        return out

    async def claim_batch(self, limit: int, skip_channels: Collection[str] = ()) -> list[ClaimedInbound]:
        """Claim, for this transaction, the oldest pending message of up to `limit` different senders
        whose oldest message no other transaction holds (the rest of a sender's messages wait).

        PostgreSQL: one call of `ketpaar_claim_inbox` (migration 0031): row locks with SKIP LOCKED, so
        several processes share the inbox without waiting on each other, and a sender whose oldest
        message is held is skipped whole (taking their second message would break their order); in
        the same statement, the per-sender advisory lock that the one-sender path (`lock_sender`)
        takes too, so the two paths never hold one sender at once. Its plan does not depend on the
        table's statistics (see the migration). SQLite: writers are serialised, so the transaction
        holds them all anyway."""
        if is_postgres(self.conn):
            rows = await self.conn.execute(_CLAIM_PG, {"lim": limit, "skip": sorted(skip_channels)})
            return sorted((ClaimedInbound(int(i), c, a, json.loads(p)) for i, c, a, p in rows), key=lambda r: r.id)
        # Each pending row is kept when it is its sender's oldest: a correlated minimum (a subplan
        # per row, one probe of ix_inbox_pending_sender), never an anti-join.
        older = inbox.alias("older")
        oldest = (select(func.min(older.c.id)).where(older.c.channel == inbox.c.channel, older.c.address == inbox.c.address,
                                                     older.c.status == InboxStatus.PENDING).scalar_subquery())  # fmt: skip
        q = (select(inbox.c.id, inbox.c.channel, inbox.c.address, inbox.c.payload)
             .where(inbox.c.status == InboxStatus.PENDING, inbox.c.id == oldest)
             .order_by(inbox.c.id).limit(limit))  # fmt: skip
        if skip_channels:
            q = q.where(inbox.c.channel.not_in(sorted(skip_channels)))
        return [ClaimedInbound(int(i), c, a, json.loads(p)) for i, c, a, p in await self.conn.execute(q)]

    async def last_received_at(self, channel: str, address: str) -> datetime | None:
        """When this sender's newest message arrived (WhatsApp's 24-hour window)."""
        q = select(func.max(inbox.c.received_at)).where(inbox.c.channel == channel, inbox.c.address == address)
        raw = (await self.conn.execute(q)).scalar_one_or_none()
        return datetime.fromisoformat(raw) if raw else None

    async def pending_photo_refs(self) -> set[str]:
        """The staged photos that messages still waiting to be processed refer to."""
        q = select(inbox.c.payload).where(inbox.c.status == InboxStatus.PENDING, inbox.c.payload.like('%"photo_ref"%'))
        return {str(ref) for (raw,) in await self.conn.execute(q) if (ref := json.loads(raw).get("photo_ref"))}

    async def pending_senders(self) -> list[tuple[str, str]]:
        """Every (channel, address) with unprocessed messages (for recovery after a crash)."""
        q = select(inbox.c.channel, inbox.c.address).where(inbox.c.status == InboxStatus.PENDING).distinct()
        return [(c, a) for c, a in await self.conn.execute(q)]

    async def finish(self, message_id: int, status: InboxStatus = InboxStatus.DONE, error: str | None = None) -> None:
        """Mark a message processed (or failed, with the error kept for operators)."""
        await self.conn.execute(
            update(inbox).where(inbox.c.id == message_id).values(status=status, processed_at=self.now, error=error)
        )

    async def finish_many(self, message_ids: Collection[int], at: str | None = None) -> None:
        """Mark several messages processed in one statement (a batch), at `at` (default: the
        transaction's time)."""
        if message_ids:
            await self.conn.execute(update(inbox).where(inbox.c.id.in_(message_ids))
                                    .values(status=InboxStatus.DONE, processed_at=at or self.now, error=None))  # fmt: skip


def _meta_may_match(key: str, value: int | str) -> Any:
    """A LIKE that narrows the outbox to payloads that may carry meta key == value (the payload is
    JSON text on both databases); `_meta_matches` decides."""
    return outbox.c.payload.like(f"%{json.dumps({key: value}, ensure_ascii=False)[1:-1]}%")  # '"job": 42'


def _meta_matches(payload: dict[str, Any], key: str, value: int | str) -> bool:
    """True when an outbound payload's meta has key == value."""
    return bool(payload.get("meta", {}).get(key) == value)


_ROWS_PER_INSERT = 500  # 9 columns a row: well under SQLite's 32,766 bound parameters a statement
_UNSENT = (OutboxStatus.PENDING, OutboxStatus.SENDING)  # a person's later messages wait behind these (order is kept)
_GIVEN_UP = (OutboxStatus.FAILED, OutboxStatus.UNKNOWN)


def _iso(at: datetime | str) -> str:
    return at if isinstance(at, str) else at.isoformat()


class OutboxRepo:
    """Outbound messages, stored in the same transaction as the change that caused them.

    Delivery status: pending → sending (claimed until `lease_until`) → sent | pending (retry
    later) | failed (gave up: a permanent error or too many attempts) | unknown (see below).
    Channels read by polling (web chat) are stored already `sent`, so they are never claimed.

    Crash between the provider accepting a message and `mark_sent`: the providers have no
    idempotency key, so nobody can tell afterwards whether the message went out. The row stays
    `sending` until its lease expires; `recover_expired` then decides per channel:

    * at-least-once (the default, e.g. Telegram): the row goes back to `pending` and is sent
      again. A rare duplicate chat message is harmless — every button is idempotent in the flows
      (a second "Claim" tap is answered "already taken") — while a lost one (a job offer, "your
      meal was delivered") is not. `last_error` records that it may be a duplicate.
    * at-most-once (channels listed in `hold`, e.g. SMS where each copy costs money): the row
      becomes `unknown`, is listed by `failed()` next to the failed ones, and an operator resends
      it with `retry_failed` only after checking with the person.
    """

    def __init__(self, conn: AsyncConnection, now: str) -> None:
        self.conn, self.now = conn, now
        self.enqueued: list[int] = []  # inserted by `enqueue`, numbered in commit order by number_at_commit()
        self.held: list[dict[str, Any]] = []  # rows from `add`, inserted (already numbered) by number_at_commit()

    def _row(self, channel: str, address: str, payload: dict[str, Any], delivered: bool) -> dict[str, Any]:
        return {"channel": channel, "address": address, "payload": json.dumps(payload, ensure_ascii=False),
                "status": OutboxStatus.SENT if delivered else OutboxStatus.PENDING, "created_at": self.now,
                "sent_at": self.now if delivered else None, "next_attempt_at": self.now, "last_error": None}  # fmt: skip

    async def enqueue(self, channel: str, address: str, payload: dict[str, Any], *, delivered: bool = False) -> int:
        """Store a message for sending now and return its id; `delivered` for channels read by polling (web chat)."""
        await self.flush()  # after the messages held before it: one transaction's messages keep their order
        result = await self.conn.execute(outbox.insert().values(**self._row(channel, address, payload, delivered)))
        message_id = new_id(result)
        self.enqueued.append(message_id)
        return message_id

    def add(self, channel: str, address: str, payload: dict[str, Any], *, delivered: bool = False) -> None:
        """Store a message for sending with the transaction's others: all are inserted at commit in one
        statement, already numbered (the flows' replies: no round trip per reply). Anything that
        reads or changes the outbox table in this transaction inserts them first (`flush`)."""
        self.held.append(self._row(channel, address, payload, delivered))

    async def flush(self) -> None:
        """Insert the held messages now (in one statement), to be numbered at commit like `enqueue`d ones."""
        rows, self.held = self.held, []  # a new list: a savepoint's mark keeps the old one
        for start in range(0, len(rows), _ROWS_PER_INSERT):
            self.enqueued.extend(sorted(await _insert_outbox(self.conn, rows[start:start + _ROWS_PER_INSERT])))

    def mark(self) -> tuple[int, list[dict[str, Any]]]:
        """Where the messages of this transaction stand (to undo a savepoint's with `undo`)."""
        return len(self.enqueued), list(self.held)

    def undo(self, mark: tuple[int, list[dict[str, Any]]]) -> None:
        """Forget the messages stored since `mark` (their savepoint was rolled back); messages held
        before it but inserted inside it (a flush) were rolled back too, so they are held again."""
        del self.enqueued[mark[0]:]
        self.held = list(mark[1])

    @property
    def wrote(self) -> bool:
        """Whether this transaction stores any message."""
        return bool(self.enqueued or self.held)

    async def number_at_commit(self) -> None:
        """Give this transaction's messages their commit-ordered `seq` (called last, under the
        chain-head row lock, so no transaction committing later can get a lower number): those
        `enqueue`d already inserted first, then the held ones, inserted here with their numbers."""
        if not self.wrote:
            return
        first, last = (min(self.enqueued), max(self.enqueued)) if self.enqueued else (0, -1)
        span = last - first + 1 + len(self.held)
        # Taking the numbers is the row lock (one statement: the head moves by the span, so every
        # message gets a number above the old head and none above the new one).
        taken = update(chain_head).where(chain_head.c.id == 1).values(outbox_seq=chain_head.c.outbox_seq + span)
        base = int((await self.conn.execute(taken.returning(chain_head.c.outbox_seq))).scalar_one()) - span
        if self.enqueued:
            await self.conn.execute(
                update(outbox).where(outbox.c.id.in_(self.enqueued)).values(seq=base + 1 + outbox.c.id - first)
            )
        after = base + 1 + last - first + 1
        rows = [{**row, "seq": after + i} for i, row in enumerate(self.held)]
        for start in range(0, len(rows), _ROWS_PER_INSERT):
            await _insert_outbox(self.conn, rows[start:start + _ROWS_PER_INSERT])
        self.enqueued, self.held = [], []

    async def for_recipient(self, channel: str, address: str, after: int, limit: int = 200) -> list[tuple[int, dict[str, Any]]]:
        """Committed messages to one recipient after a cursor (a `seq`), in commit order."""
        await self.flush()
        q = (
            select(outbox.c.seq, outbox.c.payload)
            .where(outbox.c.channel == channel, outbox.c.address == address, outbox.c.seq > after)
            .order_by(outbox.c.seq)
            .limit(limit)
        )
        return [(int(i), json.loads(p)) for i, p in await self.conn.execute(q)]

    async def claim_due(self, channels: Collection[str], now: datetime | str | None = None,
                        limit: int = 100, lease_seconds: float = 120) -> list[OutboxRow]:  # fmt: skip
        """Take due rows for sending (each person's oldest unsent one only, so order is kept).

        On PostgreSQL the rows are locked with FOR UPDATE SKIP LOCKED, so several processes
        share the work without waiting on each other; SQLite writers are serialised anyway."""
        await self.flush()
        if not channels:
            return []
        at = _iso(now or self.now)
        older = outbox.alias("older")
        is_head = ~exists().where(
            older.c.channel == outbox.c.channel, older.c.address == outbox.c.address,
            older.c.id < outbox.c.id, older.c.status.in_(_UNSENT),
        )  # fmt: skip
        q = (
            select(outbox.c.id, outbox.c.channel, outbox.c.address, outbox.c.payload, outbox.c.attempts,
                   outbox.c.created_at)  # fmt: skip
            .where(outbox.c.status == OutboxStatus.PENDING, outbox.c.channel.in_(list(channels)),
                   or_(outbox.c.next_attempt_at.is_(None), outbox.c.next_attempt_at <= at), is_head)  # fmt: skip
            .order_by(outbox.c.id)
            .limit(limit)
        )
        if self.conn.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True, of=outbox)
        rows = list(await self.conn.execute(q))
        if not rows:
            return []
        lease = (datetime.fromisoformat(at) + timedelta(seconds=lease_seconds)).isoformat()
        await self.conn.execute(
            update(outbox).where(outbox.c.id.in_([r.id for r in rows]))
            .values(status=OutboxStatus.SENDING, lease_until=lease, attempts=outbox.c.attempts + 1)
        )  # fmt: skip
        return [OutboxRow(int(r.id), r.channel, r.address, json.loads(r.payload), OutboxStatus.SENDING, int(r.attempts) + 1,
                          created_at=r.created_at) for r in rows]  # fmt: skip

    async def mark_sent(self, outbox_id: int, provider_message_id: str | None = None) -> None:
        """The provider accepted the message."""
        await self.flush()
        await self.conn.execute(
            update(outbox).where(outbox.c.id == outbox_id)
            .values(status=OutboxStatus.SENT, sent_at=self.now, provider_message_id=provider_message_id, lease_until=None)
        )  # fmt: skip

    async def mark_retry(self, outbox_id: int, error: str, next_attempt_at: datetime | str, *,
                         count_attempt: bool = True) -> None:  # fmt: skip
        """Not delivered this time: try again later (`count_attempt=False` for flood control,
        which is the bot's fault, not the message's)."""
        await self.flush()
        values: dict[str, Any] = {"status": OutboxStatus.PENDING, "last_error": error[:2000],
                                  "next_attempt_at": _iso(next_attempt_at), "lease_until": None}  # fmt: skip
        if not count_attempt:
            values["attempts"] = outbox.c.attempts - 1
        await self.conn.execute(
            update(outbox).where(outbox.c.id == outbox_id, outbox.c.status == OutboxStatus.SENDING).values(**values)
        )

    async def mark_failed(self, outbox_id: int, error: str) -> None:
        """Give up on a message, visibly: it is listed by `failed()` and can be retried."""
        await self.flush()
        await self.conn.execute(
            update(outbox).where(outbox.c.id == outbox_id, outbox.c.status.in_(_UNSENT))
            .values(status=OutboxStatus.FAILED, last_error=error[:2000], lease_until=None)
        )  # fmt: skip

    async def recover_expired(self, now: datetime | str | None = None, hold: Collection[str] = (),
                              channels: Collection[str] | None = None) -> tuple[int, int]:  # fmt: skip
        """Take back rows whose sender died mid-send; return (requeued, held as unknown).

        Rows another process is recovering right now are skipped (no lock waits, no deadlocks)."""
        await self.flush()
        at = _iso(now or self.now)
        q = select(outbox.c.id, outbox.c.channel).where(outbox.c.status == OutboxStatus.SENDING, outbox.c.lease_until < at)
        if channels is not None:
            q = q.where(outbox.c.channel.in_(list(channels)))
        if self.conn.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        stuck = list(await self.conn.execute(q))
        held = [r.id for r in stuck if r.channel in hold]
        requeued = [r.id for r in stuck if r.channel not in hold]
        if held:
            await self.conn.execute(update(outbox).where(outbox.c.id.in_(held)).values(
                status=OutboxStatus.UNKNOWN, lease_until=None,
                last_error="the sender stopped mid-send: it may or may not have been delivered; "
                           "check with the person, then retry it if needed"))  # fmt: skip
        if requeued:
            await self.conn.execute(update(outbox).where(outbox.c.id.in_(requeued)).values(
                status=OutboxStatus.PENDING, lease_until=None, next_attempt_at=at,
                last_error="the sender stopped mid-send: sending again (may be a duplicate)"))  # fmt: skip
        return len(requeued), len(held)

    async def failed(self, limit: int = 100) -> list[OutboxRow]:
        """Messages given up on (failed) or of unknown fate, newest first, for operators."""
        await self.flush()
        q = select(outbox).where(outbox.c.status.in_(_GIVEN_UP)).order_by(outbox.c.id.desc()).limit(limit)
        return [
            OutboxRow(int(r.id), r.channel, r.address, json.loads(r.payload), OutboxStatus(r.status), int(r.attempts),
                      r.last_error, r.created_at, r.provider_message_id)  # fmt: skip
            for r in await self.conn.execute(q)
        ]

    async def retry_failed(self, ids: Iterable[int] | None = None) -> int:
        """Send failed/unknown messages again (the given ids, or all); return how many."""
        await self.flush()
        q = update(outbox).where(outbox.c.status.in_(_GIVEN_UP))
        if ids is not None:
            q = q.where(outbox.c.id.in_(list(ids)))
        result = await self.conn.execute(q.values(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=self.now, lease_until=None))
        return int(result.rowcount or 0)

    async def sent_with_meta(self, channel: str, key: str, value: int | str, address: str | None = None) -> list[OutboxRow]:
        """Delivered messages whose meta has key == value (e.g. every offer of job 42), to edit them;
        only those to `address` when given (then the recipient index narrows the scan).

        The payload is JSON text on both databases, so a LIKE narrows the scan and the JSON
        decides; fine for the recent rows this is used on (a job is edited minutes after posting)."""
        await self.flush()
        q = select(outbox).where(
            outbox.c.channel == channel, outbox.c.status == OutboxStatus.SENT, outbox.c.provider_message_id.is_not(None),
            _meta_may_match(key, value),
        )  # fmt: skip
        if address is not None:
            q = q.where(outbox.c.address == address)
        rows = []
        for r in await self.conn.execute(q):
            payload = json.loads(r.payload)
            if _meta_matches(payload, key, value):
                rows.append(OutboxRow(int(r.id), r.channel, r.address, payload, OutboxStatus(r.status), int(r.attempts),
                                      r.last_error, r.created_at, r.provider_message_id))  # fmt: skip
        return rows

    async def withdraw_unsent(self, key: str, value: int | str) -> int:
        """Take back messages not yet handed to a provider whose meta has key == value (e.g. the
        offers of a job that was just claimed), so nobody is sent an offer that is already gone;
        return how many. A row being sent right now is left alone (it is edited or answered
        "no longer available" later)."""
        why = f"withdrawn before sending: {key} {value} no longer applies"
        await self.flush()
        q = select(outbox.c.id, outbox.c.payload).where(outbox.c.status == OutboxStatus.PENDING, _meta_may_match(key, value))
        ids = [int(r.id) for r in await self.conn.execute(q) if _meta_matches(json.loads(r.payload), key, value)]
        if not ids:
            return 0
        result = await self.conn.execute(
            update(outbox).where(outbox.c.id.in_(ids), outbox.c.status == OutboxStatus.PENDING)
            .values(status=OutboxStatus.WITHDRAWN, last_error=why)
        )  # fmt: skip
        return int(result.rowcount or 0)

    async def by_provider_suffix(self, channel: str, suffix: str) -> OutboxRow | None:
        """The sent message whose provider id ends with `suffix` (e.g. a Telegram poll's id)."""
        await self.flush()
        q = select(outbox).where(outbox.c.channel == channel, outbox.c.provider_message_id.like(f"%{suffix}"))
        r = (await self.conn.execute(q.order_by(outbox.c.id.desc()).limit(1))).first()
        if r is None:
            return None
        return OutboxRow(int(r.id), r.channel, r.address, json.loads(r.payload), OutboxStatus(r.status), int(r.attempts),
                         r.last_error, r.created_at, r.provider_message_id)  # fmt: skip


class ConversationRepo:
    """Where each person is in a conversation, as JSON (never pickled).

    What is stored is remembered for the unit of work (read here, written here, or read with the
    person by the people repository: `seen`), so that the router's read costs no round trip and
    putting back an unchanged state (most messages: /help, a typed word that asks nothing) writes
    nothing. Only this repository writes conversations; an erasure makes it `forget`."""

    def __init__(self, conn: AsyncConnection, now: str) -> None:
        self.conn, self.now = conn, now
        self._stored: dict[int, str | None] = {}  # person id -> the JSON stored now (None: no row)

    def forget(self) -> None:
        """Drop what is remembered (a rolled-back savepoint or an erasure may have changed it)."""
        self._stored.clear()

    def seen(self, person_id: int, raw: str | None) -> None:
        """Remember a state read by another statement of this transaction (None: no row)."""
        self._stored[person_id] = raw

    async def get(self, person_id: int) -> dict[str, Any]:
        """The stored step and answers, or an empty state (buttons are prompts: PromptRepo)."""
        if person_id in self._stored:
            raw = self._stored[person_id]
        else:
            q = select(conversations.c.state).where(conversations.c.person_id == person_id)
            raw = self._stored[person_id] = (await self.conn.execute(q)).scalar_one_or_none()
        return dict(json.loads(raw)) if raw is not None else {}

    async def put(self, person_id: int, state: dict[str, Any]) -> None:
        """Replace the stored step and answers (nothing is written when they are what is stored)."""
        raw = json.dumps(state, sort_keys=True)
        if person_id in self._stored and self._stored[person_id] == raw:
            return
        await upsert(
            self.conn, conversations, {"person_id": person_id, "state": raw, "updated_at": self.now},
            ["person_id"], ["state", "updated_at"],
        )  # fmt: skip
        self._stored[person_id] = raw


class PhotoRepo:
    """Records of stored photos (the bytes live in the photo store)."""

    def __init__(self, conn: AsyncConnection, now: str) -> None:
        self.conn, self.now = conn, now

    async def add(self, photo_id: str, kind: str, owner_id: int, content_type: str) -> None:
        """Record a stored photo."""
        await self.conn.execute(
            photos.insert().values(id=photo_id, kind=kind, owner_id=owner_id, content_type=content_type, created_at=self.now)
        )

    async def mark_deleted(self, photo_id: str) -> None:
        """Record that a photo's bytes were deleted (the record stays, for the audit trail)."""
        await self.conn.execute(
            update(photos).where(photos.c.id == photo_id, photos.c.deleted_at.is_(None)).values(deleted_at=self.now)
        )

    async def older_than(self, before: str, limit: int = 1000) -> list[str]:
        """Ids of photos stored before a time and not yet deleted (for the retention purge)."""
        q = select(photos.c.id).where(photos.c.created_at < before, photos.c.deleted_at.is_(None))
        return [str(i) for (i,) in await self.conn.execute(q.order_by(photos.c.created_at).limit(limit))]

    async def kept(self, photo_ids: Collection[str]) -> set[str]:
        """Which of these ids have a record whose bytes are still meant to be kept (not deleted)."""
        if not photo_ids:
            return set()
        q = select(photos.c.id).where(photos.c.id.in_(list(photo_ids)), photos.c.deleted_at.is_(None))
        return {str(i) for (i,) in await self.conn.execute(q)}

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

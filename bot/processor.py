"""Inbox processing: store first, then handle each sender's messages strictly in order."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import re
import time
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from bot.accept import AcceptBatcher, Accepted, Submission
from bot.window_limit import WindowLimiter
from core.members.model import Person
from core.ports import Store, UnitOfWork
from core.seekers.photos import LocalPhotoStore
from core.shared.messaging import ClaimedInbound
from core.shared.queues import InboxStatus
from flows.context import deliver_to
from flows.i18n import translator
from flows.messages import Inbound, Outbound

log = logging.getLogger(__name__)
inbound_log = logging.getLogger("ketpaar.inbound")  # one line per inbound message (see `Handled`)

Handler = Callable[[UnitOfWork, Inbound], Awaitable[None]]
Sender = tuple[str, str]  # (channel, address)
_COMMAND = re.compile(r"^/([a-z_]{1,20})\b")
_VERB = re.compile(r"^([a-z_]{1,20}):")


@dataclass(frozen=True)
class Handled:
    """What is logged and counted about one inbound message: never its text, address or bytes."""

    channel: str
    person: str  # pseudonymous: "person:12" (empty when the handler failed before the person existed)
    step: str  # the kind of message and, for a command or a button, which one: "text:/balance", "choice:claim"
    outcome: str  # handled | failed
    seconds: float


def step_of(msg: Inbound) -> str:
    """The kind of message and which command or button, without any of the person's words."""
    if msg.kind == "text" and (command := _COMMAND.match(msg.text.strip().lower())):
        return f"text:/{command.group(1)}"
    if msg.kind == "choice" and msg.choice and (verb := _VERB.match(msg.choice)):
        return f"choice:{verb.group(1)}"
    return str(msg.kind)

# Inbox channels that are not people writing: applied by their own processor (bot/card_inbox.py).
NOT_CHAT = frozenset({"stripe"})


# C0 controls but tab and newline, and DEL: NUL is refused by PostgreSQL text columns, the others
# only garble replies. Lone surrogates cannot be encoded as UTF-8 at all, so one in a name used to
# break every later write that carried it.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Text any database and channel can carry: no C0 controls but newline and tab, lone
    surrogates replaced by U+FFFD, NFC."""
    return unicodedata.normalize("NFC", _SURROGATES.sub("\ufffd", _CONTROLS.sub("", text)))


def clean_payload(value: Any) -> Any:
    """A stored payload with every string in it (keys too) cleaned."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_payload(k): clean_payload(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_payload(v) for v in value]
    return value


def _text(value: Any) -> str | None:
    return clean_text(value) if isinstance(value, str) else None


def inbound_from_payload(channel: str, address: str, payload: dict[str, Any], photo: bytes | None) -> Inbound:
    """Rebuild the neutral message from its stored JSON, every text cleaned (older rows too)."""
    return Inbound(
        channel=channel, address=address, kind=payload["kind"], text=_text(payload.get("text")) or "", photo=photo,
        lat=payload.get("lat"), lng=payload.get("lng"), choice=_text(payload.get("choice")), poll_id=payload.get("poll_id"),
        poll_options=tuple(payload.get("poll_options") or ()), language_hint=_text(payload.get("language_hint")),
        display_name=_text(payload.get("display_name")),
    )  # fmt: skip


class IdempotencyConflict(Exception):
    """The same idempotency key came again with a different message."""

    def __init__(self, message_id: int) -> None:
        super().__init__(f"idempotency key already used for message {message_id} with a different body")
        self.message_id = message_id


def payload_digest(payload: dict[str, Any], photo: bytes | None) -> str:
    """A fingerprint of what was sent, to tell a true redelivery from a reused key."""
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    if photo is not None:
        digest.update(hashlib.sha256(photo).digest())
    return digest.hexdigest()


class InboxProcessor:
    """Stores every inbound message once, then runs the flows for it in a batch of different
    senders' messages, one transaction for the batch (`process_batch`).

    Each person's messages are handled at most `per_minute` a minute: beyond that they wait,
    stored, and the person is told once that answers are coming (nothing is dropped)."""

    def __init__(
        self, store: Store, handler: Handler, staging: LocalPhotoStore, per_minute: int = 100, concurrency: int = 4,
        *, process: bool = True, observe: Callable[[Handled], None] | None = None,
    ) -> None:
        self.store, self.handler, self.staging = store, handler, staging
        self.observe = observe  # metrics; the log line is written either way
        # False: this process only stores messages (the accept path) and `ketpaar work` processes
        # them, so that processing never shares the accept path's event loop.
        self.process = process
        # At most this many batches are processed at once: the rest wait, stored, so that the accept
        # path (a webhook storing a message) always finds a database connection and a free event loop
        # instead of queueing behind hundreds of flows; several, so that one slow message (a face
        # screened) holds up only its own batch. One person's messages stay in order regardless.
        self.concurrency = max(1, concurrency)
        self.batch = 16  # messages of different senders a pump handles in one transaction
        self._pumps = 0  # batch pumps running in this process (at most `concurrency`)
        self._kicks = 0  # messages stored here so far: a pump that saw none arrive may stop
        # After a message fails, batches run guarded (a savepoint per message) for a while: a
        # stream of failing messages must not have every batch it lands in done twice.
        self.guard_for_s = 30.0
        self._guarded_until = -math.inf
        self._tasks: set[asyncio.Task[None]] = set()
        self.limiter = WindowLimiter(per_minute, 60.0)
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self._warned: dict[Sender, float] = {}
        self.batcher = AcceptBatcher(store)  # the accept path: one transaction for the messages arriving together

    async def receive(
        self, channel: str, provider_id: str, address: str, payload: dict[str, Any], photo: bytes | None = None,
        *, check_body: bool = False,
    ) -> tuple[int, bool]:
        """Store a message (deduplicated by provider id) and schedule it; return (id, new).

        With `check_body`, a repeated id whose message differs raises IdempotencyConflict."""
        accepted = await self.accept(Submission(channel, lambda _address: provider_id, address, payload), photo,
                                     check_body=check_body)  # fmt: skip
        return accepted.id, accepted.new

    async def accept(self, sub: Submission, photo: bytes | None = None, *, check_body: bool = False) -> Accepted:
        """Store a message with the others arriving at the same time (one transaction for them all),
        checking its session proof there too, and schedule it. Raises Refused, Limited, IdempotencyConflict."""
        payload = clean_payload(sub.payload)  # what is stored can be read back and answered on every database
        if check_body:
            payload = {**payload, "digest": payload_digest(payload, photo)}
        if photo is not None:
            payload = {**payload, "photo_ref": await self.staging.put(photo)}
        try:
            accepted = await self.batcher.submit(replace(sub, payload=payload, want_stored=check_body))
        except BaseException:
            if payload.get("photo_ref"):
                await self.staging.delete(payload["photo_ref"])  # refused: nothing refers to it
            raise
        if not accepted.new and payload.get("photo_ref"):
            await self.staging.delete(payload["photo_ref"])  # a redelivery: the first copy is kept
        if accepted.new and self.process:
            self.kick(sub.channel, accepted.address)
        elif check_body and (accepted.stored or {}).get("digest") != payload.get("digest"):
            raise IdempotencyConflict(accepted.id)
        return accepted

    def kick(self, channel: str, address: str) -> None:
        """Make sure pending messages, this sender's among them, get processed: by the batch pumps
        running, which see that one more arrived, or by one more while fewer than `concurrency` run."""
        self._kicks += 1
        if self._pumps < self.concurrency:
            self._pumps += 1
            task = asyncio.create_task(self._pump())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self) -> None:
        """Process batches (`process_batch`) until none is left to do: nothing pending but what a
        running batch holds, and nothing stored since this pump's last batch began. A sender over
        their limit waits, stored, and is taken up when their wait is over (nothing is dropped)."""
        try:
            while True:
                kicks = self._kicks
                done, wait = await self._process_batch(self.batch)
                if done:
                    continue
                if wait:
                    await self.sleep(wait)
                    continue
                if kicks == self._kicks:
                    return
        finally:
            self._pumps -= 1

    async def drain(self) -> None:
        """Wait until everything scheduled so far has been processed (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    async def work(self, stop: asyncio.Event, poll_s: float = 0.02, batch: int = 16, loops: int | None = None) -> None:
        """Process every sender's pending messages, stored by any process, until `stop` is set
        (`ketpaar work`): batches of different senders, one transaction each (see `process_batch`).

        Several batches run at once (`loops`, default the processing concurrency): a message costs a
        dozen round trips to the database, so one connection at a time leaves the CPU waiting. One
        loop polls while the inbox is empty; the others sleep until it finds a full batch."""
        busy = asyncio.Event()

        async def loop(polling: bool) -> None:
            while not stop.is_set():
                handled = await self.process_batch(batch)
                if handled >= batch:
                    busy.set()  # more is waiting: wake the sleeping loops
                    continue
                if handled:
                    continue
                if polling:
                    busy.clear()
                waiter = stop.wait() if polling else _first(stop.wait(), busy.wait())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter, poll_s if polling else 1.0)

        await asyncio.gather(*(loop(i == 0) for i in range(max(1, loops or self.concurrency))))

    async def process_batch(self, limit: int = 64) -> int:
        """Claim the oldest pending message of up to `limit` different senders and process them all in
        one transaction (group commit): their effects, replies, chain events and inbox statuses commit
        together, or, on a crash, not at all and the whole batch is done again. The batch first runs
        straight through; if a message fails, all of it is rolled back and done again with each
        message in a savepoint, where one that fails is undone alone, then set aside and apologised
        for on its own (a savepoint and its release are two of the six statements of a /help: paid
        only for a batch that needs them, and for every batch during `guard_for_s` after a failure).
        Returns how many messages were handled or set aside (0: nothing to do)."""
        return (await self._process_batch(limit))[0]

    async def _process_batch(self, limit: int) -> tuple[int, float]:
        """`process_batch`, and the shortest wait of a sender it left pending for the limiter (0: none)."""
        if time.monotonic() < self._guarded_until:
            return await self._batch(limit, guarded=True)
        try:
            return await self._batch(limit, guarded=False)
        except _Redo as redo:
            log.warning("inbound message %s on %s failed; its batch is done again, each message on its own (%s)",
                        redo.row.id, redo.row.channel, type(redo.__cause__).__name__)  # fmt: skip
            for sender in redo.warned:  # the warnings of the rolled-back batch were never sent
                self._warned.pop(sender, None)
            self._guarded_until = time.monotonic() + self.guard_for_s
            return await self._batch(limit, guarded=True)

    async def _batch(self, limit: int, *, guarded: bool) -> tuple[int, float]:
        """`process_batch` once: with `guarded`, each message in a savepoint of its own; without,
        the first failure raises _Redo and the transaction rolls back whole."""
        failed: list[tuple[ClaimedInbound, Exception]] = []
        handled: list[tuple[ClaimedInbound, str, str]] = []
        started = time.perf_counter()
        limited_for, warned = 0.0, []
        async with self.store.uow() as uow:
            claimed = await uow.inbox.claim_batch(limit, NOT_CHAT)
            # One query each for the whole batch: who the senders are (with their conversation
            # states), and which of them have no restaurant, worker or pledge to look up.
            known = await uow.people.find_many([(row.channel, row.address) for row in claimed])
            await uow.remember_roles([person.id for person in known])
            for row in claimed:
                sender = (row.channel, row.address)
                if wait := self.limiter.retry_after(f"{row.channel}:{row.address}"):
                    if await self._tell_too_fast_in(uow, sender):  # left pending: a later batch takes it
                        warned.append(sender)
                    limited_for = min(limited_for or wait, wait)
                    continue
                step, person = "unknown", ""
                try:
                    async with self.store.part(uow, savepoint=guarded):
                        photo = await self.staging.get(row.payload["photo_ref"]) if row.payload.get("photo_ref") else None
                        msg = inbound_from_payload(row.channel, row.address, row.payload, photo)
                        step = step_of(msg)
                        await self.handler(uow, msg)
                        speaker = await uow.people.find(row.channel, row.address)  # remembered: no round trip
                        person = f"person:{speaker.id}" if speaker is not None else ""
                except Exception as exc:
                    if not guarded:
                        raise _Redo(row, warned) from exc
                    log.exception("inbound message %s on %s failed", row.id, row.channel)  # no address: it may be a phone number
                    failed.append((row, exc))
                    continue
                handled.append((row, step, person))
            # Their statuses in one statement, in the same transaction as their effects: all commit or none.
            # Stamped now, after the claim, not at the transaction's start: a batch that started earlier
            # in another process but claimed a sender's next message after this one committed must not
            # look as if it had processed it first (processed_at grows with each sender's messages).
            await uow.inbox.finish_many([row.id for row, _, _ in handled], self.store.clock.now().isoformat())
        seconds = time.perf_counter() - started
        for row, step, person in handled:
            self.limiter.hit(f"{row.channel}:{row.address}")  # counted once it has committed
            self._report(Handled(row.channel, person, step, "handled", seconds))
            if row.payload.get("photo_ref"):
                await self.staging.delete(row.payload["photo_ref"])
        for row, error in failed:
            await self._set_aside(row.id, (row.channel, row.address), error)
            self._report(Handled(row.channel, "", "unknown", "failed", seconds))
        return len(handled) + len(failed), limited_for

    async def recover(self) -> int:
        """After a restart, schedule every sender with unprocessed messages."""
        async with self.store.reader() as uow:
            senders = await uow.inbox.pending_senders()
        senders = [s for s in senders if s[0] not in NOT_CHAT]
        for channel, address in senders:
            self.kick(channel, address)
        return len(senders)

    async def _tell_too_fast_in(self, uow: UnitOfWork, sender: Sender) -> bool:
        """Tell a person, in the caller's transaction, that their messages will be answered in turn:
        once per flood (again only if they are still flooding two windows of the limit later).
        True if told now."""
        now = self.limiter.clock()
        if now - self._warned.get(sender, -math.inf) < 2 * self.limiter.window_s:
            return False
        if len(self._warned) > 10_000:  # bounded: forget the floods long answered
            self._warned = {k: t for k, t in self._warned.items() if now - t < 2 * self.limiter.window_s}
        self._warned[sender] = now
        person = await _speaker(uow, sender)
        _ = translator(person.language, person.channel)
        text = _("You are sending messages faster than I can answer. I have kept them all and will answer each in turn.")
        await deliver_to(uow, person, Outbound(text))
        return True

    def _report(self, handled: Handled) -> None:
        """One log line and the metrics for a message."""
        inbound_log.info("inbound %s %s %s %s %.1f ms", handled.channel, handled.person or "-", handled.step, handled.outcome,
                         handled.seconds * 1000, extra={"channel": handled.channel, "person": handled.person,
                                                        "step": handled.step, "outcome": handled.outcome,
                                                        "duration_ms": round(handled.seconds * 1000, 1)})  # fmt: skip
        if self.observe is not None:
            self.observe(handled)

    async def _set_aside(self, message_id: int, sender: Sender, exc: Exception) -> None:
        """Keep a failed message visibly (status failed, with the error) and apologise."""
        async with self.store.uow() as uow:
            await uow.inbox.finish(message_id, InboxStatus.FAILED, clean_text(f"{type(exc).__name__}: {exc}"))
            person = await _speaker(uow, sender)
            _ = translator(person.language, person.channel)
            await deliver_to(uow, person, Outbound(
                _("Sorry, something went wrong on our side. Your message is saved and the team will look at it. "
                  "Please try again in a moment.")))  # fmt: skip


class _Redo(Exception):
    """A message failed in a batch run without savepoints: roll it all back and run it guarded."""

    def __init__(self, row: ClaimedInbound, warned: list[Sender]) -> None:
        super().__init__(f"inbound message {row.id} failed")
        self.row, self.warned = row, warned  # the failed message; the senders told to slow down meanwhile


async def _first(*waits: Awaitable[object]) -> None:
    """Return when the first of several waits is done (the others are cancelled)."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


async def _speaker(uow: UnitOfWork, sender: Sender) -> Person:
    """The person behind a sender, to be answered at that very identity."""
    person = await uow.people.get_or_create(*sender)
    return replace(person, channel=sender[0], address=sender[1], web_address=None)

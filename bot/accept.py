"""The accept path's group commit: inbound messages arriving together are stored in one transaction.

A webhook or a web-chat POST hands its message to the batcher and waits for the commit; whatever
arrived while the previous batch was being written goes into the next one (one multi-row INSERT,
one session read, one commit). A provider never waits behind another request's transaction, and
the database sees one commit per batch instead of two per message. Nothing is answered before
its row has committed, so "202 Accepted" still means "stored".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from core.members.identity import WebSession, check_sessions
from core.ports import Store, UnitOfWork
from core.shared.messaging import NewInbound

log = logging.getLogger(__name__)

MAX_BATCH = 256  # rows per INSERT: beyond this a statement's size, not the commit, dominates


@dataclass(frozen=True)
class Proof:
    """A web-chat session token, checked in the storing transaction itself, and what it must prove."""

    token: str
    user: str | None  # the chat named in the URL, which the session must be; None: the session's own
    fallback: bool = False  # the URL's user may be driven without a session (a demo user on loopback)


@dataclass(frozen=True)
class Submission:
    """One inbound message to store; `address` is None when the session proves it."""

    channel: str
    provider_id: Callable[[str], str]  # from the proven address (an idempotency key is scoped to its sender)
    address: str | None
    payload: dict[str, Any]
    proof: Proof | None = None
    admit: Callable[[str], Awaitable[bool]] | None = None  # the per-person rate limit, once the sender is known
    want_stored: bool = False  # a duplicate returns the first copy's payload (to compare digests)


@dataclass(frozen=True)
class Accepted:
    """A stored message: its id, whether this call stored it, who sent it, and the first copy's payload."""

    id: int
    new: bool
    address: str
    binding: str  # what photo links bind to: "s:<session id>" or "demo:<user>"; "" for providers
    stored: dict[str, Any] | None = None


class Refused(Exception):
    """The session does not prove this sender (401: no valid session; 403: a session of someone else)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"refused with {status}")
        self.status = status


class Limited(Exception):
    """The sender is over the per-person rate: nothing was stored."""

    def __init__(self, address: str) -> None:
        super().__init__("too many messages")
        self.address = address


def _sender(sub: Submission, sessions: dict[str, WebSession | None]) -> tuple[str, str]:
    """(address, binding) the submission is proven to come from; raises Refused."""
    if sub.proof is None:
        if sub.address is None:
            raise Refused(401)
        return sub.address, ""
    session = sessions.get(sub.proof.token)
    user = sub.proof.user
    if session is not None and (user is None or session.address == user):
        return session.address, f"s:{session.id}"
    if user is not None and sub.proof.fallback:
        return user, f"demo:{user}"
    raise Refused(403 if session is not None else 401)


Item = tuple[Submission, "asyncio.Future[Accepted]"]


class AcceptBatcher:
    """Stores submissions in batches, one transaction each, one batch at a time (so a sender's
    messages get ids in the order their requests were answered)."""

    def __init__(self, store: Store, max_batch: int = MAX_BATCH) -> None:
        self.store, self.max_batch = store, max_batch
        self._queue: list[Item] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, sub: Submission) -> Accepted:
        """Store one message with whatever else is waiting; return once it has committed."""
        future: asyncio.Future[Accepted] = asyncio.get_running_loop().create_future()
        self._queue.append((sub, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        return await future

    async def drain(self) -> None:
        """Wait until everything submitted so far has been written (shutdown)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        batch: list[Item] = []
        try:
            await self._batches(batch)
        finally:
            # Cancelled (the loop is closing): nobody may wait forever for an answer that will not come.
            for _, future in batch + self._queue:
                if not future.done():
                    future.set_exception(RuntimeError("the service is stopping; the message was not stored"))

    async def _batches(self, batch: list[Item]) -> None:
        while self._queue:
            batch[:], self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            try:
                results = await self._write(batch)
            except Exception as exc:
                if len(batch) == 1:
                    _settle(batch, [exc])
                    continue
                # One bad row must not refuse the others: each is written again on its own.
                log.exception("storing a batch of %d inbound messages failed; storing them one by one", len(batch))
                for item in batch:
                    try:
                        _settle([item], await self._write([item]))
                    except Exception as alone:
                        _settle([item], [alone])
                continue
            _settle(batch, results)

    async def _write(self, batch: list[Item]) -> list[Accepted | BaseException]:
        """One transaction: check the sessions, apply the rate limit, insert the rows, read duplicates."""
        async with self.store.uow() as uow:
            return await _store(uow, [sub for sub, _ in batch])


async def _store(uow: UnitOfWork, subs: list[Submission]) -> list[Accepted | BaseException]:
    """The rows of one batch, in its transaction; a refused or limited submission gets its exception."""
    sessions = await check_sessions(uow, [s.proof.token for s in subs if s.proof is not None])
    outcomes: list[tuple[str, str] | BaseException] = []
    rows: list[NewInbound] = []
    for sub in subs:
        try:
            address, binding = _sender(sub, sessions)
            if sub.admit is not None and not await sub.admit(address):
                raise Limited(address)
        except (Refused, Limited) as exc:
            outcomes.append(exc)
            continue
        outcomes.append((address, binding))
        rows.append(NewInbound(sub.channel, sub.provider_id(address), address, sub.payload))
    stored = iter(await uow.inbox.store_many(rows))
    results: list[Accepted | BaseException] = []
    for sub, outcome in zip(subs, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            results.append(outcome)
            continue
        message_id, new = next(stored)
        first = await uow.inbox.payload(message_id) if sub.want_stored and not new else None
        results.append(Accepted(message_id, new, outcome[0], outcome[1], first))
    return results


def _settle(batch: list[Item], results: list[Accepted | BaseException]) -> None:
    """Answer each waiting request (one that gave up waiting is skipped)."""
    for (_, future), result in zip(batch, results, strict=True):
        if future.done():
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)

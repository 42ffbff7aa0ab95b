"""Inbox processing: store first, then handle each sender's messages strictly in order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from core.photos import LocalPhotoStore
from core.storage.uow import Store, UnitOfWork
from flows.context import deliver_to
from flows.i18n import translator
from flows.messages import Inbound, Outbound

log = logging.getLogger(__name__)

Handler = Callable[[UnitOfWork, Inbound], Awaitable[None]]
Sender = tuple[str, str]  # (channel, address)


def inbound_from_payload(channel: str, address: str, payload: dict[str, Any], photo: bytes | None) -> Inbound:
    """Rebuild the neutral message from its stored JSON."""
    return Inbound(
        channel=channel, address=address, kind=payload["kind"], text=payload.get("text") or "", photo=photo,
        lat=payload.get("lat"), lng=payload.get("lng"), choice=payload.get("choice"), poll_id=payload.get("poll_id"),
        poll_options=tuple(payload.get("poll_options") or ()), language_hint=payload.get("language_hint"),
        display_name=payload.get("display_name"),
    )  # fmt: skip


class InboxProcessor:
    """Stores every inbound message once, then runs the flows for it in its own transaction."""

    def __init__(self, store: Store, handler: Handler, staging: LocalPhotoStore) -> None:
        self.store, self.handler, self.staging = store, handler, staging
        self._locks: dict[Sender, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def receive(
        self, channel: str, provider_id: str, address: str, payload: dict[str, Any], photo: bytes | None = None
    ) -> tuple[int, bool]:
        """Store a message (deduplicated by provider id) and schedule it; return (id, new)."""
        if photo is not None:
            payload = {**payload, "photo_ref": await self.staging.put(photo)}
        async with self.store.uow() as uow:
            message_id, new = await uow.inbox.store(channel, provider_id, address, payload)
        if not new and payload.get("photo_ref"):
            await self.staging.delete(payload["photo_ref"])  # a redelivery: the first copy is kept
        if new:
            self.kick(channel, address)
        return message_id, new

    def kick(self, channel: str, address: str) -> None:
        """Make sure this sender's pending messages get processed."""
        task = asyncio.create_task(self._drain((channel, address)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until everything scheduled so far has been processed (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    async def recover(self) -> int:
        """After a restart, schedule every sender with unprocessed messages."""
        async with self.store.reader() as uow:
            senders = await uow.inbox.pending_senders()
        for channel, address in senders:
            self.kick(channel, address)
        return len(senders)

    async def _drain(self, sender: Sender) -> None:
        async with self._locks.setdefault(sender, asyncio.Lock()):
            while await self._process_next(sender):
                pass

    async def _process_next(self, sender: Sender) -> bool:
        """Process the sender's oldest pending message; False when there is none (or another process has it)."""
        channel, address = sender
        message_id = None
        try:
            async with self.store.uow() as uow:
                if not await uow.inbox.lock_sender(channel, address):
                    return False
                found = await uow.inbox.next_pending(channel, address)
                if found is None:
                    return False
                message_id, payload = found
                photo = await self.staging.get(payload["photo_ref"]) if payload.get("photo_ref") else None
                await self.handler(uow, inbound_from_payload(channel, address, payload, photo))
                await uow.inbox.finish(message_id)
        except Exception as exc:
            if message_id is None:
                raise
            log.exception("inbound message %s from %s:%s failed", message_id, channel, address)
            await self._set_aside(message_id, sender, exc)
            return True
        if payload.get("photo_ref"):
            await self.staging.delete(payload["photo_ref"])
        return True

    async def _set_aside(self, message_id: int, sender: Sender, exc: Exception) -> None:
        """Keep a failed message visibly (status failed, with the error) and apologise."""
        async with self.store.uow() as uow:
            await uow.inbox.finish(message_id, "failed", f"{type(exc).__name__}: {exc}")
            person = await uow.people.get_or_create(*sender)
            _ = translator(person.language, person.channel)
            await deliver_to(uow, person, Outbound(
                _("Sorry, something went wrong on our side. Your message is saved and the team will look at it. "
                  "Please try again in a moment.")))  # fmt: skip

"""Stripe's notifications (payments, and connected accounts for payouts): stored in the inbox once per event id, then acted on in order.

The same inbox as the chat channels (channel "stripe", one sender), so a crash between storing
and acting loses nothing: pending events are acted on at the next start."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

from core.adapters.stripe.webhook import account_state, card_event
from core.payments import cards, connect
from core.ports import Store
from core.shared.queues import InboxStatus

log = logging.getLogger(__name__)

CHANNEL = ADDRESS = "stripe"


def signature_digest(header: str) -> str:
    """A fingerprint of the exact Stripe-Signature header an event came with."""
    return hashlib.sha256(header.encode("utf-8", "replace")).hexdigest()


class CardInbox:
    """Receives verified Stripe events and applies them to card payments, one at a time."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = asyncio.Lock()

    async def receive(self, event: dict[str, Any], signature: str) -> str:
        """Store a verified event (deduplicated by its id) and act on it; return "new",
        "duplicate" (Stripe delivering it again, newly signed) or "replayed" (the very same
        signed request sent again: refused by the route)."""
        payload = {"kind": "stripe", "event": event, "signature": signature_digest(signature)}
        async with self.store.uow() as uow:
            message_id, new = await uow.inbox.store(CHANNEL, str(event["id"]), ADDRESS, payload)
            stored = None if new else await uow.inbox.payload(message_id)
        if not new:
            return "replayed" if (stored or {}).get("signature") == payload["signature"] else "duplicate"
        await self.process()
        return "new"

    async def process(self) -> int:
        """Act on every pending event in the order they arrived; return how many."""
        done = 0
        async with self._lock:
            while await self._next():
                done += 1
        return done

    async def _next(self) -> bool:
        message_id = None
        try:
            async with self.store.uow() as uow:
                if not await uow.inbox.lock_sender(CHANNEL, ADDRESS):
                    return False  # another process is applying Stripe events right now
                found = await uow.inbox.next_pending(CHANNEL, ADDRESS)
                if found is None:
                    return False
                message_id, payload = found
                raw = payload.get("event") or {}
                if (account := account_state(raw)) is not None:  # Connect: can a payee receive transfers yet
                    outcome = await connect.apply_account_update(uow, account)
                else:
                    event = card_event(raw)
                    outcome = "ignored" if event is None else await cards.apply_event(uow, event)
                log.info("stripe event %s: %s", (payload.get("event") or {}).get("id"), outcome)
                await uow.inbox.finish(message_id)
        except Exception as exc:
            if message_id is None:
                raise
            log.exception("stripe event (inbox %s) failed", message_id)
            async with self.store.uow() as uow:
                await uow.inbox.finish(message_id, InboxStatus.FAILED, f"{type(exc).__name__}: {exc}"[:500])
        return True

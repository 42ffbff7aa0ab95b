"""The message bus: routes recorded domain events to handlers by a plain dict."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from core.shared.events import DomainEvent

if TYPE_CHECKING:
    from core.ports import UnitOfWork

log = logging.getLogger(__name__)

Handler = Callable[[DomainEvent, "UnitOfWork"], Awaitable[None]]


class MessageBus:
    """In-transaction handlers: they run before commit, so their writes (outbox rows,
    follow-up events) commit or roll back together with the change that caused them."""

    def __init__(self) -> None:
        self.handlers: dict[type[DomainEvent], list[Handler]] = {}

    def on(self, event_type: type[DomainEvent], handler: Handler) -> None:
        """Subscribe a handler to one event type."""
        self.handlers.setdefault(event_type, []).append(handler)

    async def dispatch(self, uow: UnitOfWork, start: int = 0) -> int:
        """Run handlers for every event recorded from `start` on, including ones handlers record;
        return how many events have been dispatched (where the next call starts)."""
        done = start
        while done < len(uow.events):
            event = uow.events[done]
            done += 1
            for handler in self.handlers.get(type(event), []):
                # A failing handler fails the whole unit of work: nothing half-done is committed.
                await handler(event, uow)
        return done

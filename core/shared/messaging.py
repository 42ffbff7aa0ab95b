"""Value types of the inbox and outbox, as services and operators see them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.shared.queues import OutboxStatus


@dataclass(frozen=True)
class OutboxRow:
    """One outbox message as the sender and operators see it."""

    id: int
    channel: str
    address: str
    payload: dict[str, Any]
    status: OutboxStatus
    attempts: int
    last_error: str | None = None
    created_at: str = ""
    provider_message_id: str | None = None


@dataclass(frozen=True)
class NewInbound:
    """An inbound message to store: deduplicated by (channel, provider_id)."""

    channel: str
    provider_id: str
    address: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class ClaimedInbound:
    """A pending inbound message claimed for processing in the claiming transaction."""

    id: int
    channel: str
    address: str
    payload: dict[str, Any]

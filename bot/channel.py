"""What every outbound channel adapter offers the outbox sender."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from flows.messages import Outbound


@dataclass(frozen=True)
class SendResult:
    """Outcome of one delivery attempt."""

    ok: bool
    provider_message_id: str | None = None
    retry_after: float | None = None  # seconds the provider asked us to wait (e.g. Telegram 429)
    permanent_error: str | None = None  # do not retry (blocked bot, invalid number)
    error: str | None = None  # transient error text, retried with backoff


class ChannelSender(Protocol):
    """Delivers neutral messages on one channel (registered by its short code)."""

    code: str  # "telegram", "whatsapp", "sms"

    async def send(self, address: str, message: Outbound, *, outbox_id: int) -> SendResult:
        """Deliver one message to one address; never raise for provider errors, report them."""

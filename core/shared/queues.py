"""The stored statuses of the message queues: inbound messages and outbound ones."""

from __future__ import annotations

from enum import StrEnum


class InboxStatus(StrEnum):
    """Where an inbound message stands; stored as its value."""

    PENDING = "pending"  # stored, its flow not yet run
    DONE = "done"
    FAILED = "failed"  # its flow crashed; kept with the error for operators


class OutboxStatus(StrEnum):
    """Where an outbound message stands; stored as its value (see OutboxRepo for the moves)."""

    PENDING = "pending"  # waiting for its first or next attempt
    SENDING = "sending"  # claimed by a sender until its lease ends
    SENT = "sent"
    FAILED = "failed"  # gave up: a permanent error or too many attempts
    UNKNOWN = "unknown"  # a crash mid-send on an at-most-once channel: nobody can tell if it went
    WITHDRAWN = "withdrawn"  # never sent: what it announced no longer applies (a job taken)

"""Clocks: the real one, and a settable one for tests and scheduled jobs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

# The cooperative's business day (capacity, daily minimum) follows Indian time.
LOCAL_TZ = ZoneInfo("Asia/Kolkata")


class Clock(Protocol):
    """Anything that tells the current time (timezone-aware, UTC)."""

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(UTC)


def local_day(at: datetime) -> str:
    """Return the cooperative's business day (ISO date, Indian time) for an instant."""
    return at.astimezone(LOCAL_TZ).date().isoformat()

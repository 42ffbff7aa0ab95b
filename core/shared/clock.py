"""Clocks: the real one, and a settable one for tests and scheduled jobs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, at: datetime) -> None:
        self._at = at

    def now(self) -> datetime:
        """Return the clock's current time."""
        return self._at

    def advance(self, **delta: float) -> None:
        """Move the clock forward by a timedelta given as keyword arguments."""
        self._at += timedelta(**delta)

    def set(self, at: datetime) -> None:
        """Jump to a given time."""
        self._at = at


def local_day(at: datetime) -> str:
    """Return the cooperative's business day (ISO date, Indian time) for an instant."""
    return at.astimezone(LOCAL_TZ).date().isoformat()

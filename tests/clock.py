"""A clock for tests: it only moves when told to (it implements core.shared.clock.Clock)."""

from __future__ import annotations

from datetime import datetime, timedelta


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

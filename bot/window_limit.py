"""Sliding-window counters for inbound limits: per person, per IP, per session creation.

WindowLimiter is kept in one process's memory. The web routes use `Limits`: in memory with no
Redis (one process), on Redis when it is configured, so that N app processes do not multiply a
limit by N (core/adapters/redis/limits.py)."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Protocol


class WindowLimiter:
    """At most `limit` events per `window_s` seconds for each key."""

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic, max_keys: int = 50_000) -> None:
        self.limit, self.window_s, self.clock, self.max_keys = limit, window_s, clock, max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def _window(self, key: str) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
            while len(self._hits) > self.max_keys:  # bounded memory under a flood of new keys
                self._hits.popitem(last=False)
        self._hits.move_to_end(key)
        cutoff = self.clock() - self.window_s
        while hits and hits[0] <= cutoff:
            hits.popleft()
        return hits

    def hit(self, key: str) -> bool:
        """Count one event if it is within the limit; False (not counted) if it is over."""
        if self.limit <= 0:
            return True  # 0 turns the limit off
        hits = self._window(key)
        if len(hits) >= self.limit:
            return False
        hits.append(self.clock())
        return True

    def retry_after(self, key: str) -> float:
        """Seconds until the key may go again (0 when it may go now)."""
        if self.limit <= 0:
            return 0.0
        hits = self._window(key)
        return 0.0 if len(hits) < self.limit else max(hits[0] + self.window_s - self.clock(), 0.0)


class Limits(Protocol):
    """Named sliding-window limits shared by every route of an app process (or, on Redis, by
    every process of the service)."""

    async def hit(self, name: str, key: str, limit: int, window_s: float) -> bool:
        """Count one event for `key` under the limit `name`; False (not counted) when over."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class LocalLimits:
    """Limits kept in this process's memory: the embedded default with no Redis."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._limiters: dict[tuple[str, int, float], WindowLimiter] = {}

    async def hit(self, name: str, key: str, limit: int, window_s: float) -> bool:
        """Count one event for `key` under the limit `name`; False (not counted) when over."""
        limiter = self._limiters.get((name, limit, window_s))
        if limiter is None:
            limiter = self._limiters[(name, limit, window_s)] = WindowLimiter(limit, window_s, self.clock)
        return limiter.hit(key)

    async def close(self) -> None:
        """Nothing to release."""

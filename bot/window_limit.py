"""Sliding-window counters for inbound limits: per person, per IP, per session creation.

Kept in each app process's memory: a limit is per process, which is what an attacker hitting
one process meets and a small overshoot across processes is harmless."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable


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

"""The long-lived server processes' garbage collector, tuned for serving (measured, see below)."""

from __future__ import annotations

import gc

# Young collections after 20,000 net allocations instead of 700, each older generation after 10 of
# the one below: a request's cyclic garbage mostly dies young, and the collections that remain are
# few. With the start-up heap frozen as well, `benchmarks/inbound_load.py` (one `ketpaar serve`,
# PostgreSQL, 32 connections) measured POST p99 44-47 ms against 82-88 ms with the default
# thresholds, at the same throughput; the accept path alone 25-32 ms against 133-166 ms unfrozen.
THRESHOLDS = (20_000, 10, 10)


def tune_for_serving() -> int:
    """Move every object alive after start-up (modules, the app, the runtime: hundreds of thousands)
    into the collector's permanent generation, set the serving thresholds, and return how many
    objects were frozen.

    A full (oldest-generation) collection walks every tracked object: with the start-up heap in
    it, each one paused the event loop for 100 ms and more under load. Objects made later are
    collected as before; the frozen ones live as long as the process anyway. Only for processes
    that build their app once (never in tests, which build many and would keep each one's garbage)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    return gc.get_freeze_count()

"""The event log as published: JSON Lines of exactly the canonical bytes the chain hashes."""

from __future__ import annotations

from core.ledger.chain import ChainedEvent, canonical_json
from core.ports import UnitOfWork

MAX_PAGE = 5000  # events per request: a phone on a slow line gets pages it can finish


def export_line(ev: ChainedEvent) -> str:
    """One event as a line: canonical JSON of the hashed body plus prev_hash and hash (the storage
    adapter splices the same line from stored columns; tests check the two agree).

    Removing "prev_hash" and "hash" and serialising canonically gives back the exact bytes hashed."""
    return canonical_json({**ev.body(), "prev_hash": ev.prev_hash, "hash": ev.hash})


async def export_page(uow: UnitOfWork, after: int, limit: int) -> tuple[list[str], int | None]:
    """Lines of the events after seq `after` (at most `limit`, capped), and the `after` of the next
    page (None when this page reaches the head)."""
    limit = max(1, min(limit, MAX_PAGE))
    page = await uow.chain.export_lines(max(after, 0), limit)
    return [line for _seq, line in page], (page[-1][0] if len(page) == limit else None)

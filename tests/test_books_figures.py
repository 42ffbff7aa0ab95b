"""The public figures (core/ledger/transparency.py) against a plain recount of the same postings."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

import ketpaar_verify as kv
from core.ledger.chain import GENESIS, ChainedEvent, event_body, link_hash
from core.ledger.export import export_line
from core.ledger.transparency import Books

TODAY = "2026-11-30"
# (days before today, paise into the pool (>0) or out of it (<0)); a few days lie after "today"
moves = st.lists(st.tuples(st.integers(-3, 45), st.integers(-5_000, 5_000).filter(bool)), max_size=40)


def chained(items: list[tuple[int, int]]) -> list[ChainedEvent]:
    """One balanced transaction per move, at noon India time on its day (in time order)."""
    out, prev = [], GENESIS
    for seq, (ago, paise) in enumerate(sorted(items, key=lambda m: -m[0]), 1):
        at = datetime.fromisoformat(TODAY).replace(hour=6, minute=30, tzinfo=UTC) - timedelta(days=ago)
        other = "worker:1" if paise < 0 else "escrow:order:1"
        data = {"tx_id": seq, "kind": "k", "ref": str(seq), "postings": [["pool:guarantee", paise], [other, -paise]]}
        body = event_body(seq, "ledger.transaction", at.isoformat(), "system", data)
        digest = link_hash(prev, body)
        out.append(ChainedEvent(seq, "ledger.transaction", at.isoformat(), "system", data, prev, digest))
        prev = digest
    return out


@settings(max_examples=150, deadline=None)
@given(moves)
def test_the_pool_chart_is_the_ledger_recounted_day_by_day(items: list[tuple[int, int]]) -> None:
    books = Books()
    events = chained(items)
    for ev in events:
        books.add(ev)
    series = books.series(TODAY)
    assert [d for d, _f, _b in series][-1] == TODAY and len(series) == 30
    for day, fig, balance in series:
        ago = (date.fromisoformat(TODAY) - date.fromisoformat(day)).days
        assert fig.pool_in == sum(p for a, p in items if a == ago and p > 0)
        assert fig.pool_out == -sum(p for a, p in items if a == ago and p < 0)
        assert balance == sum(p for a, p in items if a >= ago)  # everything up to the end of that day
    assert books.pool == sum(p for _a, p in items)
    rep = kv.verify(export_line(ev) for ev in events)  # the member's recount agrees
    assert rep.ok and rep.balances.get("pool", 0) == books.pool and books.by_kind == rep.balances

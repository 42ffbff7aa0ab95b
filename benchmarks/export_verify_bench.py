"""Export the event log and verify it with the standalone verifier: how fast, next to bare SHA-256?

Writes N (default 1,000,000) synthetic chained events into a fresh SQLite database (half ledger
transactions of a settled meal with 4-6 postings, half order transitions, hashed exactly as
core.adapters.sql.ledger_repo.ChainRepo.append does), in batches so memory stays small. Then it
times:

  (a) export: every page of core.ledger.export.export_page (what GET /api/events serves) written to
      events.jsonl, as a member's download would save it;
  (b) verify: ketpaar_verify.verify over that file (chain, balance of every transaction, totals);
  (c) bare: a hashlib loop over the same hashed bytes (the canonical bodies, read from a file of
      their own): hash = sha256(prev_hex + body), the floor any verifier in Python pays.

It prints events/s of each and the ratios (b)/(c) and (a+b)/(c). (b) must end at the stored head.

    .venv/bin/python benchmarks/export_verify_bench.py [--events N]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import update  # noqa: E402

import ketpaar_verify  # noqa: E402
from core.adapters.sql.db import Database  # noqa: E402
from core.adapters.sql.migrate import upgrade  # noqa: E402
from core.adapters.sql.schema import chain_head, events  # noqa: E402
from core.adapters.sql.uow import Store  # noqa: E402
from core.ledger.chain import GENESIS, canonical_json, event_body, link_hash  # noqa: E402
from core.ledger.export import MAX_PAGE, export_page  # noqa: E402
from core.shared.clock import SystemClock  # noqa: E402

BATCH = 5_000


def synthetic(n: int) -> Iterator[tuple[dict[str, Any], bytes]]:
    """(stored row, hashed body bytes) for n chained events."""
    start, prev = datetime(2026, 1, 5, 6, 30, tzinfo=UTC), GENESIS
    for seq in range(1, n + 1):
        order = seq // 2 + 1
        if seq % 2:
            fee, tip = 3000, 1000 * (seq % 3)
            postings = [[f"restaurant:{order % 7 + 1}", 8000], [f"worker:{order % 11 + 1}", 2400], [f"worker:{order % 11 + 1}", tip],
                        ["pool:guarantee", 300], ["fund:infra", 300], [f"escrow:order:{order}", -(8000 + fee + tip)]]  # fmt: skip
            raw: dict[str, Any] = {"tx_id": seq, "kind": "settle", "ref": f"order:{order}", "postings": [p for p in postings if p[1]]}
            type_ = "ledger.transaction"
        else:
            raw = {"order_id": order, "transition": "deliver", "from_status": "picked_up", "to_status": "delivered",
                   "details": {"worker_id": order % 11 + 1, "settle_after": "2026-01-05T07:00:00+00:00"}}  # fmt: skip
            type_ = "order.transitioned"
        data = json.loads(canonical_json(raw))
        occurred_at = (start + timedelta(seconds=7 * seq, microseconds=seq % 997)).isoformat()
        body = event_body(seq, type_, occurred_at, "system", data)
        digest = link_hash(prev, body)
        yield ({"seq": seq, "type": type_, "occurred_at": occurred_at, "actor": "system", "data": canonical_json(data),
                "prev_hash": prev, "hash": digest}, canonical_json(body).encode("utf-8"))  # fmt: skip
        prev = digest


async def load(url: str, n: int, bodies_path: Path) -> str:
    """Fill the database and the bodies file; return the head hash."""
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    head, batch = GENESIS, []
    try:
        with bodies_path.open("wb") as bodies:
            async with db.write() as conn:
                for row, body in synthetic(n):
                    batch.append(row)
                    bodies.write(body + b"\n")
                    if len(batch) == BATCH:
                        await conn.execute(events.insert(), batch)
                        batch = []
                    head = row["hash"]
                if batch:
                    await conn.execute(events.insert(), batch)
                await conn.execute(update(chain_head).where(chain_head.c.id == 1).values(seq=n, hash=head))
    finally:
        await db.dispose()
    return head


async def export(url: str, out: Path) -> int:
    """Page through the export as GET /api/events does, writing JSON Lines; return the line count."""
    db = Database(url)
    store, after, count = Store(db, SystemClock()), 0, 0
    try:
        with out.open("w", encoding="utf-8") as f:
            while True:
                async with store.reader() as uow:
                    lines, nxt = await export_page(uow, after, MAX_PAGE)
                f.write("".join(line + "\n" for line in lines))
                count += len(lines)
                if nxt is None:
                    return count
                after = nxt
    finally:
        await db.dispose()


def bare(bodies_path: Path) -> str:
    """Chained sha256 over the hashed bodies, read line by line from a file."""
    prev, sha256 = GENESIS, hashlib.sha256
    with bodies_path.open("rb") as f:
        for line in f:
            prev = sha256(prev.encode() + line[:-1]).hexdigest()
    return prev


async def main(args: argparse.Namespace) -> None:
    """Run the three measurements and print them."""
    n = args.events
    with tempfile.TemporaryDirectory(prefix="ketpaar-export-") as tmp:
        url, bodies, out = f"sqlite:///{Path(tmp) / 'chain.db'}", Path(tmp) / "bodies.bin", Path(tmp) / "events.jsonl"
        started = time.perf_counter()
        head = await load(url, n, bodies)
        print(f"built and stored {n:,} chained events in {time.perf_counter() - started:.1f} s")

        started = time.perf_counter()
        assert await export(url, out) == n
        export_s = time.perf_counter() - started

        started = time.perf_counter()
        with out.open(encoding="utf-8") as f:
            report = ketpaar_verify.verify(f)
        verify_s = time.perf_counter() - started
        assert report.ok and report.events == n and report.head == head, report.problems

        started = time.perf_counter()
        assert bare(bodies) == head
        bare_s = time.perf_counter() - started
        size = out.stat().st_size
    print(f"export file {size / 1e6:.0f} MB ({size / n:.0f} bytes an event); every transaction balances; head {head[:16]}…")
    print(f"  (a) export (SQLite -> JSON Lines)   {export_s:8.2f} s  {n / export_s:>10,.0f} events/s")
    print(f"  (b) ketpaar_verify.verify           {verify_s:8.2f} s  {n / verify_s:>10,.0f} events/s")
    print(f"  (c) bare chained sha256             {bare_s:8.2f} s  {n / bare_s:>10,.0f} events/s")
    print(f"  ratio (b)/(c) = {verify_s / bare_s:.1f}x   (a+b)/(c) = {(export_s + verify_s) / bare_s:.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    asyncio.run(main(parser.parse_args()))

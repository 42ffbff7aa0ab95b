"""How fast is `ketpaar ledger verify` on a long chain, compared with bare SHA-256?

Builds a hash chain of N (default 100,000) `order.transitioned` events with realistic small data
dicts (the lifecycle of one order spread over 9 events, as core.orders.model records them) in a
fresh SQLite database (and, with --postgres, a fresh PostgreSQL database too). Rows are inserted
directly in batches, hashed exactly as core.adapters.sql.ledger_repo.ChainRepo.append does
(canonical_json -> event_body -> link_hash), and chain_head is set to the last seq/hash. Schema:
core.adapters.sql.migrate.upgrade. Then, in the same run, it times:

  (a) core.ledger.audit.audit(store): the code path of `ketpaar ledger verify` (read every row in
      batches, json.loads the data, re-serialise canonically, chained sha256, compare);
  (b) a bare hashlib loop: the same chained sha256 over the same canonical JSON bytes, already
      serialised and in memory (the floor any verifier in Python must pay);
  (c) reading the chain alone (uow.chain.stream(), no hashing), to show where (a) spends its time.

It prints the three times and the ratio (a)/(b). Both (a) and (b) must end at the stored head.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import update  # noqa: E402

from core.adapters.sql.db import Database  # noqa: E402
from core.adapters.sql.migrate import upgrade  # noqa: E402
from core.adapters.sql.schema import chain_head, events  # noqa: E402
from core.adapters.sql.uow import Store  # noqa: E402
from core.ledger.audit import audit  # noqa: E402
from core.ledger.chain import GENESIS, canonical_json, event_body, link_hash  # noqa: E402
from core.shared.clock import SystemClock  # noqa: E402

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
BATCH = 5_000
# (transition, from, to, details) of one meal, as Order._move records them.
LIFECYCLE: list[tuple[str, str, str, Any]] = [
    ("screen", "draft", "screened", lambda o: {"screening": {"verdict": "pass", "method": "pass-through", "checked": False}}),
    ("fund", "screened", "funded", lambda o: {"amount": 10_000 + 1_000 * (o % 3), "source": "balance"}),
    ("send", "funded", "at_restaurant", lambda o: {"restaurant_id": o % 7 + 1, "meal": "Veg biryani"}),
    ("accept", "at_restaurant", "accepted", lambda o: {"restaurant_id": o % 7 + 1}),
    ("post", "accepted", "on_board", lambda o: {"zone": "tf2dq"}),
    ("claim", "on_board", "claimed", lambda o: {"worker_id": o % 11 + 1}),
    ("pickup", "claimed", "picked_up", lambda o: {"worker_id": o % 11 + 1}),
    ("deliver", "picked_up", "delivered", lambda o: {"worker_id": o % 11 + 1}),
    ("settle", "delivered", "settled", lambda o: {"tx_id": 2 * o}),
]


def build_rows(n: int) -> tuple[list[dict[str, Any]], list[bytes], str]:
    """The stored rows, the canonical JSON bytes of every hashed body, and the head hash."""
    start, prev = datetime(2026, 1, 5, 6, 30, tzinfo=UTC), GENESIS
    rows: list[dict[str, Any]] = []
    bodies: list[bytes] = []
    for seq in range(1, n + 1):
        order, (transition, old, new, details) = (seq - 1) // len(LIFECYCLE) + 1, LIFECYCLE[(seq - 1) % len(LIFECYCLE)]
        raw = {"order_id": order, "transition": transition, "from_status": old, "to_status": new, "details": details(order)}
        data = json.loads(canonical_json(raw))  # exactly what ChainRepo.append stores and re-reads
        occurred_at = (start + timedelta(seconds=7 * seq, microseconds=seq % 997)).isoformat()
        actor = f"person:{order % 50 + 1}" if transition not in ("settle", "post") else "system"
        body = event_body(seq, "order.transitioned", occurred_at, actor, data)
        digest = link_hash(prev, body)
        rows.append({"seq": seq, "type": "order.transitioned", "occurred_at": occurred_at, "actor": actor,
                     "data": canonical_json(data), "prev_hash": prev, "hash": digest})  # fmt: skip
        bodies.append(canonical_json(body).encode("utf-8"))
        prev = digest
    return rows, bodies, prev


def bare_chain(bodies: list[bytes]) -> str:
    """Chained sha256 over pre-serialised bodies: hash = sha256(prev_hex + body)."""
    prev, sha256 = GENESIS, hashlib.sha256
    for body in bodies:
        prev = sha256(prev.encode() + body).hexdigest()
    return prev


async def measure(label: str, url: str, rows: list[dict[str, Any]], bodies: list[bytes], head: str) -> None:
    started = time.perf_counter()
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    try:
        async with db.write() as conn:
            for i in range(0, len(rows), BATCH):
                await conn.execute(events.insert(), rows[i : i + BATCH])
            await conn.execute(update(chain_head).where(chain_head.c.id == 1).values(seq=len(rows), hash=head))
        load_s = time.perf_counter() - started
        store = Store(db, SystemClock())

        started = time.perf_counter()
        report = await audit(store)
        audit_s = time.perf_counter() - started
        assert report.ok and report.events == len(rows) and report.head == head, report

        started = time.perf_counter()
        bare_head = bare_chain(bodies)
        bare_s = time.perf_counter() - started
        assert bare_head == head

        started = time.perf_counter()
        async with store.reader() as uow:
            streamed = sum([1 async for _ in uow.chain.stream()])
        stream_s = time.perf_counter() - started
        assert streamed == len(rows)
    finally:
        await db.dispose()
    n = len(rows)
    print(f"\n== {label}: {n:,} events (schema + batched insert {load_s:.2f} s) ==")
    print(f"  (a) core.ledger.audit.audit(store)   {audit_s:8.3f} s  {n / audit_s:>12,.0f} events/s   OK, head {head[:16]}…")
    print(f"  (b) bare hashlib chain loop   {bare_s:8.3f} s  {n / bare_s:>12,.0f} events/s")
    print(f"  (c) chain.stream() read only  {stream_s:8.3f} s  {n / stream_s:>12,.0f} events/s")
    print(f"  ratio (a)/(b) = {audit_s / bare_s:.1f}x    (a) minus read (c) = {audit_s - stream_s:.3f} s of re-serialising + hashing")


async def main(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    rows, bodies, head = build_rows(args.events)
    avg = sum(len(b) for b in bodies) / len(bodies)
    print(f"built {len(rows):,} chained events in memory in {time.perf_counter() - started:.2f} s (avg hashed body {avg:.0f} bytes)")
    with tempfile.TemporaryDirectory(prefix="ketpaar-chain-") as tmp:
        await measure("SQLite", f"sqlite:///{Path(tmp) / 'chain.db'}", rows, bodies, head)
    if args.postgres:
        import psycopg

        name = f"ketpaar_bench_{secrets.token_hex(4)}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            await measure("PostgreSQL", PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", rows, bodies, head)
        finally:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true", help="also measure on a fresh PostgreSQL database")
    asyncio.run(main(parser.parse_args()))

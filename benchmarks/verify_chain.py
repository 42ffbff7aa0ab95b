"""How fast is `ketpaar ledger verify` on a long chain, compared with bare chained SHA-256?

    python benchmarks/verify_chain.py --events 1000000 [--postgres [--keep] [--no-sqlite]] [--sample 64] [--ranges K]

Builds a hash chain of N `order.transitioned` events with realistic small data dicts (the lifecycle
of one order spread over 9 events, as core.orders.model records them), hashed exactly as
core.adapters.sql.ledger_repo.ChainRepo.append does, and inserts them in batches (events and their
hashed bytes in event_bodies) into a fresh SQLite
database (and, with --postgres, a fresh PostgreSQL database), with chain_head at the last seq/hash.
Then, in the same run, it times:

  (a') core.ledger.audit.audit(store, columns_every=--sample, ranges=--ranges): `ketpaar ledger
      verify --ranges 1` (every event's hashed bytes chained in one pass; one random event's columns
      in every N checked, meanwhile: on PostgreSQL by the server);
  (a) the same with columns_every=1: every event's structured columns compared with its bytes;
  (b) a bare hashlib loop: the same chained sha256 over the same canonical JSON bytes, already
      serialised and in memory (the floor any verifier in Python must pay);
  (m) the peak RSS of a fresh process that only runs audit(store) on that database, and of one
      that only imports the same modules (the difference is what the audit itself holds).

It prints wall and CPU times and the ratios (a')/(b), (a)/(b). All must end at the stored head.
  (a2) (a') with ranges=0: one seq range per core (PostgreSQL: per two cores), each in a worker process: what plain
      `ketpaar ledger verify` runs.
The 2 cores are shared: only ratios measured in the same run mean anything; CPU time (of this
process and its range workers: on PostgreSQL the server's work is not in it) is less disturbed by
the other load.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import update  # noqa: E402

from core.adapters.sql.db import Database  # noqa: E402
from core.adapters.sql.migrate import upgrade  # noqa: E402
from core.adapters.sql.schema import chain_head, event_bodies, events  # noqa: E402
from core.adapters.sql.uow import Store  # noqa: E402
from core.ledger.audit import audit  # noqa: E402
from core.ledger.chain import GENESIS, canonical_json, event_body, link_hash_text  # noqa: E402
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


def build_batches(n: int, bodies: list[bytes]) -> Iterator[list[dict[str, Any]]]:
    """Stored rows in batches (appending every hashed body's bytes to `bodies`); the head is the last hash."""
    start, prev = datetime(2026, 1, 5, 6, 30, tzinfo=UTC), GENESIS
    rows: list[dict[str, Any]] = []
    for seq in range(1, n + 1):
        order, (transition, old, new, details) = (seq - 1) // len(LIFECYCLE) + 1, LIFECYCLE[(seq - 1) % len(LIFECYCLE)]
        raw = {"order_id": order, "transition": transition, "from_status": old, "to_status": new, "details": details(order)}
        data = json.loads(canonical_json(raw))  # exactly what ChainRepo.append stores and re-reads
        occurred_at = (start + timedelta(seconds=7 * seq, microseconds=seq % 997)).isoformat()
        actor = f"person:{order % 50 + 1}" if transition not in ("settle", "post") else "system"
        hashed = canonical_json(event_body(seq, "order.transitioned", occurred_at, actor, data))
        digest = link_hash_text(prev, hashed)
        rows.append({"seq": seq, "type": "order.transitioned", "occurred_at": occurred_at, "actor": actor,
                     "data": canonical_json(data), "prev_hash": prev, "hash": digest, "body": hashed.encode()})  # fmt: skip
        bodies.append(hashed.encode("utf-8"))
        prev = digest
        if len(rows) == BATCH:
            yield rows
            rows = []
    if rows:
        yield rows


def bare_chain(bodies: list[bytes]) -> str:
    """Chained sha256 over pre-serialised bodies: hash = sha256(prev_hex + body)."""
    prev, sha256 = GENESIS, hashlib.sha256
    for body in bodies:
        prev = sha256(prev.encode() + body).hexdigest()
    return prev


async def load(url: str, n: int, bodies: list[bytes]) -> tuple[str, float]:
    """A fresh schema holding the chain; (head, seconds)."""
    started = time.perf_counter()
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    try:
        async with db.write() as conn:
            for rows in build_batches(n, bodies):
                await conn.execute(events.insert(), [{k: v for k, v in r.items() if k != "body"} for r in rows])
                await conn.execute(event_bodies.insert(), [{"seq": r["seq"], "body": r["body"]} for r in rows])
            head = bare_chain(bodies)
            await conn.execute(update(chain_head).where(chain_head.c.id == 1).values(seq=n, hash=head))
        if url.startswith("postgresql"):
            # what autovacuum does to a log this long in service (it vacuums a table after inserts):
            # without it every index lookup of the sampled pass also visits the heap
            async with db.engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.exec_driver_sql("VACUUM (ANALYZE) events, event_bodies")
    finally:
        await db.dispose()
    return head, time.perf_counter() - started


REPEAT = 2  # --repeat: timings interleaved, the best of each kept
RANGES = 1  # --ranges: how many seq ranges (worker processes) the audit may read at once (0: one per core)


def cpu_time() -> float:
    """CPU seconds of this process and of its finished children (the audit's range workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


async def timed_audit(url: str, every: int, ranges: int | None = None) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds of this process and its range workers, report) of
    audit(store, columns_every=every, ranges=ranges or --ranges)."""
    db = Database(url)
    try:
        wall, cpu = time.perf_counter(), cpu_time()
        report = await audit(Store(db, SystemClock()), columns_every=every, ranges=RANGES if ranges is None else ranges)
        return time.perf_counter() - wall, cpu_time() - cpu, report
    finally:
        await db.dispose()


def timed_bare(bodies: list[bytes], head: str) -> tuple[float, float]:
    """(wall, CPU) seconds of the bare chained sha256 loop."""
    wall, cpu = time.perf_counter(), time.process_time()
    assert bare_chain(bodies) == head
    return time.perf_counter() - wall, time.process_time() - cpu


def child_rss(url: str, every: int | None) -> int:
    """Peak RSS (KiB) of a fresh process auditing `url` (None: only importing, the baseline)."""
    mode = "import" if every is None else str(every)
    out = subprocess.run([sys.executable, __file__, "--child", url, mode], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1])


async def measure(label: str, url: str, n: int, sample: int, *, reuse: bool = False) -> None:
    bodies: list[bytes] = []
    if reuse:  # a database kept by an earlier --keep run: the same deterministic chain, not inserted again
        for _ in build_batches(n, bodies):
            pass
        head, load_s = bare_chain(bodies), 0.0
    else:
        head, load_s = await load(url, n, bodies)
    load_before = os.getloadavg()
    full_w, full_c, report = await timed_audit(url, 1)
    assert report.ok and report.events == n and report.head == head and report.columns_checked == n, report
    runs = []
    for _ in range(REPEAT):  # interleaved, best of --repeat: the cores are shared
        runs.append((*timed_bare(bodies, head), *(await timed_audit(url, sample)), *(await timed_audit(url, sample, 0))))
    bare_w, bare_c = min(r[0] for r in runs), min(r[1] for r in runs)
    samp_w, samp_c = min(r[2] for r in runs), min(r[3] for r in runs)
    one_w, one_c = min(r[5] for r in runs), min(r[6] for r in runs)
    sampled = runs[-1][4]
    assert sampled.ok and sampled.head == head, sampled
    assert runs[-1][7].ok and runs[-1][7].head == head, runs[-1][7]
    avg = sum(len(b) for b in bodies) / n
    del bodies, runs
    base_kib, audit_kib = child_rss(url, None), child_rss(url, sample)
    print(f"\n== {label}: {n:,} events, avg hashed body {avg:.0f} bytes (built + inserted in {load_s:.1f} s) ==")
    print(f"  load average (1/5/15 min) before the timings {'/'.join(f'{x:.2f}' for x in load_before)}, "
          f"after {'/'.join(f'{x:.2f}' for x in os.getloadavg())}; ranges={RANGES or 'one per core'}; best of {REPEAT}")
    print("                                        wall s   CPU s (with workers)   ratio to (b): wall   CPU")
    print(f"  (b)  bare chained sha256 in memory  {bare_w:8.3f} {bare_c:8.3f}")
    print(f"  (a') ledger verify, columns 1/{sample:<4}  {samp_w:8.3f} {samp_c:8.3f}"
          f"{samp_w / bare_w:27.2f}x {samp_c / bare_c:5.2f}x   ({sampled.columns_checked:,} events' columns checked)")
    print(f"  (a2) ledger verify (ranges=0)     {one_w:8.3f} {one_c:8.3f}"
          f"{one_w / bare_w:27.2f}x {one_c / bare_c:5.2f}x")
    print(f"  (a)  audit, every event's columns   {full_w:8.3f} {full_c:8.3f}"
          f"{full_w / bare_w:27.2f}x {full_c / bare_c:5.2f}x")
    print(f"  (m)  peak RSS of a process running (a'): {audit_kib / 1024:.0f} MiB "
          f"(one only importing the same modules: {base_kib / 1024:.0f} MiB)")  # fmt: skip


async def child(url: str, mode: str) -> None:
    if mode != "import":
        _, _, report = await timed_audit(url, int(mode))
        assert report.ok, report
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across execve, so a child forked from this big
    # parent would report the parent's size; VmHWM belongs to the new address space.
    status = Path("/proc/self/status").read_text()
    print(int(status.split("VmHWM:")[1].split()[0]))


async def main(args: argparse.Namespace) -> None:
    print(f"{args.events:,} events; the machine's 2 cores are shared, compare ratios only")
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory(prefix="ketpaar-chain-") as tmp:
            await measure("SQLite", f"sqlite:///{Path(tmp) / 'chain.db'}", args.events, args.sample)
    if args.postgres:
        import psycopg

        # --keep: one database per chain length, kept for the next run (drop it by hand when done)
        name = f"ketpaar_bench_keep_{args.events}" if args.keep else f"ketpaar_bench_{secrets.token_hex(4)}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            kept = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None
            if not kept:
                conn.execute(f'CREATE DATABASE "{name}"')
        try:
            await measure("PostgreSQL", PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", args.events, args.sample, reuse=kept)
        finally:
            if not args.keep:
                with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        asyncio.run(child(sys.argv[2], sys.argv[3]))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=64, help="for (a'): check the columns of every Nth event")
    parser.add_argument("--postgres", action="store_true", help="also measure on a fresh PostgreSQL database")
    parser.add_argument("--ranges", type=int, default=1, help="for (a'): seq ranges at once, one worker process each (0: one per core)")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database (ketpaar_bench_keep_N) and reuse it next time")
    parser.add_argument("--no-sqlite", action="store_true", help="measure PostgreSQL only")
    parser.add_argument("--repeat", type=int, default=2, help="interleaved timings, the best of each kept")
    parsed = parser.parse_args()
    RANGES, REPEAT = parsed.ranges, max(1, parsed.repeat)
    asyncio.run(main(parsed))

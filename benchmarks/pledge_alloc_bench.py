"""How fast is pledge allocation for one order when 10,000 pledges are active?

    .venv/bin/python benchmarks/pledge_alloc_bench.py [--pledges 10000] [--orders 300] [--sqlite]

Builds a fresh PostgreSQL database (or, with --sqlite, a SQLite file) migrated by
core.adapters.sql.migrate.upgrade and fills it with N active pledges (default 10,000) of the four
kinds — 40 % general, 20 % location (500 m / 1 km / 3 km around random places within about 15 km
of Chennai central), 20 % time (breakfast, lunch or dinner hours), 20 % location+time — each
holding ₹10–₹500. Pledge rows and their funding (one ledger transaction each, external:deposits →
pledge:<id>) are inserted in bulk, as core.funding.pledges.make_pledge would leave them (without
the chain events, which allocation never reads). Then it screens M orders (default 300) at
random places near the centre at 12:30 India time and times, per order:

  (a) allocation: one unit of work running core.funding.pledges.allocate for the meal and
      delivery (₹85) — candidate query, row locks in allocation order, a ledger contribution per
      pledge used (guarded-balance check included), the pledge's mirror and use row — and commit
      (events chained), i.e. what an order pays for pledges end to end;
  (b) the plain candidate query alone (uow.pledges.candidates: the same one-round-trip UNION ALL
      of an indexed SELECT per rank, read-only, no locks), the floor of what (a) must read;
  (c) for scale, a unit of work that records one ledger transfer and commits (what any money
      move costs on this machine: guarded-balance check, insert, chain append, commit).

It prints p50, p95 and p99 of each, how many pledges an order used on average, the load average
(others share the machine) and the statements each allocation sent (a before_cursor_execute
listener: deterministic, unlike the timings; BEGIN, COMMIT and the pool's pre-ping are not
cursor executes and are not counted). --show prints the first allocation's statements. The
target is (a) p99 ≤ 20 ms on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402
from sqlalchemy import event  # noqa: E402

from core.adapters.sql.db import Database  # noqa: E402
from core.adapters.sql.migrate import upgrade  # noqa: E402
from core.adapters.sql.pledges_schema import pledges  # noqa: E402
from core.adapters.sql.schema import ledger_transactions, postings  # noqa: E402
from core.adapters.sql.uow import Store  # noqa: E402
from core.funding import pledges as pledge_service  # noqa: E402
from core.funding.pledge_model import RANK, ZONE_PRECISION, PledgeKind, bounding_box  # noqa: E402
from core.ledger.model import DEPOSITS, transfer  # noqa: E402
from core.orders import service as orders  # noqa: E402
from core.seekers.screening import PassThroughScreener  # noqa: E402
from core.shared import geo  # noqa: E402
from core.shared.clock import local_day  # noqa: E402

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
CENTRE = (13.0827, 80.2707)
NOON = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # 12:30 in Chennai
HOURS = ((7, 10), (11, 15), (19, 22))
NEED = 5_500 + 3_000  # a ₹55 meal and the ₹30 delivery fee
BATCH = 2_000


class Clock:
    """A clock that stays at lunch time (time pledges are written in India hours)."""

    def now(self) -> datetime:
        return NOON


class Statements:
    """Counts (and keeps) the statements an engine sends, deterministically: a SQLAlchemy
    before_cursor_execute listener, so a round trip saved shows as one statement fewer."""

    def __init__(self, db: Database) -> None:
        self.sent: list[str] = []
        event.listen(db.engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: object, _cursor: object, statement: str, *_args: object) -> None:
        self.sent.append(statement)

    def mark(self) -> int:
        """Where the count stands now."""
        return len(self.sent)


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) in milliseconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))] * 1000


def near(rng: random.Random, km: float) -> tuple[float, float]:
    """A random place within about `km` of the centre."""
    return CENTRE[0] + rng.uniform(-km, km) / 111.32, CENTRE[1] + rng.uniform(-km, km) / 108.5


async def fill(db: Database, n: int, person_id: int, rng: random.Random) -> None:
    """N pledges with their funding transactions, inserted in bulk."""
    now, day = NOON.isoformat(), local_day(NOON)
    async with db.write() as conn:
        for start in range(0, n, BATCH):
            rows = []
            for _ in range(min(BATCH, n - start)):
                roll = rng.random()
                kind = (PledgeKind.GENERAL if roll < 0.4 else PledgeKind.LOCATION if roll < 0.6
                        else PledgeKind.TIME if roll < 0.8 else PledgeKind.LOCATION_TIME)  # fmt: skip
                located = kind in (PledgeKind.LOCATION, PledgeKind.LOCATION_TIME)
                lat, lng = near(rng, 15) if located else (None, None)
                radius = rng.choice((500, 1_000, 3_000)) if located else None
                box = bounding_box(lat, lng, radius) if lat is not None and lng is not None and radius else (None,) * 4
                hours = rng.choice(HOURS) if kind in (PledgeKind.TIME, PledgeKind.LOCATION_TIME) else (None, None)
                amount = rng.randrange(1_000, 50_001, 100)
                rows.append({"person_id": person_id, "kind": kind.value, "rank": RANK[kind.value], "amount": amount,
                             "lat": lat, "lng": lng, "radius_m": radius,
                             "zone": geo.encode(lat, lng, ZONE_PRECISION) if lat is not None and lng is not None else None,
                             "lat_min": box[0], "lat_max": box[1],
                             "lng_min": box[2], "lng_max": box[3], "start_hour": hours[0], "end_hour": hours[1],
                             "auto_renew": False, "status": "active", "remaining": amount, "total_in": amount,
                             "returned": 0, "created_at": now})  # fmt: skip
            ids = [r.id for r in await conn.execute(pledges.insert().returning(pledges.c.id), rows)]
            txs = [{"kind": "pledge", "ref": f"pledge:{i}:make", "memo": "bench", "occurred_at": now, "day": day} for i in ids]
            tx_ids = [r.id for r in await conn.execute(ledger_transactions.insert().returning(ledger_transactions.c.id), txs)]
            lines = []
            for tx_id, pid, row in zip(tx_ids, ids, rows, strict=True):
                lines += [{"tx_id": tx_id, "account": "external:deposits", "amount": -row["amount"]},
                          {"tx_id": tx_id, "account": f"pledge:{pid}", "amount": row["amount"]}]  # fmt: skip
            await conn.execute(postings.insert(), lines)


async def run(url: str, n_pledges: int, n_orders: int, show: bool = False, profile: bool = False) -> None:
    """Fill, then time allocation and the plain query; print the figures."""
    rng = random.Random(12)
    db = Database(url)
    store = Store(db, Clock())
    counter = Statements(db)
    try:
        async with store.uow() as uow:
            await uow.params.ensure_initial(await uow.params.current())
            pledger = await uow.people.get_or_create("bench", "pledger")
            requester = await uow.people.get_or_create("bench", f"asker-{uuid.uuid4().hex[:6]}")
        t0 = time.perf_counter()
        await fill(db, n_pledges, pledger.id, rng)
        print(f"filled {n_pledges:,} pledges in {time.perf_counter() - t0:.1f} s")
        if db.url.startswith("postgresql"):
            async with db.write() as conn:
                from sqlalchemy import text

                await conn.execute(text("ANALYZE pledges"))
                await conn.execute(text("ANALYZE postings"))
        places = [near(rng, 5) for _ in range(n_orders)]
        order_ids = []
        for lat, lng in places:
            async with store.uow() as uow:
                # One requester per order: the governed daily cap on pledge money per requester
                # (pledge_daily_cap_per_requester, ₹200) would stop one person's third meal.
                asker = await uow.people.get_or_create("bench", f"asker-{uuid.uuid4().hex[:8]}")
                order_ids.append((await orders.start_order(uow, asker, lat, lng, None, PassThroughScreener())).id)
        alloc: list[float] = []
        alloc_cpu: list[float] = []  # this process's CPU per allocation: steadier than wall time on a shared machine
        query: list[float] = []
        transfer_only: list[float] = []
        used: list[int] = []
        sent: list[int] = []  # statements per allocation (BEGIN and COMMIT are not cursor executes)
        profiler = cProfile.Profile() if profile else None
        for order_id, (lat, lng) in zip(order_ids, places, strict=True):
            start = time.perf_counter()
            async with store.reader() as uow:
                await uow.pledges.candidates(lat, lng, 12)
            query.append(time.perf_counter() - start)
            start = time.perf_counter()
            async with store.uow() as uow:
                await uow.ledger.record(transfer("bench", uuid.uuid4().hex, DEPOSITS, "donor:0", 100))
            transfer_only.append(time.perf_counter() - start)
            mark, start, cpu = counter.mark(), time.perf_counter(), time.process_time()
            if profiler:
                profiler.enable()
            async with store.uow() as uow:
                order = await uow.orders.get(order_id)
                assert order is not None
                got = await pledge_service.allocate(uow, order, NEED, requester.actor)
            alloc.append(time.perf_counter() - start)
            alloc_cpu.append(time.process_time() - cpu)
            if profiler:
                profiler.disable()
            sent.append(counter.mark() - mark)
            if show and len(sent) == 1:
                print(f"statements of the first allocation ({sent[0]}):")
                for statement in counter.sent[mark:]:
                    print("   ", " ".join(statement.split())[:160])
            assert got.total == NEED, f"order {order_id}: pledges paid {got.total} of {NEED}"
            used.append(len(got.uses))
        async with store.reader() as uow:
            active = await uow.pledges.count_active()
        print(f"{db.url.split(':')[0]}: {active:,} active pledges, {n_orders} orders, {statistics.mean(used):.2f} pledges used per order")
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"  load average (1, 5, 15 min): {load}")
        print(f"  statements per allocation (order read included): min {min(sent)}  mean {statistics.mean(sent):.2f}  "
              f"max {max(sent)}")  # fmt: skip
        print(f"  allocation (unit of work + commit): p50 {pct(alloc, 50):.2f} ms  p95 {pct(alloc, 95):.2f} ms  "
              f"p99 {pct(alloc, 99):.2f} ms")  # fmt: skip
        print(f"  client CPU per allocation:          p50 {pct(alloc_cpu, 50):.2f} ms  (this process; the rest of the "
              "wall time is the database and the network)")
        print(f"  plain candidate query:              p50 {pct(query, 50):.2f} ms  p95 {pct(query, 95):.2f} ms  "
              f"p99 {pct(query, 99):.2f} ms")  # fmt: skip
        print(f"  (one ledger transfer + commit:      p50 {pct(transfer_only, 50):.2f} ms  "
              f"p95 {pct(transfer_only, 95):.2f} ms  p99 {pct(transfer_only, 99):.2f} ms)")  # fmt: skip
        if profiler:
            # PROFILE_SORT (tottime, cumulative, ...) and PROFILE_FILTER (a path part, e.g. "/core/") narrow it.
            stats = pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "tottime"))
            stats.print_stats(os.environ.get("PROFILE_FILTER", ""), 40)
    finally:
        await db.dispose()


def main() -> int:
    """Run on PostgreSQL (a database of its own, dropped after) or, with --sqlite, a temporary file."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pledges", type=int, default=10_000)
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--show", action="store_true", help="print the statements of the first allocation")
    parser.add_argument("--profile", action="store_true", help="profile the allocations (cProfile, by own time)")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database (its URL is printed)")
    args = parser.parse_args()
    if args.sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.db"
            upgrade(url)
            asyncio.run(run(url, args.pledges, args.orders, args.show, args.profile))
        return 0
    name = f"ketpaar_pledge_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        asyncio.run(run(url, args.pledges, args.orders, args.show, args.profile))
    finally:
        if args.keep:
            print(f"kept {url}")
        else:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

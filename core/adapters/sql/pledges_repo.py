"""Money pledges and what each paid for; row locks keep two orders off the same paisa."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Numeric, TextClause, bindparam, cast, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.adapters.sql.pledges_schema import pledge_uses, pledges
from core.adapters.sql.schema import orders, people
from core.adapters.sql.sqlhelpers import is_postgres, new_id
from core.funding.pledge_model import (
    RANK,
    ZONE_PRECISION,
    Pledge,
    PledgeKind,
    PledgePick,
    PledgeStatus,
    PledgeTerms,
    PledgeUse,
)
from core.shared import geo

p = pledges.c


def _pledge(row: Any) -> Pledge:
    terms = PledgeTerms(row.amount, PledgeKind(row.kind), row.lat, row.lng, row.radius_m, row.start_hour, row.end_hour,
                        bool(row.auto_renew))  # fmt: skip
    return Pledge(row.id, row.person_id, terms, PledgeStatus(row.status), int(row.remaining), int(row.total_in),
                  int(row.returned), row.created_at, row.renew_on, bool(row.often))  # fmt: skip


def _use(row: Any) -> PledgeUse:
    return PledgeUse(row.pledge_id, row.order_id, int(row.amount), row.at, row.area)


def _rank_query(rank: int, timed: bool, placed: bool, *, picking: bool = False, array: bool = False) -> str:
    """One rank's part of the candidate query: its oldest matching pledges, `:lim` at most;
    `picking` also leaves out the requester's own pledges and those whose circle misses the place."""
    where = ["status = 'active'", f"rank = {rank}", "remaining > 0", f"{rank} >= :after_rank",
             f"(id > :after_id OR {rank} > :after_rank)"]  # fmt: skip
    if timed:  # local hours [start, end), wrapping past midnight when start > end
        where.append("((start_hour < end_hour AND start_hour <= :hour AND end_hour > :hour) OR "
                     "(start_hour > end_hour AND (start_hour <= :hour OR end_hour > :hour)))")  # fmt: skip
    if placed:  # the nine cells around the place (an index lookup each), then the place's box
        cells = "zone = ANY(CAST(:cells AS VARCHAR[]))" if array else "zone IN :cells"
        where.append(f"{cells} AND lat_min <= :lat AND lat_max >= :lat AND lng_min <= :lng AND lng_max >= :lng")
    if picking:
        where.append("person_id <> :req")
    if picking and placed:
        # Haversine as geo.distance_m, a metre wider so that no pledge Python would take is left
        # out by rounding; Python's `may_pay` still decides.
        where.append(f"2 * {geo.EARTH_RADIUS_M!r} * asin(sqrt(power(sin(radians(:lat - lat) / 2), 2) + "
                     "cos(radians(lat)) * cos(radians(:lat)) * power(sin(radians(:lng - lng) / 2), 2))) "
                     "<= radius_m + 1")  # fmt: skip
    return f"SELECT * FROM (SELECT * FROM pledges WHERE {' AND '.join(where)} ORDER BY id LIMIT :lim) AS r{rank}"


def _union(*, picking: bool = False, array: bool = False) -> str:
    """The four ranks' parts in allocation order, `:lim` rows at most in all (`array`: the cells
    as one PostgreSQL array parameter, which needs no rewriting of the statement per call)."""
    return " UNION ALL ".join(_rank_query(RANK[kind], kind in ("location_time", "time"),
                                          kind in ("location_time", "location"), picking=picking, array=array)
                              for kind in ("location_time", "location", "time", "general")) + " ORDER BY rank, id LIMIT :lim"  # fmt: skip


# Written out once as text: building it with SQLAlchemy's constructs costs more per call than the
# database spends on it (column proxies of four subqueries), and allocation runs it per order.
CANDIDATES = text(_union()).bindparams(bindparam("cells", expanding=True))

# Allocation's read on PostgreSQL, one round trip (after the requester's row lock, so `drawn` sees
# what their other orders committed): what pledges paid today for the requester's orders, the
# candidates in allocation order, the prefix of them that covers what may still be drawn (by the
# amounts read), the order's next contribution number (a round trip less when the draw numbers its
# contributions), and those pledges row-locked in (rank, id) order — one total order, so two
# orders never deadlock — re-read as they are once locked (READ COMMITTED re-checks a locked row:
# an order that drew on one meanwhile leaves it smaller, or spent and left out).
PICK = text(
    "WITH drawn AS (SELECT coalesce(sum(u.amount), 0) AS d FROM pledge_uses u JOIN orders o ON o.id = u.order_id "
    "WHERE u.day = :day AND o.donor_id = :req), "
    f"cand AS ({_union(picking=True, array=True)}), "
    "run AS (SELECT id, rank, sum(remaining) OVER (ORDER BY rank, id ROWS UNBOUNDED PRECEDING) - remaining AS before "
    "FROM cand), "
    "picked AS (SELECT id, rank FROM run WHERE before < least(:need, :cap - (SELECT d FROM drawn))), "
    "locked AS (SELECT p.* FROM pledges p WHERE p.id IN (SELECT id FROM picked) AND p.status = 'active' "
    "AND p.remaining > 0 ORDER BY p.rank, p.id FOR UPDATE OF p) "
    "SELECT (SELECT d FROM drawn) AS drawn_today, (SELECT count(*) FROM cand) AS seen, "
    "(SELECT count(*) FROM picked) AS n_picked, "
    "(SELECT rank FROM picked ORDER BY rank DESC, id DESC LIMIT 1) AS last_rank, "
    "(SELECT id FROM picked ORDER BY rank DESC, id DESC LIMIT 1) AS last_id, "
    "(SELECT coalesce(max(seq), 0) + 1 FROM contributions WHERE order_id = :order) AS next_contribution, locked.* "
    "FROM (SELECT 1 AS one) AS one LEFT JOIN locked ON true ORDER BY locked.rank, locked.id"
)

# The requester's row lock and the governed cap's latest value, one round trip.
LOCK_REQUESTER = text(
    "WITH me AS (SELECT id FROM people WHERE id = :p FOR UPDATE) "
    "SELECT (SELECT count(*) FROM me) AS locked, "
    "(SELECT value FROM parameters WHERE name = :name ORDER BY id DESC LIMIT 1) AS value"
)


@functools.lru_cache(maxsize=16)
def _spend_statement(n: int) -> TextClause:
    """PostgreSQL: `n` pledges' moves and uses in one statement, written out once per `n`."""
    pairs = ", ".join(f"(CAST(:i{k} AS INTEGER), CAST(:t{k} AS BIGINT))" for k in range(n))
    rows = ", ".join(f"(:i{k}, :o, :t{k}, :day, :at, :area)" for k in range(n))
    return text(f"WITH m AS (UPDATE pledges SET remaining = pledges.remaining - v.take FROM (VALUES {pairs}) "
                "AS v(id, take) WHERE pledges.id = v.id) "
                f"INSERT INTO pledge_uses (pledge_id, order_id, amount, day, at, area) VALUES {rows}")  # fmt: skip


class PledgeRepo:
    """Pledges of money ahead, their balances (mirroring the ledger) and their uses."""

    def __init__(self, conn: AsyncConnection, now: str) -> None:
        self.conn, self.now = conn, now
        self.none_for: set[int] = set()  # people known to have no pledge (UnitOfWork.remember_roles)

    async def add(self, person_id: int, terms: PledgeTerms, renew_on: str | None) -> Pledge:
        """Store a new active pledge holding nothing yet (its money comes by a ledger transaction)."""
        self.none_for.discard(person_id)
        box = terms.box() or (None, None, None, None)
        values = {"person_id": person_id, "kind": terms.kind.value, "rank": RANK[terms.kind.value], "amount": terms.amount,
                  "lat": terms.lat, "lng": terms.lng, "radius_m": terms.radius_m, "zone": terms.zone(),
                  "lat_min": box[0], "lat_max": box[1],
                  "lng_min": box[2], "lng_max": box[3], "start_hour": terms.start_hour, "end_hour": terms.end_hour,
                  "auto_renew": terms.auto_renew, "status": PledgeStatus.ACTIVE.value, "created_at": self.now,
                  "renew_on": renew_on}  # fmt: skip
        result = await self.conn.execute(pledges.insert().values(**values))
        return Pledge(new_id(result), person_id, terms, PledgeStatus.ACTIVE, 0, 0, 0, self.now, renew_on)

    async def get(self, pledge_id: int, *, lock: bool = False) -> Pledge | None:
        """One pledge (row-locked on PostgreSQL when `lock`, waiting for other holders)."""
        q = select(pledges).where(p.id == pledge_id)
        if lock and is_postgres(self.conn):
            q = q.with_for_update()
        row = (await self.conn.execute(q)).first()
        return _pledge(row) if row else None

    async def for_person(self, person_id: int) -> list[Pledge]:
        """A donor's pledges, newest first."""
        if person_id in self.none_for:
            return []
        q = select(pledges).where(p.person_id == person_id).order_by(p.id.desc())
        return [_pledge(r) for r in await self.conn.execute(q)]

    async def candidates(self, lat: float, lng: float, hour: int, after: tuple[int, int] = (0, 0),
                         limit: int = 20) -> list[Pledge]:  # fmt: skip
        """Active pledges with money left that may cover a place and local hour, in allocation
        order — rank, then oldest — after `after` = (rank, id). One round trip: a UNION ALL of
        one indexed query per rank, each stopping at `limit`. Located ranks look only in the
        nine geohash cells around the place and filter by the place's box; the caller checks
        the exact distance."""
        cells = geo.neighbourhood(geo.encode(lat, lng, ZONE_PRECISION))
        params = {"lat": lat, "lng": lng, "hour": hour, "cells": cells, "after_rank": after[0], "after_id": after[1], "lim": limit}
        return [_pledge(r) for r in await self.conn.execute(CANDIDATES, params)]

    async def lock_requester(self, person_id: int, cap_name: str, default: int) -> int:
        """Lock the requester's row (PostgreSQL) so that two of their orders drawing at once take
        turns and the daily cap holds, and read the governed cap (`default` when never set), in one
        round trip; SQLite writers are serialised."""
        q = LOCK_REQUESTER if is_postgres(self.conn) else text(LOCK_REQUESTER.text.replace(" FOR UPDATE", ""))
        value = (await self.conn.execute(q, {"p": person_id, "name": cap_name})).one().value
        return default if value is None else int(value)

    async def pick(self, requester_id: int, day: str, lat: float, lng: float, hour: int, need: int, cap: int,
                   after: tuple[int, int] = (0, 0), limit: int = 20, *, order_id: int | None = None) -> PledgePick:  # fmt: skip
        """One pass of allocation's read (call `lock_requester` first): what pledges paid today for
        this requester's orders, and the candidates after `after`, in allocation order, that cover
        min(need, cap − that), row-locked as they are now. PostgreSQL in one round trip (`PICK`);
        SQLite, whose writers are serialised, with the plain queries."""
        if is_postgres(self.conn):
            cells = geo.neighbourhood(geo.encode(lat, lng, ZONE_PRECISION))
            params = {"lat": lat, "lng": lng, "hour": hour, "cells": cells, "after_rank": after[0], "after_id": after[1],
                      "lim": limit, "req": requester_id, "day": day, "need": need, "cap": cap, "order": order_id or 0}  # fmt: skip
            rows = list(await self.conn.execute(PICK, params))
            head = rows[0]
            last = None if head.last_id is None else (int(head.last_rank), int(head.last_id))
            locked = tuple(_pledge(r) for r in rows if r.id is not None)
            following = int(head.next_contribution) if order_id is not None else None
            return PledgePick(int(head.drawn_today), locked, last, head.n_picked < head.seen or head.seen == limit, following)
        drawn = await self.drawn_for_requester(requester_id, day)
        want, got, last = min(need, cap - drawn), 0, None
        batch = await self.candidates(lat, lng, hour, after, limit)
        taken: list[Pledge] = []
        for candidate in batch:
            if got >= want:
                return PledgePick(drawn, tuple(taken), last, True)
            last = (RANK[candidate.terms.kind.value], candidate.id)
            if candidate.person_id == requester_id or not candidate.covers(lat, lng, hour):
                continue
            taken.append(candidate)
            got += candidate.remaining
        return PledgePick(drawn, tuple(taken), last, len(batch) == limit)

    async def spend(self, order_id: int, draws: Sequence[tuple[int, int]], day: str, area: str) -> None:
        """Take what each (pledge id, paise) paid towards an order off its pledge and record the
        uses, in that order (after their ledger moves); PostgreSQL in one round trip."""
        if not draws:
            return
        if is_postgres(self.conn):
            args = {f"{k}{n}": v for n, d in enumerate(draws) for k, v in zip(("i", "t"), d, strict=True)}
            await self.conn.execute(_spend_statement(len(draws)), {**args, "o": order_id, "day": day, "at": self.now, "area": area})
            return
        for pledge_id, take in draws:
            await self.move(pledge_id, -take)
        await self.conn.execute(pledge_uses.insert().values([
            {"pledge_id": i, "order_id": order_id, "amount": t, "day": day, "at": self.now, "area": area} for i, t in draws]))  # fmt: skip

    async def move(self, pledge_id: int, remaining: int, total_in: int = 0, returned: int = 0) -> None:
        """Add to the pledge's money figures (negative `remaining` to spend) after its ledger move."""
        await self.conn.execute(update(pledges).where(p.id == pledge_id).values(
            remaining=p.remaining + remaining, total_in=p.total_in + total_in, returned=p.returned + returned))  # fmt: skip

    async def set_status(self, pledge_id: int, status: PledgeStatus) -> None:
        """Pause, resume or cancel."""
        await self.conn.execute(update(pledges).where(p.id == pledge_id).values(status=status.value))

    async def set_renew_on(self, pledge_id: int, day: str | None) -> None:
        """Set the day of the next monthly renewal (None: it no longer renews)."""
        await self.conn.execute(update(pledges).where(p.id == pledge_id).values(renew_on=day))

    async def due_for_renewal(self, day: str, limit: int = 1000) -> list[int]:
        """Auto-renewing, active pledges whose renewal day is `day` or earlier, oldest first."""
        q = (select(p.id).where(p.auto_renew.is_(True), p.status == PledgeStatus.ACTIVE.value, p.renew_on <= day)
             .order_by(p.id).limit(limit))  # fmt: skip
        return [int(i) for (i,) in await self.conn.execute(q)]

    async def uses(self, pledge_id: int, limit: int = 10) -> list[PledgeUse]:
        """A pledge's newest uses first."""
        q = select(pledge_uses).where(pledge_uses.c.pledge_id == pledge_id).order_by(pledge_uses.c.id.desc()).limit(limit)
        return [_use(r) for r in await self.conn.execute(q)]

    async def used_on(self, day: str) -> dict[int, list[PledgeUse]]:
        """Every use on a business day, per pledge, in order."""
        q = select(pledge_uses).where(pledge_uses.c.day == day).order_by(pledge_uses.c.id)
        out: dict[int, list[PledgeUse]] = {}
        for r in await self.conn.execute(q):
            out.setdefault(int(r.pledge_id), []).append(_use(r))
        return out

    async def mark_told(self, pledge_id: int, day: str) -> bool:
        """Note that its donor was told about `day`; False when they already were (at most once a day)."""
        told = or_(p.told_day.is_(None), p.told_day != day)
        result = await self.conn.execute(update(pledges).where(p.id == pledge_id, told).values(told_day=day)
                                         .execution_options(preserve_rowcount=True))  # fmt: skip
        return bool(result.rowcount == 1)

    async def round_places(self, person_id: int) -> int:
        """Round the places of a person's pledges to about a kilometre (/forget); return how many."""
        result = await self.conn.execute(
            update(pledges).where(p.person_id == person_id, p.lat.is_not(None))
            .values(lat=func.round(cast(p.lat, Numeric), 2), lng=func.round(cast(p.lng, Numeric), 2))
            .execution_options(preserve_rowcount=True))  # fmt: skip
        return int(result.rowcount or 0)

    async def totals(self, ids: Sequence[int] | None = None) -> dict[int, tuple[int, int, int]]:
        """(remaining, total_in, returned) per pledge (all, or these), for audits and tests."""
        q = select(p.id, p.remaining, p.total_in, p.returned)
        if ids is not None:
            q = q.where(p.id.in_(list(ids)))
        return {int(i): (int(r), int(t), int(b)) for i, r, t, b in await self.conn.execute(q)}

    async def count_active(self) -> int:
        """How many pledges are active (for operators and benchmarks)."""
        q = select(func.count()).select_from(pledges).where(p.status == PledgeStatus.ACTIVE.value)
        return int((await self.conn.execute(q)).scalar_one())

    async def drawn_for_requester(self, person_id: int, day: str, *, lock: bool = False) -> int:
        """Paise pledges paid on a business day towards orders this person requested (refunded
        ones included). With `lock`, first lock the person's row (PostgreSQL) so that two of their
        orders drawing at once take turns and the daily cap holds; SQLite writers are serialised."""
        if lock and is_postgres(self.conn):
            await self.conn.execute(select(people.c.id).where(people.c.id == person_id).with_for_update())
        q = (select(func.coalesce(func.sum(pledge_uses.c.amount), 0))
             .select_from(pledge_uses.join(orders, orders.c.id == pledge_uses.c.order_id))
             .where(pledge_uses.c.day == day, orders.c.donor_id == person_id))  # fmt: skip
        return int((await self.conn.execute(q)).scalar_one())

    async def set_often(self, pledge_id: int, often: bool) -> None:
        """Tell its donor of every use (from the uses after now) or, with False, once a day."""
        newest = select(func.max(pledge_uses.c.id)).where(pledge_uses.c.pledge_id == pledge_id).scalar_subquery()
        await self.conn.execute(update(pledges).where(p.id == pledge_id).values(
            often=often, told_use_id=func.coalesce(newest, 0), told_at=None))  # fmt: skip

    async def often_due(self, told_before: str, limit: int = 1000) -> list[int]:
        """Pledges whose donor hears of every use, with uses not yet told and last told before a
        time (or never): the batching gap has passed."""
        untold = select(pledge_uses.c.id).where(pledge_uses.c.pledge_id == p.id,
                                                 pledge_uses.c.id > func.coalesce(p.told_use_id, 0))  # fmt: skip
        q = (select(p.id).where(p.often.is_(True), untold.exists(), or_(p.told_at.is_(None), p.told_at <= told_before))
             .order_by(p.id).limit(limit))  # fmt: skip
        return [int(i) for (i,) in await self.conn.execute(q)]

    async def untold_uses(self, pledge_id: int) -> tuple[int, list[PledgeUse]]:
        """(the newest use id, the uses after the last one told), oldest first."""
        told = select(func.coalesce(p.told_use_id, 0)).where(p.id == pledge_id).scalar_subquery()
        q = (select(pledge_uses).where(pledge_uses.c.pledge_id == pledge_id, pledge_uses.c.id > told)
             .order_by(pledge_uses.c.id))  # fmt: skip
        rows = list(await self.conn.execute(q))
        return (int(rows[-1].id) if rows else 0), [_use(r) for r in rows]

    async def mark_told_often(self, pledge_id: int, upto_use_id: int) -> bool:
        """Note that its donor was told of the uses up to this one, now; False when another process
        already did (the told use id moved), so each use is told once."""
        stmt = (update(pledges).where(p.id == pledge_id, p.often.is_(True), func.coalesce(p.told_use_id, 0) < upto_use_id)
                .values(told_use_id=upto_use_id, told_at=self.now))  # fmt: skip
        result = await self.conn.execute(stmt.execution_options(preserve_rowcount=True))
        return bool(result.rowcount == 1)

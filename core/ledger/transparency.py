"""The public figures of the cooperative, computed from the event log alone.

Everything shown on /transparency and by /pool and /books is derived here from the chained events
(the same log anyone can export and verify), so a member can recompute every number. The
aggregate is incremental: it is fed the events after the last one it saw, so a page view costs
only what was appended since the previous one."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from core.ledger.chain import GENESIS, ChainedEvent
from core.ledger.model import POOL
from core.orders.lifecycle import TERMINAL, Status
from core.ports import UnitOfWork
from core.shared.clock import local_day

PAGE = 5000
_TERMINAL = frozenset(s.value for s in TERMINAL)
AREA_PRECISION = 5  # geohash cells of about 4.9 km x 4.9 km: never finer than 1 km on a public page


@dataclass
class DayFigures:
    """One business day's movements (paise) and meals."""

    pool_in: int = 0
    pool_out: int = 0
    money_in: int = 0  # into the cooperative from outside (deposits, cards)
    money_out: int = 0  # out to the outside world (payouts, card refunds)
    meals: int = 0  # orders delivered


@dataclass(frozen=True)
class FaceFigures:
    """How the duplicate check fared: second photos asked, and orders marked for review."""

    asked: int  # a lookalike in the uncertain band: a second photo was asked for
    confirmed: int  # both photos matched: refused as a duplicate
    went_on: int  # the second photo did not confirm the match
    no_second_photo: int  # the donor could not take one: went on, marked for review
    someone_else: int  # a refused donor was sure it was someone else: went on, marked for review

    @property
    def for_review(self) -> int:
        """Orders that went on marked for an admin to look at."""
        return self.no_second_photo + self.someone_else


@dataclass(frozen=True)
class ParamShown:
    """A governed parameter's current value and what set it."""

    name: str
    value: int
    source: str  # setup | proposal:<id>
    since: str  # when (ISO-8601)


@dataclass
class Books:
    """The running totals of the log; `add` each event in seq order."""

    seq: int = 0
    head: str = GENESIS
    transactions: int = 0
    pool: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    days: dict[str, DayFigures] = field(default_factory=dict)
    status: dict[int, str] = field(default_factory=dict)  # order id -> latest status
    params: dict[str, ParamShown] = field(default_factory=dict)
    areas: Counter[str] = field(default_factory=Counter)  # delivered meals per rounded area
    _zone_of_post: dict[int, str] = field(default_factory=dict)  # order id -> the area its job was posted in
    # The two-stage duplicate check (core/orders/second_look.py), outcome -> count: how often a
    # second photo was asked for, what it decided, and the orders that went on marked for review.
    face_checks: Counter[str] = field(default_factory=Counter)

    def _day(self, occurred_at: str) -> DayFigures:
        day = local_day(datetime.fromisoformat(occurred_at))
        return self.days.setdefault(day, DayFigures())

    def add(self, ev: ChainedEvent) -> None:
        """Take one more event into the figures."""
        self.seq, self.head = ev.seq, ev.hash
        data: dict[str, Any] = ev.data
        if ev.type == "ledger.transaction":
            self.transactions += 1
            fig = self._day(ev.occurred_at)
            for account, amount in data["postings"]:
                amount, kind = int(amount), str(account).split(":", 1)[0]
                self.by_kind[kind] = self.by_kind.get(kind, 0) + amount
                if account == POOL:
                    self.pool += amount
                    fig.pool_in += max(amount, 0)
                    fig.pool_out += max(-amount, 0)
                elif kind == "external":
                    # an external account goes negative as money comes in, positive as it leaves
                    fig.money_in += max(-amount, 0)
                    fig.money_out += max(amount, 0)
        elif ev.type == "order.transitioned":
            self.status[int(data["order_id"])] = str(data["to_status"])
            if data["to_status"] == Status.DELIVERED.value:
                self._day(ev.occurred_at).meals += 1
            if data["transition"] == "post" and data.get("details", {}).get("zone"):
                self._zone_of_post[int(data["order_id"])] = str(data["details"]["zone"])[:AREA_PRECISION]
            if data["to_status"] == Status.DELIVERED.value and int(data["order_id"]) in self._zone_of_post:
                self.areas[self._zone_of_post.pop(int(data["order_id"]))] += 1
        elif ev.type == "face.checked":
            self.face_checks[str(data["outcome"])] += 1
        elif ev.type == "parameter.changed":
            self.params[str(data["name"])] = ParamShown(str(data["name"]), int(data["new"]), str(data["source"]), ev.occurred_at)

    def face_review(self) -> FaceFigures:
        """The duplicate check's figures: second photos asked and their outcomes, reviews."""
        c = self.face_checks
        return FaceFigures(c["second_photo_asked"], c["duplicate"], c["goes_on"], c["no_second_photo"], c["someone_else"])

    def orders(self) -> tuple[int, int]:
        """(open orders, settled orders)."""
        settled = sum(1 for s in self.status.values() if s == Status.SETTLED.value)
        open_ = sum(1 for s in self.status.values() if s not in _TERMINAL)  # an unknown status counts as open
        return open_, settled

    def series(self, today: str, days: int = 30) -> list[tuple[str, DayFigures, int]]:
        """The last `days` business days up to `today`: (day, figures, pool balance at its end)."""
        first = date.fromisoformat(today) - timedelta(days=days - 1)
        span = [(first + timedelta(days=i)).isoformat() for i in range(days)]
        # the balance at the end of each day: today's balance minus what came after that day
        after = {d: f for d, f in self.days.items() if d > today}
        balance = self.pool - sum(f.pool_in - f.pool_out for f in after.values())
        ends: dict[str, int] = {}
        for d in reversed(span):
            ends[d] = balance
            fig = self.days.get(d)
            if fig is not None:
                balance -= fig.pool_in - fig.pool_out
        return [(d, self.days.get(d, DayFigures()), ends[d]) for d in span]


class BooksCache:
    """One process's running Books, brought up to the head on each read (serialised by a lock).

    The chain is only ever appended to, so the figures seen so far stay true; each read adds the
    events committed since. (A cache that ran ahead of a reader's snapshot would only show a newer
    head, never a wrong one.)"""

    def __init__(self) -> None:
        self.books = Books()
        self._lock = asyncio.Lock()

    async def current(self, uow: UnitOfWork) -> Books:
        """The figures up to the newest event the unit of work sees."""
        async with self._lock:
            while page := await uow.chain.page(self.books.seq, PAGE):
                for ev in page:
                    self.books.add(ev)
            return self.books

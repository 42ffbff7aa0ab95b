"""Pledge allocation in few round trips: a fixed number of statements however many pledges pay
(PostgreSQL), a pledge inside the store's generous circle but outside the exact one passed over
for the next, and several ledger transactions recorded together — all or nothing, idempotent."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import event

from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.funding import pledges
from core.funding.pledge_model import PledgeKind, PledgeTerms
from core.ledger.model import DEPOSITS, InsufficientFunds, LedgerConflict, donor_account, transfer
from core.shared import geo
from tests.clock import FixedClock
from tests.helpers import CHENNAI, assert_ledger_invariants
from tests.pledge_helpers import person_with, pledge, screened
from tests.test_pledges import LUNCH, MEAL, fresh  # noqa: F401  (the fixture: SQLite and PostgreSQL)


class Sent:
    """The statements an engine sends, counted by a before_cursor_execute listener."""

    def __init__(self, db: Database) -> None:
        self.count = 0
        event.listen(db.engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: Any) -> None:
        self.count += 1


async def _allocate_counted(store: Store, sent: Sent, order_id: int, need: int) -> tuple[int, int]:
    """Allocate in a unit of work of its own; (paise drawn, statements from the plan to the commit)."""
    async with store.reader() as uow:
        order = await uow.orders.get(order_id)
    assert order is not None
    async with store.uow() as uow:
        before = sent.count
        got = await pledges.allocate(uow, order, need, f"person:{order.donor_id}")
    return got.total, sent.count - before


async def test_allocation_sends_as_many_statements_for_three_pledges_as_for_one(pg_fresh_url: str) -> None:
    db = Database(pg_fresh_url)
    store, sent = Store(db, FixedClock(LUNCH)), Sent(db)
    try:
        pledger = await person_with(store, 1_000)
        for _ in range(3):  # three pledges of ₹30: one meal takes all three
            await pledge(store, pledger, PledgeTerms(MEAL // 3))
        await pledge(store, pledger, PledgeTerms(MEAL))  # the next meal takes this one alone
        first = await screened(store, await person_with(store, 0), *CHENNAI)
        second = await screened(store, await person_with(store, 0), *CHENNAI)
        three = await _allocate_counted(store, sent, first.id, MEAL)
        one = await _allocate_counted(store, sent, second.id, MEAL)
        # the requester's lock and the cap; candidates, today's sum, the order's next contribution
        # number and the pledge locks; the ledger's account locks; its insert; the contributions;
        # the pledges' moves and uses; the chain head; the events
        assert three == one == (MEAL, 8)
        async with store.reader() as uow:
            assert sum(r for r, _t, _b in (await uow.pledges.totals()).values()) == 0
            # numbered from the order's next contribution (read with the candidates): 1, 2, 3 and 1
            assert [c.seq for c in await uow.contributions.for_order(first.id)] == [1, 2, 3]
            assert [c.seq for c in await uow.contributions.for_order(second.id)] == [1]
            assert await uow.ledger.existing("fund", f"order:{first.id}:c3") is not None
        await assert_ledger_invariants(store)
    finally:
        await db.dispose()


def _just_outside(radius: int) -> tuple[float, float]:
    """A place due north of Chennai central half a metre beyond `radius` metres (by geo.distance_m)."""
    low, high = CHENNAI[0], CHENNAI[0] + 2 * radius / 111_000
    for _ in range(80):
        mid = (low + high) / 2
        low, high = (mid, high) if geo.distance_m(*CHENNAI, mid, CHENNAI[1]) < radius + 0.5 else (low, mid)
    return high, CHENNAI[1]


async def test_a_pledge_whose_circle_misses_by_half_a_metre_is_passed_over_for_the_next(fresh: Database) -> None:  # noqa: F811
    store = Store(fresh, FixedClock(LUNCH))
    pledger = await person_with(store, 1_000)
    missed = await pledge(store, pledger, PledgeTerms(MEAL, PledgeKind.LOCATION, *CHENNAI, 500))
    general = await pledge(store, pledger, PledgeTerms(MEAL))
    order = await screened(store, await person_with(store, 0), *_just_outside(500))
    async with store.uow() as uow:
        got = await pledges.allocate(uow, order, MEAL, "person:1")
    assert got.uses == ((general.id, MEAL),)
    async with store.reader() as uow:
        assert (await uow.pledges.totals([missed.id]))[missed.id][0] == MEAL
    await assert_ledger_invariants(store)


async def test_transactions_recorded_together_are_refused_together_when_they_overdraw(fresh: Database) -> None:  # noqa: F811
    store, tag = Store(fresh, FixedClock(LUNCH)), uuid.uuid4().hex[:8]
    donor = await person_with(store, 100)
    txs = [transfer("bench", f"{tag}-{n}", donor_account(donor.id), DEPOSITS, 6_000) for n in range(2)]
    async with store.uow() as uow:
        with pytest.raises(InsufficientFunds):
            await uow.ledger.record_many(txs)
        assert [await uow.ledger.existing("bench", tx.ref) for tx in txs] == [None, None]
        assert await uow.ledger.balance(donor_account(donor.id)) == 10_000
    await assert_ledger_invariants(store)


async def test_transactions_recorded_together_again_are_the_same_and_a_changed_one_is_refused(fresh: Database) -> None:  # noqa: F811
    store, tag = Store(fresh, FixedClock(LUNCH)), uuid.uuid4().hex[:8]
    donor = await person_with(store, 100)
    txs = [transfer("bench", f"{tag}-{n}", donor_account(donor.id), DEPOSITS, 3_000 + n) for n in range(3)]
    async with store.uow() as uow:
        ids = await uow.ledger.record_many(txs)
    assert ids == sorted(ids) and len(set(ids)) == 3  # in the given order
    async with store.uow() as uow:
        assert await uow.ledger.record_many(txs) == ids
        assert await uow.ledger.postings_of(ids[2]) == [(donor_account(donor.id), -3_002), (DEPOSITS, 3_002)]
        assert await uow.ledger.balance(donor_account(donor.id)) == 10_000 - 9_003
    changed = [*txs[:2], transfer("bench", f"{tag}-2", donor_account(donor.id), DEPOSITS, 1)]
    async with store.uow() as uow:
        with pytest.raises(LedgerConflict):
            await uow.ledger.record_many(changed)
    await assert_ledger_invariants(store)

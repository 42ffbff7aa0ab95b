"""Pledges under concurrency on PostgreSQL: fifty orders at once against pledges that cover twenty
fund exactly twenty, never spend the same paisa twice, never drive a pledge negative, and
conserve every paisa (pledged = used + remaining; nothing was refunded or cancelled here)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.funding.pledge_model import PledgeKind, PledgeTerms
from core.ledger.model import InsufficientFunds, escrow_account
from core.orders import service as orders
from core.orders.lifecycle import Status
from core.orders.model import Order
from core.seekers.screening import PassThroughScreener
from tests.clock import FixedClock
from tests.helpers import assert_ledger_invariants, seed_coop
from tests.pledge_helpers import person_with, pledge

LUNCH = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
SPOT = (12.9716, 77.5946)  # a place of this test's own on the shared database
MEAL = 6_000 + 3_000  # curd rice and the delivery fee


async def _fund(store: Store, order: Order, item: int) -> bool:
    """One requester's order funded by pledges alone, in its own transaction and connection."""
    async with store.reader() as uow:
        requester = await uow.people.get(order.donor_id)
    assert requester is not None
    try:
        async with store.uow() as uow:
            funded = await orders.fund_and_send(uow, order.id, requester, item, 0, use_pledges=True)
        return funded.status is Status.AT_RESTAURANT
    except (InsufficientFunds, orders.PledgesTaken):
        return False


async def test_fifty_orders_at_once_against_pledges_for_twenty_spend_each_paisa_once(pg_fresh_url: str) -> None:
    db = Database(pg_fresh_url)
    store = Store(db, FixedClock(LUNCH))
    try:
        await seed_coop(store, uuid.uuid4().hex[:8], capacity=100, at=SPOT)
        pledgers = [await person_with(store, 1_000) for _ in range(3)]
        # 20 meals of ₹90 = ₹1,800 in five pledges of four kinds, two of them with odd paise left over
        made = [await pledge(store, pledgers[0], PledgeTerms(4 * MEAL, PledgeKind.LOCATION_TIME, *SPOT, 1_000, 11, 15)),
                await pledge(store, pledgers[1], PledgeTerms(3 * MEAL + 500, PledgeKind.LOCATION, *SPOT, 500)),
                await pledge(store, pledgers[2], PledgeTerms(5 * MEAL - 500, PledgeKind.TIME, start_hour=11, end_hour=15)),
                await pledge(store, pledgers[0], PledgeTerms(4 * MEAL)),
                await pledge(store, pledgers[1], PledgeTerms(4 * MEAL))]  # fmt: skip
        pledged = sum(p.remaining for p in made)
        assert pledged == 20 * MEAL
        requesters = [await person_with(store, 0) for _ in range(60)]
        screened = []
        for r in requesters:
            async with store.uow() as uow:
                screened.append(await orders.start_order(uow, r, *SPOT, None, PassThroughScreener()))
        async with store.reader() as uow:
            item = (await orders.meal_options(uow, *SPOT))[0].item_id

        burst = await asyncio.gather(*(_fund(store, o, item) for o in screened[:50]))
        later = [await _fund(store, o, item) for o in screened[50:]]
        assert sum(burst) == 20 and sum(later) == 0

        async with store.reader() as uow:
            totals = await uow.pledges.totals([p.id for p in made])
            used = 0
            for o in screened:
                escrow = await uow.ledger.balance(escrow_account(o.id))
                contributions = await uow.contributions.for_order(o.id)
                assert escrow == sum(c.held for c in contributions) in (0, MEAL)
                used += escrow
            for p in made:
                remaining, total_in, returned = totals[p.id]
                assert remaining == await uow.ledger.balance(p.account) >= 0
                assert (total_in, returned) == (p.remaining, 0)
            assert used == 20 * MEAL and sum(t[0] for t in totals.values()) == 0  # pledged = used + remaining
        await assert_ledger_invariants(store)
    finally:
        await db.dispose()

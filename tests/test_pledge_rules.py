"""Governed limits on pledge money: a pledge never pays for an order its own pledger requested, and
the orders one person requests draw at most `pledge_daily_cap_per_requester` of pledge money a
business day (refunded ones included). Allocation on SQLite and PostgreSQL, and under concurrency
on PostgreSQL: one requester's orders at once never pass the cap together."""

from __future__ import annotations

import asyncio
import uuid

from core.adapters.sql.board import SqlJobBoard
from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.funding import pledges
from core.funding.pledge_model import PledgeTerms
from core.governance.rules import SPECS, Unit
from core.ledger.model import InsufficientFunds, donor_account
from core.ledger.params import Params
from core.members.model import Person
from core.orders import service as orders
from core.orders.funding import Source
from core.orders.lifecycle import Status
from core.orders.model import Order
from flows.governance_text import param_label
from flows.i18n import translator
from tests.clock import FixedClock
from tests.helpers import CHENNAI, assert_ledger_invariants, seed_coop
from tests.pledge_helpers import first_item, order_with_pledges, person_with, pledge, screened
from tests.test_pledges import LUNCH, MEAL, fresh  # noqa: F401  (the fixture: SQLite and PostgreSQL)

CAP = Params.pledge_daily_cap_per_requester


def test_the_cap_is_a_governed_parameter_in_rupees_with_a_label_in_both_languages() -> None:
    assert CAP == 20_000 and SPECS["pledge_daily_cap_per_requester"].unit is Unit.PAISE
    assert SPECS["pledge_daily_cap_per_requester"].low == 0  # ₹0: pledges pay for nobody's meals
    labels = {param_label(translator(lang, "webchat"), "pledge_daily_cap_per_requester") for lang in ("en", "ta")}
    assert "pledge_daily_cap_per_requester" not in labels and len(labels) == 2


async def _sources(store: Store, order_id: int) -> list[tuple[str, str, int]]:
    async with store.reader() as uow:
        return [(c.source.value, c.account, c.amount) for c in await uow.contributions.for_order(order_id)]


async def test_a_pledge_never_pays_for_its_own_pledgers_order(fresh: Database) -> None:  # noqa: F811
    store = Store(fresh, FixedClock(LUNCH))
    await seed_coop(store, uuid.uuid4().hex[:8])
    generous, other = await person_with(store, 2_000), await person_with(store, 1_000)
    own = await pledge(store, generous, PledgeTerms(100_000))
    order = await screened(store, generous, *CHENNAI)
    async with store.reader() as uow:
        assert await pledges.available_for(uow, *CHENNAI, requester_id=generous.id) == 0  # only their own
        assert await pledges.available_for(uow, *CHENNAI, requester_id=other.id) == CAP  # others': up to the cap
    theirs = await pledge(store, other, PledgeTerms(3_000))
    async with store.reader() as uow:
        assert await pledges.available_for(uow, *CHENNAI, requester_id=generous.id) == 3_000
    item = await first_item(store, order)
    async with store.uow() as uow:
        funded = await orders.fund_and_send(uow, order.id, generous, item, 0, use_pledges=True)
    assert funded.status is Status.AT_RESTAURANT
    assert await _sources(store, order.id) == [("pledge", theirs.account, 3_000),
                                               ("balance", donor_account(generous.id), MEAL - 3_000)]  # fmt: skip
    async with store.reader() as uow:
        assert await uow.ledger.balance(own.account) == 100_000  # their own pledge is untouched
    await assert_ledger_invariants(store)


async def test_the_daily_cap_limits_pledge_money_per_requester_and_a_new_day_resets_it(fresh: Database) -> None:  # noqa: F811
    clock = FixedClock(LUNCH)
    store = Store(fresh, clock)
    await seed_coop(store, uuid.uuid4().hex[:8])
    pledger, requester = await person_with(store, 2_000), await person_with(store, 0)
    made = await pledge(store, pledger, PledgeTerms(100_000))
    first, second = [await order_with_pledges(store, requester, *CHENNAI) for _ in range(2)]
    assert [first.status, second.status] == [Status.AT_RESTAURANT] * 2  # ₹90 + ₹90 of the ₹200
    third = await screened(store, requester, *CHENNAI)
    item = await first_item(store, third)
    async with store.reader() as uow:
        assert await pledges.available_for(uow, *CHENNAI, requester_id=requester.id) == CAP - 2 * MEAL
    try:
        async with store.uow() as uow:  # ₹20 left under the cap; nothing on their balance
            await orders.fund_and_send(uow, third.id, requester, item, 0, use_pledges=True)
        raise AssertionError("the cap let a third meal through")
    except InsufficientFunds as exc:
        assert exc.needed == MEAL - (CAP - 2 * MEAL)
    # A cancelled order's pledge money went back into the pledge, but still counts for today:
    # ordering and cancelling cannot cycle through the pledges near someone.
    async with store.uow() as uow:
        requester_now = await uow.people.get(requester.id)
        assert requester_now is not None
        await orders.cancel(uow, first.id, requester_now, SqlJobBoard(store.db))
    async with store.reader() as uow:
        assert await pledges.available_for(uow, *CHENNAI, requester_id=requester.id) == CAP - 2 * MEAL
        assert await uow.ledger.balance(made.account) == 100_000 - MEAL
    # Next day (India time) the cap is whole again.
    clock.advance(days=1)
    async with store.uow() as uow:
        funded = await orders.fund_and_send(uow, third.id, requester, item, 0, use_pledges=True)
    assert funded.status is Status.AT_RESTAURANT and await _sources(store, third.id) == [("pledge", made.account, MEAL)]
    # A passed proposal's new cap is used from that moment: ₹0 stops pledges paying for anyone.
    async with store.uow() as uow:
        await uow.params.change("pledge_daily_cap_per_requester", 0, "proposal:1")
    async with store.reader() as uow:
        assert await pledges.available_for(uow, *CHENNAI, requester_id=(await person_with(store, 0)).id) == 0
    await assert_ledger_invariants(store)


async def _fund(store: Store, order: Order, requester: Person, item: int) -> bool:
    """One order funded by pledges (and the requester's balance), in its own transaction."""
    try:
        async with store.uow() as uow:
            funded = await orders.fund_and_send(uow, order.id, requester, item, 0, use_pledges=True)
        return funded.status is Status.AT_RESTAURANT
    except (InsufficientFunds, orders.PledgesTaken):
        return False


async def test_on_postgresql_one_requesters_orders_at_once_never_pass_the_cap_together(pg_fresh_url: str) -> None:
    db = Database(pg_fresh_url)
    store = Store(db, FixedClock(LUNCH))
    try:
        await seed_coop(store, uuid.uuid4().hex[:8], capacity=100)
        pledger = await person_with(store, 15_000)
        made = await pledge(store, pledger, PledgeTerms(1_000_000))  # plenty: only the rules limit
        greedy, modest = await person_with(store, 0), await person_with(store, 0)
        mine = [await screened(store, greedy, *CHENNAI) for _ in range(12)]
        theirs = [await screened(store, modest, *CHENNAI) for _ in range(2)]
        own = [await screened(store, pledger, *CHENNAI) for _ in range(4)]  # the pledger's own requests
        item = await first_item(store, mine[0])
        runs = [*(_fund(store, o, greedy, item) for o in mine), *(_fund(store, o, modest, item) for o in theirs),
                *(_fund(store, o, pledger, item) for o in own)]  # fmt: skip
        results = await asyncio.gather(*runs)
        assert sum(results[:12]) == CAP // MEAL == 2 and sum(results[12:14]) == 2
        async with store.reader() as uow:
            for person in (greedy, modest):
                assert await uow.pledges.drawn_for_requester(person.id, uow.day) == 2 * MEAL <= CAP
            for o in own:  # the pledger's own orders were paid from their balance, never their pledge
                assert all(c.source is Source.BALANCE for c in await uow.contributions.for_order(o.id))
            assert await uow.ledger.balance(made.account) == 1_000_000 - 4 * MEAL
        await assert_ledger_invariants(store)
    finally:
        await db.dispose()

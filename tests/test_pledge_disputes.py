"""Disputes over a pledge-funded order: a refund goes back into the pledge (or to its donor once
the pledge was cancelled), and an appeal that reverses the refund takes it back from there —
pledged money stays conserved throughout."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from core.adapters.sql.board import SqlJobBoard
from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.funding import pledges
from core.funding.pledge_model import PledgeTerms
from core.orders import disputes
from core.orders import service as orders
from core.orders.dispute_model import Reason, Resolution
from core.orders.funding import Source
from tests.clock import FixedClock
from tests.helpers import CHENNAI, assert_ledger_invariants, seed_coop
from tests.pledge_helpers import order_with_pledges, person_with, pledge
from tests.test_pledges import fresh  # noqa: F401  (a database of its own per test)

NOON = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)


def at(store: Store, minutes: float) -> Store:
    """The same database, `minutes` after noon."""
    return Store(store.db, FixedClock(NOON + timedelta(minutes=minutes)), store.bus)


async def conserved(store: Store, pledge_id: int) -> tuple[int, int, int]:
    """Check the pledge's mirror and conservation; return (remaining, total_in, returned)."""
    async with store.reader() as uow:
        remaining, total_in, returned = (await uow.pledges.totals([pledge_id]))[pledge_id]
        assert remaining == await uow.ledger.balance(f"pledge:{pledge_id}") >= 0
        used = 0
        for use in await uow.pledges.uses(pledge_id, limit=100):
            for c in await uow.contributions.for_order(use.order_id):
                if c.source is Source.PLEDGE and c.account == f"pledge:{pledge_id}":
                    used += c.amount - c.refunded
        assert total_in == used + returned + remaining
    return remaining, total_in, returned


@pytest.mark.parametrize("cancel_first", [False, True])
async def test_a_refund_and_its_reversal_on_appeal_follow_the_pledge(fresh: Database, cancel_first: bool) -> None:  # noqa: F811
    store = Store(fresh, FixedClock(NOON))
    coop = await seed_coop(store, uuid.uuid4().hex[:8])
    board = SqlJobBoard(fresh)
    pledger, requester = await person_with(store, 1_000), await person_with(store, 0)
    made = await pledge(store, pledger, PledgeTerms(50_000))
    order = await order_with_pledges(store, requester, *CHENNAI)
    kitchen, worker = next(r for r in coop.restaurants if r.id == order.restaurant_id), coop.workers[0]
    async with store.uow() as uow:
        await orders.accept(uow, order.id, kitchen, board, "r")
    async with store.uow() as uow:
        assert (await orders.claim(uow, order.id, worker, board, "w")).won
    async with store.uow() as uow:
        await orders.pickup(uow, order.id, worker, board, "w")
    async with store.uow() as uow:
        await orders.deliver(uow, order.id, worker, "photo", *CHENNAI, "w")
    async with at(store, 10).uow() as uow:
        dispute = await disputes.raise_dispute(uow, order.id, requester, Reason.BAD_FOOD, "cold")
    if cancel_first:  # the pledge is cancelled before the refund: it goes to the pledger's balance
        async with at(store, 15).uow() as uow:
            await pledges.cancel_pledge(uow, made.id, pledger.id, pledger.actor)
    async with at(store, 20).uow() as uow:
        await disputes.resolve(uow, dispute.id, coop.admin, Resolution.REFUND, "no photo")
    remaining, _in, returned = await conserved(store, made.id)
    assert (remaining, returned) == ((0, 50_000) if cancel_first else (50_000, 0))
    async with at(store, 30).uow() as uow:
        owner = await uow.people.get(kitchen.person_id)
        assert owner is not None
        await disputes.appeal(uow, dispute.id, owner)
    async with store.uow() as uow:
        other = await uow.people.get_or_create("test", f"admin2-{uuid.uuid4().hex[:6]}")
        await uow.people.set_flags(other.id, is_admin=True)
    async with at(store, 40).uow() as uow:
        await disputes.decide_appeal(uow, dispute.id, replace(other, is_admin=True), Resolution.SPLIT_MEAL, "it was cooked")
    remaining, _in, returned = await conserved(store, made.id)
    meal = order.meal_price
    assert (remaining, returned) == ((0, 50_000 - meal) if cancel_first else (50_000 - meal, 0))
    async with store.reader() as uow:
        assert await uow.ledger.balance(f"restaurant:{kitchen.id}") == meal
    await assert_ledger_invariants(store)

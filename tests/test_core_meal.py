"""A meal through the core alone: worked examples with exact balances on both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from core.adapters.sql.board import SqlJobBoard
from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.ledger import service as money
from core.ledger.model import InsufficientFunds
from core.orders import service as orders
from core.orders.lifecycle import Status
from core.seekers.screening import PassThroughScreener
from tests.clock import FixedClock
from tests.helpers import CHENNAI, assert_ledger_invariants, seed_coop, settle_after_window

NOON = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)  # 12:00 in Chennai


@pytest.fixture
def store(db: Database) -> Store:
    return Store(db, FixedClock(NOON))


async def test_worked_example_meal_80_fee_30_tip_10_settles_exactly(store: Store, db: Database) -> None:
    # A donor deposits ₹1,000 and funds an ₹80 meal with the ₹30 fee and a ₹10 tip.
    # The restaurant gets all ₹80, the worker ₹24 + ₹10, pool and infra ₹3 each.
    tag = uuid.uuid4().hex[:8]
    coop = await seed_coop(store, tag)
    board = SqlJobBoard(db)
    async with store.uow() as uow:
        await money.record_deposit(uow, coop.donor.id, 100_000, f"dep-{tag}", coop.admin.actor, "cash")
        order = await orders.start_order(uow, coop.donor, *CHENNAI, None, PassThroughScreener())
    item = coop.restaurants[1].menu[1]  # Veg biryani, ₹80
    async with store.uow() as uow:
        order = await orders.fund_and_send(uow, order.id, coop.donor, item.id, tip=1_000)
    assert order.status is Status.AT_RESTAURANT
    async with store.uow() as uow:
        await orders.accept(uow, order.id, coop.restaurants[1], board, "r")
    assert order.id in [j.order_id for j in await board.open_jobs([coop.restaurants[1].zone])]
    async with store.uow() as uow:
        assert (await orders.claim(uow, order.id, coop.workers[0], board, "w")).won
    async with store.uow() as uow:
        await orders.pickup(uow, order.id, coop.workers[0], board, "w")
        await orders.deliver(uow, order.id, coop.workers[0], "photo", *CHENNAI, "w")
    async with store.reader() as uow:
        assert await uow.ledger.balance(f"escrow:order:{order.id}") == 12_000  # it rests for the dispute window
    _, tx_id = await settle_after_window(store, order.id)
    async with store.reader() as uow:
        assert (await uow.orders.get(order.id)).status is Status.SETTLED  # type: ignore[union-attr]
        assert await uow.ledger.balance(f"donor:{coop.donor.id}") == 100_000 - 12_000
        assert await uow.ledger.balance(f"restaurant:{coop.restaurants[1].id}") == 8_000
        assert await uow.ledger.balance(f"worker:{coop.workers[0].id}") == 3_400
        assert await uow.ledger.balance(f"escrow:order:{order.id}") == 0
        assert await uow.restaurants.used(coop.restaurants[1].id, uow.day) == 1
    await assert_ledger_invariants(store)


async def test_donor_without_enough_balance_cannot_fund(store: Store) -> None:
    tag = uuid.uuid4().hex[:8]
    coop = await seed_coop(store, tag)
    async with store.uow() as uow:
        await money.record_deposit(uow, coop.donor.id, 5_000, f"dep-{tag}", coop.admin.actor, "cash")
        order = await orders.start_order(uow, coop.donor, *CHENNAI, None, PassThroughScreener())
    with pytest.raises(InsufficientFunds):
        async with store.uow() as uow:
            await orders.fund_and_send(uow, order.id, coop.donor, coop.restaurants[0].menu[0].id, tip=0)
    async with store.reader() as uow:
        assert (await uow.orders.get(order.id)).status is Status.SCREENED  # type: ignore[union-attr]
        assert await uow.ledger.balance(f"donor:{coop.donor.id}") == 5_000
    await assert_ledger_invariants(store)

"""Test helpers: ledger invariants and a seeded cooperative."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import ColumnElement, Table, func, select

from core.adapters.sql.uow import Store, UnitOfWork
from core.ledger.audit import audit
from core.ledger.chain import ChainedEvent
from core.members.model import Person, Restaurant, Worker
from core.members.registration import apply_restaurant, apply_worker
from core.orders import service as orders_service
from core.orders.model import Order
from tests.clock import FixedClock

CHENNAI = (13.0827, 80.2707)


async def assert_ledger_invariants(store: Store) -> None:
    """Every transaction balances, the chain verifies, and every ledger tx is in the chain as recorded
    (the audit operators run: `ketpaar ledger verify`)."""
    report = await audit(store)
    assert report.ok, f"audit failed at event {report.broken_seq}: {report.problem}"


async def chain_events(uow: UnitOfWork, type_: str) -> list[ChainedEvent]:
    """The chained events of one type, oldest first."""
    return [e async for e in uow.chain.stream() if e.type == type_]


async def count_rows(uow: UnitOfWork, table: Table, *where: ColumnElement[bool]) -> int:
    """How many rows of a table match (for what no production code needs to count)."""
    return int((await uow.conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one())


@dataclass
class Coop:
    """A small seeded cooperative."""

    admin: Person
    donor: Person
    restaurants: list[Restaurant]
    workers: list[Worker]


async def seed_coop(
    store: Store, tag: str, *, capacity: int = 20, n_workers: int = 2, at: tuple[float, float] = CHENNAI
) -> Coop:
    """Two approved restaurants near a place (Chennai central by default), online workers, an
    admin and a donor."""
    lat, lng = at
    async with store.uow() as uow:
        await uow.params.ensure_initial(await uow.params.current())
        admin = await uow.people.get_or_create("test", f"{tag}-admin")
        await uow.people.set_flags(admin.id, is_admin=True)
        admin = replace(admin, is_admin=True)
        donor = await uow.people.get_or_create("test", f"{tag}-donor")
        rests = []
        for i, (dlat, menu) in enumerate([(0.002, [("Curd rice", 6000), ("Sambar rice", 7000)]),
                                          (0.004, [("Lemon rice", 5500), ("Veg biryani", 8000)])]):  # fmt: skip
            owner = await uow.people.get_or_create("test", f"{tag}-rest-{i + 1}")
            rests.append(
                await apply_restaurant(
                    uow, owner, name=f"{tag} Kitchen {i + 1}", lat=lat + dlat, lng=lng, address=f"{i + 1} Anna Salai",
                    menu=menu, daily_capacity=capacity, approved=True,
                )  # fmt: skip
            )
        workers = []
        for i in range(n_workers):
            p = await uow.people.get_or_create("test", f"{tag}-worker-{i + 1}")
            workers.append(await apply_worker(uow, p, name=f"Worker {i + 1}", lat=lat, lng=lng, approved=True, online=True))
    return Coop(admin, donor, rests, workers)


async def settle_after_window(store: Store, order_id: int) -> tuple[Order, int]:
    """What the scheduler does once a delivered order's dispute window has passed: settle it, at
    that time; return the order and its settlement transaction id."""
    async with store.reader() as uow:
        order = await uow.orders.get(order_id)
    assert order is not None and order.settle_after is not None, "the order was not delivered"
    later = Store(store.db, FixedClock(datetime.fromisoformat(order.settle_after)), store.bus)
    async with later.uow() as uow:
        settled = await orders_service.settle(uow, order_id)
        tx_id = await uow.ledger.existing("settle", f"order:{order_id}")
    assert settled is not None and tx_id is not None, "the order did not settle"
    return settled, tx_id

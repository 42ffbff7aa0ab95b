"""Notifications caused by scheduled jobs reach people in their language, with local dates."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from core.adapters.sql.board import SqlJobBoard
from core.adapters.sql.db import Database
from core.adapters.sql.schema import outbox
from core.adapters.sql.uow import Store
from core.ledger import service as money
from core.ledger.model import DEPOSITS, POOL, transfer
from core.orders import service as orders
from core.orders.model import Order
from core.schedule.jobs import end_of_day_topup
from core.seekers.screening import PassThroughScreener
from core.shared.bus import MessageBus
from flows import notify
from flows.messages import Outbound
from tests.clock import FixedClock
from tests.helpers import CHENNAI, Coop, assert_ledger_invariants, chain_events, seed_coop, settle_after_window


async def paid_order(store: Store, coop: Coop) -> Order:
    """A guarantee pool with money in it, and the donor's meal paid for and sent to the first restaurant."""
    async with store.uow() as uow:
        await uow.ledger.record(transfer("seed", "pool", DEPOSITS, POOL, 100_000))
        await money.record_deposit(uow, coop.donor.id, 10_000, "d1", coop.admin.actor, "cash")
        order = await orders.start_order(uow, coop.donor, *CHENNAI, None, PassThroughScreener())
    async with store.uow() as uow:
        return await orders.fund_and_send(uow, order.id, coop.donor, coop.restaurants[0].menu[0].id, tip=0)


async def test_a_topped_up_worker_is_told_the_amount_and_the_day_in_their_language(sqlite_db: Database) -> None:
    bus = MessageBus()
    notify.register(bus)
    store = Store(sqlite_db, FixedClock(datetime(2026, 11, 23, 6, 30, tzinfo=UTC)), bus)
    coop = await seed_coop(store, uuid.uuid4().hex[:8], n_workers=1)
    board, worker = SqlJobBoard(sqlite_db), coop.workers[0]
    async with store.uow() as uow:
        await uow.people.set_language(worker.person_id, "ta")
    order = await paid_order(store, coop)
    for step in ("accept", "claim", "pickup", "deliver"):
        async with store.uow() as uow:
            if step == "accept":
                await orders.accept(uow, order.id, coop.restaurants[0], board, "r")
            elif step == "claim":
                await orders.claim(uow, order.id, worker, board, "w")
            elif step == "pickup":
                await orders.pickup(uow, order.id, worker, board, "w")
            else:
                await orders.deliver(uow, order.id, worker, "p", *CHENNAI, "w")
    await settle_after_window(store, order.id)
    paid = await end_of_day_topup(store, "2026-11-23")
    assert paid == {worker.id: 50_000 - 2_400}
    async with store.reader() as uow:
        person = await uow.people.get(worker.person_id)
        texts = [p["text"] for _, p in await uow.outbox.for_recipient(person.channel, person.address, 0)]
    assert any("₹476" in t and "23 நவ., 2026" in t for t in texts), texts
    await assert_ledger_invariants(store)


async def test_offers_still_queued_when_a_job_is_claimed_are_never_sent(db: Database) -> None:
    bus = MessageBus()
    notify.register(bus)
    store = Store(db, FixedClock(datetime(2026, 11, 23, 6, 30, tzinfo=UTC)), bus)
    coop = await seed_coop(store, uuid.uuid4().hex[:8], n_workers=3)
    board, winner, others = SqlJobBoard(db), coop.workers[0], coop.workers[1:]
    async with store.uow() as uow:
        for w in others:  # SMS is sent by the outbox sender: offers wait there until it runs
            person = await uow.people.get(w.person_id)
            assert person is not None
            await uow.people.set_home(person.id, "sms", person.address)
    order = await paid_order(store, coop)
    async with store.uow() as uow:
        await orders.accept(uow, order.id, coop.restaurants[0], board, "r")
    addresses = set()
    async with store.reader() as uow:
        for w in others:
            person = await uow.people.get(w.person_id)
            addresses.add(person.address)
    assert await offer_statuses(db, order.id, "sms") == ["pending", "pending"], "each SMS worker has an offer waiting"

    async with store.uow() as uow:
        await orders.claim(uow, order.id, winner, board, "w")
    assert await offer_statuses(db, order.id, "sms") == ["withdrawn", "withdrawn"]
    async with store.reader() as uow:
        withdrawn = [e.data for e in await chain_events(uow, "job.offers_withdrawn")]
    assert withdrawn == [{"order_id": order.id, "count": 2}]
    async with store.uow() as uow:  # withdrawn rows do not hold up the next message to that person
        first = sorted(addresses)[0]
        await uow.outbox.enqueue("sms", first, Outbound("hello").to_payload())
        due = await uow.outbox.claim_due(["sms"])
    assert [r.payload["text"] for r in due if r.address == first] == ["hello"]
    assert not [r for r in due if r.payload.get("meta", {}).get("job") == order.id]
    await assert_ledger_invariants(store)


async def offer_statuses(db: Database, order_id: int, channel: str) -> list[str]:
    """The status of every offer of this job queued for `channel`."""
    async with db.read() as conn:
        rows = await conn.execute(select(outbox.c.status, outbox.c.payload).where(outbox.c.channel == channel))
        return sorted(status for status, payload in rows if json.loads(payload).get("meta", {}).get("job") == order_id)

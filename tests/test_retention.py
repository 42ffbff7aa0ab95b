"""Retention: exact seeker coordinates are rounded to about 1 km after `order_detail_days`, inbox
and outbox messages are deleted after `message_log_days`; daily, idempotent, each run a chain
event with its counts. SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.adapters.sql.db import Database
from core.adapters.sql.schema import inbox, orders, outbox
from core.adapters.sql.uow import Store
from core.orders import service as orders_service
from core.schedule.jobs import apply_retention
from core.seekers.screening import PassThroughScreener
from tests.clock import FixedClock
from tests.helpers import assert_ledger_invariants, chain_events
from tests.test_order_paths import NOON

# A day of its own, so the once-a-day guard is not spent by another test on the shared database.
TODAY = NOON + timedelta(days=731)


def at(db: Database, days_ago: float) -> Store:
    return Store(db, FixedClock(TODAY - timedelta(days=days_ago)))


async def an_order(store: Store, lat: float, lng: float) -> int:
    async with store.uow() as uow:
        donor = await uow.people.get_or_create("test", f"ret-{uuid.uuid4().hex[:8]}")
        order = await orders_service.start_order(uow, donor, lat, lng, None, PassThroughScreener())
        message_id, _new = await uow.inbox.store("test", uuid.uuid4().hex, donor.address, {"kind": "text", "text": "hello"})
        await uow.inbox.finish(message_id)
        await uow.outbox.enqueue("test", donor.address, {"text": "hi"}, delivered=True)
        await uow.outbox.enqueue("sms", donor.address, {"text": "still to send"})
        return order.id


async def test_old_coordinates_are_rounded_and_old_messages_deleted_once_a_day(db: Database) -> None:
    exact = (13.082734, 80.270718)
    old = await an_order(at(db, 91), *exact)
    recent = await an_order(at(db, 89), *exact)
    cutoff = (TODAY - timedelta(days=90)).isoformat()
    counts = await apply_retention(at(db, 0))
    assert counts is not None and counts["order_coordinates"] >= 1
    async with at(db, 0).reader() as uow:
        rows = {r.id: r for r in await uow.conn.execute(select(orders).where(orders.c.id.in_([old, recent])))}
        assert (rows[old].seeker_lat, rows[old].seeker_lng) == (13.08, 80.27) and rows[old].coarse_at
        assert (rows[recent].seeker_lat, rows[recent].seeker_lng) == exact and rows[recent].coarse_at is None
        # No exact coordinates older than the window remain, anywhere in the orders.
        aged = await uow.conn.execute(select(orders.c.seeker_lat, orders.c.seeker_lng).where(orders.c.created_at < cutoff))
        assert all((lat, lng) == (round(lat, 2), round(lng, 2)) for lat, lng in aged)
        (event,) = [e for e in await chain_events(uow, "retention.applied") if e.occurred_at == TODAY.isoformat()]
        assert event.data["counts"] == counts and event.data["before"]["order_coordinates"] == cutoff
    # Idempotent: a second run the same day does nothing.
    assert await apply_retention(at(db, 0)) is None

    # 180 days on, the messages go (the unsent one stays until it is sent or given up).
    counts = await apply_retention(at(db, -91))
    assert counts is not None and counts["messages"] >= 2
    window = (TODAY - timedelta(days=89)).isoformat()
    async with at(db, 0).reader() as uow:
        handled = inbox.c.status != "pending"  # unprocessed messages wait to be handled first
        assert (await uow.conn.execute(select(inbox.c.id).where(inbox.c.received_at < window, handled))).all() == []
        left = (await uow.conn.execute(select(outbox.c.status).where(outbox.c.created_at < window))).all()
        assert "pending" in {s for (s,) in left} <= {"pending", "sending"}  # unsent ones wait to be sent
        assert len((await uow.conn.execute(select(inbox.c.id).where(inbox.c.received_at == window))).all()) >= 1
    await assert_ledger_invariants(at(db, -91))


@pytest.mark.parametrize("days", [0, -1])
def test_retention_periods_must_be_at_least_a_day(days: int) -> None:
    from core.ledger.params import Params

    with pytest.raises(ValueError):
        Params(message_log_days=days).validate()

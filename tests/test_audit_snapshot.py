"""The audit reads the chain in several passes inside one snapshot: events committed while it runs
are neither half-seen nor taken for a broken chain (PostgreSQL REPEATABLE READ; a SQLite read
transaction is a snapshot already)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.ledger import service as money
from core.ledger.audit import audit
from tests.clock import FixedClock
from tests.helpers import seed_coop

NOON = datetime(2026, 11, 30, 6, 30, tzinfo=UTC)


async def _deposit(store: Store, donor_id: int, actor: str) -> None:
    async with store.uow() as uow:
        await money.record_deposit(uow, donor_id, 1_000, f"dep-{uuid.uuid4().hex[:10]}", actor, "cash")


async def test_a_snapshot_reader_does_not_see_what_is_committed_while_it_reads(db: Database) -> None:
    store = Store(db, FixedClock(NOON))
    coop = await seed_coop(store, f"snap-{uuid.uuid4().hex[:6]}")
    async with store.reader(snapshot=True) as reader:
        before = await reader.chain.head()
        await _deposit(store, coop.donor.id, coop.admin.actor)  # another transaction commits meanwhile
        assert await reader.chain.head() == before
    async with store.reader() as reader:
        assert (await reader.chain.head())[0] > before[0]  # it did commit
    assert (await audit(store)).ok


async def test_a_plain_reader_on_postgres_is_not_a_snapshot(pg_db: Database) -> None:
    # What the snapshot option changes (so the test above can fail): READ COMMITTED sees the commit.
    store = Store(pg_db, FixedClock(NOON))
    coop = await seed_coop(store, f"plain-{uuid.uuid4().hex[:6]}")
    async with store.reader() as reader:
        before = await reader.chain.head()
        await _deposit(store, coop.donor.id, coop.admin.actor)
        assert await reader.chain.head() != before

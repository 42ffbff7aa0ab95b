"""An order's escrow from several contributions, and refunds that go back to each source exactly."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.ledger.model import DEPOSITS, InsufficientFunds, donor_account, escrow_account, transfer
from core.orders.funding import Source, contribute, refund_to_sources, share_out
from core.orders.lifecycle import Status
from core.orders.model import Order
from core.shared.clock import SystemClock
from tests.helpers import assert_ledger_invariants, seed_coop


@given(total=st.integers(0, 10**9), weights=st.lists(st.integers(0, 10**7), min_size=1, max_size=8))
def test_share_out_is_exact_proportional_and_never_above_a_weight(total: int, weights: list[int]) -> None:
    whole = sum(weights)
    if whole == 0:
        assert share_out(0, weights) == [0] * len(weights)
        return
    total = min(total, whole)
    parts = share_out(total, weights)
    assert sum(parts) == total
    for part, weight in zip(parts, weights, strict=True):
        assert 0 <= part <= weight
        assert abs(part * whole - total * weight) < whole  # within one paisa of the exact share


def test_share_out_gives_odd_paise_to_the_largest_remainders_then_the_earliest() -> None:
    assert share_out(100, [1, 1, 1]) == [34, 33, 33]
    assert share_out(10, [3, 7]) == [3, 7]
    assert share_out(5, [2, 2, 6]) == [1, 1, 3]


def draft(donor_id: int, now: str) -> Order:
    """A draft order at Chennai central (contributions do not care about its state)."""
    return Order(id=0, donor_id=donor_id, status=Status.DRAFT, seeker_lat=13.0827, seeker_lng=80.2707, zone="tf3v4",
                 created_at=now)  # fmt: skip


async def _order_with_three_contributions(store: Store) -> tuple[int, list[str]]:
    """An order funded 6,000 + 3,000 + 1,000 paise by three donors (the first also gave a 1,000 tip)."""
    coop = await seed_coop(store, uuid.uuid4().hex[:8])
    async with store.uow() as uow:
        order = await uow.orders.add(draft(coop.donor.id, uow.now))
        donors = [coop.donor.id, *[(await uow.people.get_or_create("test", f"d-{uuid.uuid4().hex[:8]}")).id for _ in range(2)]]
        for i, (person, amount, tip) in enumerate(zip(donors, (6_000, 3_000, 1_000), (1_000, 0, 0), strict=True)):
            account = donor_account(person)
            await uow.ledger.record(transfer("deposit", f"seed-{order.id}-{i}", DEPOSITS, account, amount))
            await contribute(uow, order.id, person, account, Source.BALANCE, amount, tip, f"person:{person}")
    return order.id, [donor_account(p) for p in donors]


async def test_three_contributions_fill_the_escrow_and_a_refund_returns_each_its_share(db: Database) -> None:
    store = Store(db, SystemClock())
    order_id, accounts = await _order_with_three_contributions(store)
    async with store.uow() as uow:
        assert await uow.ledger.balance(escrow_account(order_id)) == 10_000
        refunded = await refund_to_sources(uow, order_id, 1_001, "reroute:9", "system")
        assert refunded == 1_001
        assert [await uow.ledger.balance(a) for a in accounts] == [601, 300, 100]
        tip_back = await refund_to_sources(uow, order_id, 1_000, "tip", "system", tips=True)
        assert tip_back == 1_000 and await uow.ledger.balance(accounts[0]) == 1_601  # the tip goes to its giver
        rest = await refund_to_sources(uow, order_id, None, "cancel", "system")
        assert rest == 10_000 - 2_001
        assert [await uow.ledger.balance(a) for a in accounts] == [6_000, 3_000, 1_000]
        assert await uow.ledger.balance(escrow_account(order_id)) == 0
        assert [c.held for c in await uow.contributions.for_order(order_id)] == [0, 0, 0]
        assert await refund_to_sources(uow, order_id, None, "again", "system") == 0
    await assert_ledger_invariants(store)


async def test_a_contribution_beyond_the_balance_is_refused_and_nothing_is_kept(db: Database) -> None:
    store = Store(db, SystemClock())
    coop = await seed_coop(store, uuid.uuid4().hex[:8])
    with pytest.raises(InsufficientFunds):
        async with store.uow() as uow:
            order = await uow.orders.add(draft(coop.donor.id, uow.now))
            await contribute(uow, order.id, 999_999, donor_account(999_999), Source.BALANCE, 500, 0, "person:999999")
    await assert_ledger_invariants(store)


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
async def test_orders_funded_before_contributions_get_one_from_the_donor(engine: str, request: pytest.FixtureRequest,
                                                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.adapters.sql.ledger_repo import ChainRepo
    from core.adapters.sql.migrate import upgrade

    monkeypatch.setattr(ChainRepo, "append", _append_before_0017)  # events had no hashed bytes column then

    if engine == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:  # a database of its own at the schema before contributions
        import psycopg

        from tests.conftest import PG_ADMIN_URL

        request.getfixturevalue("pg_url")  # PostgreSQL is there (or the test is skipped/failed as CI says)
        name = f"ketpaar_old_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        request.addfinalizer(lambda: _drop(name))
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url, "0008")
    db = Database(url)
    store = Store(db, SystemClock())
    try:
        async with store.uow() as uow:  # what the old code wrote: one fund and a partial refund
            donor_id = await _person(uow)
            # The order row as that schema had it (written by hand: today's repository knows newer columns).
            await uow.conn.execute(text(
                "INSERT INTO orders (donor_id, status, version, seeker_lat, seeker_lng, zone, created_at, updated_at) "
                "VALUES (:d, 'funded', 1, 13.08, 80.27, 'tf346', :now, :now)"), {"d": donor_id, "now": uow.now})  # fmt: skip
            order_id = int((await uow.conn.execute(text("SELECT max(id) FROM orders"))).scalar_one())
            order = draft(donor_id, uow.now)
            order.id = order_id
            account = donor_account(order.donor_id)
            await uow.ledger.record(transfer("deposit", f"old-{order.id}", DEPOSITS, account, 9_000))
            await uow.ledger.record(transfer("fund", f"order:{order.id}", account, escrow_account(order.id), 9_000))
            await uow.ledger.record(transfer("refund", f"order:{order.id}:reroute:2", escrow_account(order.id), account, 1_000))
        upgrade(url)
        async with store.reader() as uow:
            [kept] = await uow.contributions.for_order(order.id)
        assert (kept.source, kept.account, kept.amount, kept.refunded, kept.seq) == (Source.BALANCE, account, 9_000, 1_000, 1)
    finally:
        await db.dispose()


async def _append_before_0017(self: Any, items: Any, occurred_at: str) -> None:
    """ChainRepo.append as the code wrote events before migration 0017 (no `body` column)."""
    from sqlalchemy import select, update

    from core.adapters.sql.schema import chain_head, events
    from core.ledger.chain import canonical_json, event_body, link_hash

    if not items:
        return
    seq, prev = (await self.conn.execute(select(chain_head.c.seq, chain_head.c.hash).where(chain_head.c.id == 1))).one()
    for ev in items:
        seq += 1
        data = json.loads(canonical_json(ev.data()))
        digest = link_hash(prev, event_body(seq, ev.type, occurred_at, ev.actor, data))
        await self.conn.execute(events.insert().values(seq=seq, type=ev.type, occurred_at=occurred_at, actor=ev.actor,
                                                       data=canonical_json(data), prev_hash=prev, hash=digest))  # fmt: skip
        prev = digest
    await self.conn.execute(update(chain_head).where(chain_head.c.id == 1).values(seq=seq, hash=prev))


async def _person(uow: object) -> int:
    person = await uow.people.get_or_create("test", f"old-{uuid.uuid4().hex[:8]}")  # type: ignore[attr-defined]
    return int(person.id)


def _drop(name: str) -> None:
    import psycopg

    from tests.conftest import PG_ADMIN_URL

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

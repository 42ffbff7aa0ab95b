"""An appeal against a refund the donor has already spent: the reversal takes back what each
account still holds, the guarantee pool covers the rest (its own transaction and chain event) and
is repaid first from what the new decision gives the same account; when the pool cannot cover it,
nothing is recorded and the appeal stays open.

Curd rice ₹60 + fee ₹30 + tip ₹15 = 10 500 paise in escrow, refunded in full by the first admin;
the restaurant appeals and a second admin pays the meal only (6 000 to the restaurant)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.ledger.model import POOL, InsufficientFunds, transfer
from core.orders import disputes
from core.orders.dispute_model import DisputeStatus, Resolution
from tests.clock import FixedClock
from tests.helpers import assert_ledger_invariants, chain_events
from tests.test_disputes import at, balances, disputed, second_admin
from tests.test_job_lock import waiting_for_lock
from tests.test_order_paths import NOON


@pytest.fixture
def store(db: Database) -> Store:
    return Store(db, FixedClock(NOON))


async def refunded_then_appealed(store: Store) -> tuple[Any, int, Any, Any, int]:
    """A disputed order refunded in full at 12:20, appealed by the restaurant at 12:30."""
    coop, order_id, kitchen, worker, dispute_id = await disputed(store)
    async with at(store, 20).uow() as uow:
        await disputes.resolve(uow, dispute_id, coop.admin, Resolution.REFUND, "no photo of the person")
        owner = await uow.people.get(kitchen.person_id)
    assert owner is not None
    async with at(store, 30).uow() as uow:
        await disputes.appeal(uow, dispute_id, owner)
    return coop, order_id, kitchen, worker, dispute_id


async def spend_all_but(store: Store, coop: Any, left: int) -> None:
    """The donor spends their balance (the refund included) down to `left` paise elsewhere."""
    async with at(store, 35).uow() as uow:
        account = f"donor:{coop.donor.id}"
        spent = await uow.ledger.balance(account) - left
        await uow.ledger.record(transfer("spend", f"spent-{uuid.uuid4().hex}", account, "external:payouts", spent), "test")


async def give_the_pool(store: Store, amount: int) -> None:
    """Money arrives in the guarantee pool (as fee shares of other meals would bring it)."""
    async with store.uow() as uow:
        await uow.ledger.record(transfer("pool", f"pool-{uuid.uuid4().hex}", "external:deposits", POOL, amount), "test")


async def postings(store: Store, kind: str, ref: str) -> list[tuple[str, int]]:
    """The postings of the transaction recorded under kind and ref, sorted."""
    async with store.reader() as uow:
        tx_id = await uow.ledger.existing(kind, ref)
        assert tx_id is not None, f"no {kind} {ref}"
        return sorted(await uow.ledger.postings_of(tx_id))


async def test_a_spent_refund_is_covered_by_the_pool_and_the_new_decision_repays_it_first(store: Store) -> None:
    coop, order_id, kitchen, worker, dispute_id = await refunded_then_appealed(store)
    await spend_all_but(store, coop, 2_000)  # 8 500 of the 10 500 refund is gone
    await give_the_pool(store, 20_000)
    before = await balances(store, coop, order_id, kitchen, worker)
    assert before["donor"] == 2_000 and before["escrow"] == 0
    other = await second_admin(store, uuid.uuid4().hex[:8])
    async with at(store, 40).uow() as uow:
        final = await disputes.decide_appeal(uow, dispute_id, other, Resolution.SPLIT_MEAL, "it was cooked")
        (contribution,) = await uow.contributions.for_order(order_id)
    assert final.status is DisputeStatus.FINAL and final.appeal_resolution is Resolution.SPLIT_MEAL
    donor, escrow, rest = f"donor:{coop.donor.id}", f"escrow:order:{order_id}", f"restaurant:{kitchen.id}"
    # The exact entries, in order: the 2 000 the donor still held comes back, the pool covers
    # 8 500, the meal goes to the restaurant, 4 500 is refunded, and it repays the pool first.
    ref = f"order:{order_id}:dispute"
    assert await postings(store, "reverse", f"{ref}:reverse:1") == sorted([(donor, -2_000), (escrow, 2_000)])
    assert await postings(store, "cover", f"{ref}:cover") == sorted([(POOL, -8_500), (escrow, 8_500)])
    assert await postings(store, "settle", f"{ref}:2") == sorted([(rest, 6_000), (escrow, -6_000)])
    assert await postings(store, "refund", f"order:{order_id}:refund:dispute:2") == sorted([(donor, 4_500), (escrow, -4_500)])
    assert await postings(store, "repay", f"{ref}:repay") == sorted([(donor, -4_500), (POOL, 4_500)])
    after = await balances(store, coop, order_id, kitchen, worker)
    assert (after["restaurant"], after["worker"], after["escrow"], after["donor"]) == (6_000, 0, 0, 0)
    assert after["pool"] - before["pool"] == -4_000  # what the donor could not give back, net
    assert contribution.refunded == 4_500
    async with store.reader() as uow:
        covered = [e for e in await chain_events(uow, "dispute.shortfall_covered") if e.data["order_id"] == order_id]
        resolved = [e for e in await chain_events(uow, "dispute.resolved") if e.data["order_id"] == order_id]
    assert [(e.actor, e.data["amount"], e.data["accounts"]) for e in covered] == [(other.actor, 8_500, [[donor, 8_500]])]
    assert len(resolved[-1].data["tx_ids"]) == 5 and resolved[-1].data["appeal"]
    await assert_ledger_invariants(store)


async def test_a_refund_still_held_needs_no_cover(store: Store) -> None:
    coop, order_id, kitchen, worker, dispute_id = await refunded_then_appealed(store)
    other = await second_admin(store, uuid.uuid4().hex[:8])
    async with at(store, 40).uow() as uow:
        await disputes.decide_appeal(uow, dispute_id, other, Resolution.SPLIT_MEAL, "it was cooked")
        assert await uow.ledger.existing("cover", f"order:{order_id}:dispute:cover") is None
        assert await uow.ledger.existing("repay", f"order:{order_id}:dispute:repay") is None
    after = await balances(store, coop, order_id, kitchen, worker)
    assert (after["restaurant"], after["escrow"]) == (6_000, 0)
    await assert_ledger_invariants(store)


async def test_a_spent_settlement_is_covered_too_and_not_repaid_by_a_refund(store: Store) -> None:
    # Settled first; the worker's pay went out (a payout); on appeal everything is refunded: the
    # pool covers the worker's 3 900, and the donor, who gets the refund, owes the pool nothing.
    coop, order_id, kitchen, worker, dispute_id = await disputed(store)
    async with at(store, 20).uow() as uow:
        await disputes.resolve(uow, dispute_id, coop.admin, Resolution.SETTLE, "looks fine")
        await disputes.appeal(uow, dispute_id, coop.donor)
    async with at(store, 25).uow() as uow:
        account = f"worker:{worker.id}"
        await uow.ledger.record(transfer("payout", f"paid-{uuid.uuid4().hex}", account, "external:payouts",
                                         await uow.ledger.balance(account)), "test")  # fmt: skip
    await give_the_pool(store, 3_900)
    before = await balances(store, coop, order_id, kitchen, worker)
    other = await second_admin(store, uuid.uuid4().hex[:8])
    async with at(store, 40).uow() as uow:
        await disputes.decide_appeal(uow, dispute_id, other, Resolution.REFUND, "the photo is of a wall")
    after = await balances(store, coop, order_id, kitchen, worker)
    assert (after["restaurant"], after["worker"], after["escrow"]) == (0, 0, 0)
    assert after["donor"] - before["donor"] == 10_500
    # The pool gave back its own 300 share and covered the worker's 3 900; infra gave back 300.
    assert after["pool"] - before["pool"] == -300 - 3_900 and after["infra"] - before["infra"] == -300
    assert await postings(store, "cover", f"order:{order_id}:dispute:cover") == sorted(
        [(POOL, -3_900), (f"escrow:order:{order_id}", 3_900)])
    async with store.reader() as uow:
        assert await uow.ledger.existing("repay", f"order:{order_id}:dispute:repay") is None
    await assert_ledger_invariants(store)


@pytest.fixture
def fresh(sqlite_db: Database) -> Store:
    """A fresh SQLite database, so the pool holds exactly what the test puts there."""
    return Store(sqlite_db, FixedClock(NOON))


async def test_when_the_pool_cannot_cover_nothing_is_recorded_and_the_appeal_stays_open(fresh: Store) -> None:
    store = fresh
    coop, order_id, kitchen, worker, dispute_id = await refunded_then_appealed(store)
    await spend_all_but(store, coop, 2_000)
    await give_the_pool(store, 8_000)  # 500 short of the 8 500 needed
    before = await balances(store, coop, order_id, kitchen, worker)
    async with store.reader() as uow:
        events_before = len([e async for e in uow.chain.stream()])
    other = await second_admin(store, "fresh")
    with pytest.raises(disputes.DisputeError) as short:
        async with at(store, 40).uow() as uow:
            await disputes.decide_appeal(uow, dispute_id, other, Resolution.SPLIT_MEAL, "it was cooked")
    assert (short.value.code, short.value.amount) == ("pool_short", 500)
    assert await balances(store, coop, order_id, kitchen, worker) == before
    async with store.reader() as uow:
        dispute = await uow.disputes.get(dispute_id)
        assert await uow.ledger.existing("reverse", f"order:{order_id}:dispute:reverse:1") is None
        assert len([e async for e in uow.chain.stream()]) == events_before
    assert dispute is not None and dispute.status is DisputeStatus.APPEALED and dispute.appeal_resolution is None
    # Once the pool can cover it, the same decision goes through.
    await give_the_pool(store, 500)
    async with at(store, 50).uow() as uow:
        await disputes.decide_appeal(uow, dispute_id, other, Resolution.SPLIT_MEAL, "it was cooked")
    after = await balances(store, coop, order_id, kitchen, worker)
    assert (after["restaurant"], after["escrow"], after["donor"], after["pool"]) == (6_000, 0, 0, 4_500)
    await assert_ledger_invariants(store)


@pytest.fixture
async def two_processes(pg_url: str) -> Any:
    """Two app processes on one PostgreSQL database (each its own connection pool)."""
    first, second = Database(pg_url), Database(pg_url)
    yield Store(first, FixedClock(NOON)), Store(second, FixedClock(NOON))
    await first.dispose()
    await second.dispose()


@pytest.mark.postgres
async def test_the_donor_cannot_spend_what_an_appeal_is_taking_back(two_processes: tuple[Store, Store]) -> None:
    # The appeal's decision holds the donor's account until it commits (its plan reads the balance
    # under the per-account lock every debit takes, and so does its reversal): a spend from another
    # process waits, then finds the money gone. (The gap between plan and reversal cannot be paused
    # from a test; this shows that nothing slips in before the commit.)
    store, other_process = two_processes
    coop, order_id, kitchen, worker, dispute_id = await refunded_then_appealed(store)
    await spend_all_but(store, coop, 2_000)
    await give_the_pool(store, 20_000)
    other = await second_admin(store, uuid.uuid4().hex[:8])
    account = f"donor:{coop.donor.id}"

    async def spend() -> None:
        async with at(other_process, 41).uow() as uow:
            await uow.ledger.record(transfer("spend", f"late-{uuid.uuid4().hex}", account, "external:payouts", 2_000), "test")

    async with at(store, 40).uow() as uow:
        await disputes.decide_appeal(uow, dispute_id, other, Resolution.SPLIT_MEAL, "it was cooked")
        late = asyncio.create_task(spend())
        async with asyncio.timeout(10):
            while not await waiting_for_lock(store.db):  # the spend is queued behind the decision
                await asyncio.sleep(0.01)
    with pytest.raises(InsufficientFunds):
        await late
    after = await balances(store, coop, order_id, kitchen, worker)
    assert (after["donor"], after["restaurant"], after["escrow"]) == (0, 6_000, 0)
    await assert_ledger_invariants(store)

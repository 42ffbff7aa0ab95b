"""With one admin, an appeal goes to the members' vote: who may put it there, who may vote, and
what the close job does with the result (worked examples: curd rice ₹60 + fee ₹30 + tip ₹15 =
10 500 paise, split meal-only by the only admin: 6 000 to the kitchen, 4 500 back to the donor)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from core.adapters.sql.db import Database
from core.adapters.sql.schema import outbox
from core.adapters.sql.uow import Store
from core.governance import appeals
from core.governance import service as governance
from core.governance.model import ProposalStatus, VoteChoice
from core.governance.service import GovernanceError
from core.ledger.model import POOL, transfer
from core.members.model import Person
from core.orders import disputes
from core.orders.dispute_model import DisputeError, DisputeStatus, Resolution
from core.orders.lifecycle import Status
from core.schedule.jobs import close_proposals
from core.shared.bus import MessageBus
from flows import appeal_notify
from tests.clock import FixedClock
from tests.helpers import assert_ledger_invariants, chain_events
from tests.test_disputes import at, balances, disputed, second_admin
from tests.test_order_paths import NOON


@pytest.fixture
def store(sqlite_db: Database) -> Store:
    """A fresh database: the seeded admin is the only admin, the seeded kitchens and workers the only members."""
    return Store(sqlite_db, FixedClock(NOON))


async def person(store: Store, person_id: int) -> Person:
    async with store.reader() as uow:
        found = await uow.people.get(person_id)
    assert found is not None
    return found


async def split_then_put_to_vote(store: Store, wanted: Resolution = Resolution.REFUND) -> tuple[Any, int, Any, Any, int, int]:
    """The only admin pays the meal only at 12:20; the donor appeals for `wanted` at 12:30."""
    coop, order_id, kitchen, worker, dispute_id = await disputed(store)
    async with at(store, 20).uow() as uow:
        await disputes.resolve(uow, dispute_id, coop.admin, Resolution.SPLIT_MEAL, "cooked, not eatable")
    async with at(store, 30).uow() as uow:
        proposal = await appeals.put_to_vote(uow, dispute_id, coop.donor, wanted)
    assert proposal.status is ProposalStatus.OPEN and proposal.appeal["to"] == wanted.value
    return coop, order_id, kitchen, worker, dispute_id, proposal.id


async def vote(store: Store, minutes: float, who: Person, proposal_id: int, choice: VoteChoice) -> None:
    async with at(store, minutes).uow() as uow:
        await governance.vote(uow, who, proposal_id, choice, "test")


def closing(store: Store) -> Store:
    """The same database after the 72-hour voting period."""
    return at(store, 30 + 72 * 60)


async def test_a_passed_vote_applies_the_new_outcome_by_itself(store: Store) -> None:
    coop, order_id, kitchen, worker, dispute_id, proposal_id = await split_then_put_to_vote(store)
    before = await balances(store, coop, order_id, kitchen, worker)
    await vote(store, 40, await person(store, kitchen.person_id), proposal_id, VoteChoice.NO)
    await vote(store, 41, await person(store, worker.person_id), proposal_id, VoteChoice.YES)
    await vote(store, 42, await person(store, coop.workers[1].person_id), proposal_id, VoteChoice.YES)
    assert await close_proposals(closing(store)) == {"passed": 1}
    assert await close_proposals(closing(store)) == {}
    after = await balances(store, coop, order_id, kitchen, worker)
    assert (after["restaurant"], after["escrow"], after["donor"] - before["donor"]) == (0, 0, 6_000)
    async with store.reader() as uow:
        dispute, order = await uow.disputes.get(dispute_id), await uow.orders.get(order_id)
        resolved = [e for e in await chain_events(uow, "dispute.resolved") if e.data["order_id"] == order_id]
        put = [e for e in await chain_events(uow, "dispute.put_to_vote") if e.data["order_id"] == order_id]
    assert dispute is not None and dispute.status is DisputeStatus.FINAL and dispute.appeal_resolution is Resolution.REFUND
    assert order is not None and order.status is Status.REFUNDED
    assert [(e.actor, e.data["source"], e.data["appeal"]) for e in resolved][-1] == ("scheduler", f"proposal:{proposal_id}", True)
    assert [(e.data["decided"], e.data["asked"], e.data["proposal_id"]) for e in put] == [("split_meal", "refund", proposal_id)]
    await assert_ledger_invariants(store)


async def test_a_failed_vote_leaves_the_decision_standing(store: Store) -> None:
    coop, order_id, kitchen, worker, dispute_id, proposal_id = await split_then_put_to_vote(store)
    before = await balances(store, coop, order_id, kitchen, worker)
    await vote(store, 40, await person(store, kitchen.person_id), proposal_id, VoteChoice.NO)
    assert await close_proposals(closing(store)) == {"rejected": 1}
    assert await balances(store, coop, order_id, kitchen, worker) == before  # nothing moved
    async with store.reader() as uow:
        dispute, order = await uow.disputes.get(dispute_id), await uow.orders.get(order_id)
    assert dispute is not None and dispute.status is DisputeStatus.FINAL
    assert dispute.appeal_resolution is Resolution.SPLIT_MEAL and order is not None and order.status is Status.SETTLED
    await assert_ledger_invariants(store)


async def test_only_a_party_puts_an_appeal_to_the_vote_once_and_only_for_another_outcome(store: Store) -> None:
    coop, order_id, kitchen, worker, dispute_id = await disputed(store)
    async with at(store, 20).uow() as uow:
        await disputes.resolve(uow, dispute_id, coop.admin, Resolution.SPLIT_MEAL, "cooked, not eatable")
    stranger = await person(store, coop.workers[1].person_id)  # a member, but not of this order
    owner = await person(store, kitchen.person_id)
    for who, wanted, code in ((stranger, Resolution.REFUND, "not_a_party"), (coop.donor, Resolution.SPLIT_MEAL, "same_outcome")):
        with pytest.raises(DisputeError) as refused:
            async with at(store, 30).uow() as uow:
                await appeals.put_to_vote(uow, dispute_id, who, wanted)
        assert refused.value.code == code
    async with at(store, 31).uow() as uow:
        await appeals.put_to_vote(uow, dispute_id, coop.donor, Resolution.REFUND)
    for who, code in ((coop.donor, "already_appealed"), (owner, "already_appealed_by_other")):
        with pytest.raises(DisputeError) as refused:
            async with at(store, 32).uow() as uow:
                await appeals.put_to_vote(uow, dispute_id, who, Resolution.SETTLE)
        assert refused.value.code == code
    async with at(store, 33).uow() as uow:  # another party's appeal joins the vote already running
        joined = await disputes.appeal(uow, dispute_id, owner)
        assert len(await uow.governance.active()) == 1
    assert joined.appeals == [coop.donor.id, owner.id] and joined.vote_id is not None


async def test_with_a_second_admin_the_appeal_goes_to_them_not_to_a_vote(store: Store) -> None:
    coop, order_id, kitchen, worker, dispute_id = await disputed(store)
    async with at(store, 20).uow() as uow:
        await disputes.resolve(uow, dispute_id, coop.admin, Resolution.SPLIT_MEAL, "cooked, not eatable")
    await second_admin(store, uuid.uuid4().hex[:8])
    with pytest.raises(DisputeError) as refused:
        async with at(store, 30).uow() as uow:
            await appeals.put_to_vote(uow, dispute_id, coop.donor, Resolution.REFUND)
    assert refused.value.code == "admin_available"
    async with store.reader() as uow:
        assert await uow.governance.active() == []


async def test_a_second_admin_who_appears_during_the_vote_leaves_it_to_the_members(store: Store) -> None:
    # Members may have voted already: an admin who arrives later does not take the case over.
    coop, order_id, kitchen, worker, dispute_id, proposal_id = await split_then_put_to_vote(store)
    other = await second_admin(store, uuid.uuid4().hex[:8])
    with pytest.raises(DisputeError) as refused:
        async with at(store, 40).uow() as uow:
            await disputes.decide_appeal(uow, dispute_id, other, Resolution.SETTLE, "looks fine to me")
    assert (refused.value.code, refused.value.ref) == ("members_vote", proposal_id)
    await vote(store, 41, await person(store, worker.person_id), proposal_id, VoteChoice.YES)
    assert await close_proposals(closing(store)) == {"passed": 1}
    async with store.reader() as uow:
        dispute = await uow.disputes.get(dispute_id)
    assert dispute is not None and dispute.appeal_resolution is Resolution.REFUND


async def test_a_non_member_cannot_vote_and_nobody_votes_after_the_close(store: Store) -> None:
    coop, order_id, kitchen, worker, dispute_id, proposal_id = await split_then_put_to_vote(store)
    with pytest.raises(GovernanceError) as outsider:
        await vote(store, 40, coop.donor, proposal_id, VoteChoice.YES)  # the appellant is no member
    assert outsider.value.code == "not_member"
    await vote(store, 41, await person(store, worker.person_id), proposal_id, VoteChoice.YES)
    assert await close_proposals(closing(store)) == {"passed": 1}
    with pytest.raises(GovernanceError) as late:
        await vote(store, 30 + 72 * 60 + 1, await person(store, kitchen.person_id), proposal_id, VoteChoice.NO)
    assert late.value.code == "closed"
    async with store.reader() as uow:
        proposal = await uow.governance.get(proposal_id)
    assert proposal is not None and proposal.tally == {"yes": 1, "no": 0, "abstain": 0}


async def test_a_passed_vote_the_pool_cannot_cover_waits_with_nothing_written(store: Store) -> None:
    # Refunded first (10 500 to the donor, who spends it all); the members vote to pay the meal
    # only. The pool is empty: the close waits; once the pool holds the 10 500, it goes through.
    coop, order_id, kitchen, worker, dispute_id = await disputed(store)
    async with at(store, 20).uow() as uow:
        await disputes.resolve(uow, dispute_id, coop.admin, Resolution.REFUND, "no photo of the person")
    async with at(store, 25).uow() as uow:
        account = f"donor:{coop.donor.id}"
        await uow.ledger.record(transfer("spend", "spent", account, "external:payouts", await uow.ledger.balance(account)), "t")
    async with at(store, 30).uow() as uow:
        proposal = await appeals.put_to_vote(uow, dispute_id, await uow.people.get(kitchen.person_id), Resolution.SPLIT_MEAL)  # type: ignore[arg-type]
    await vote(store, 40, await person(store, worker.person_id), proposal.id, VoteChoice.YES)
    told = MessageBus()
    appeal_notify.register(told)  # the admins' message, written with the close job's transaction
    assert await close_proposals(Store(store.db, closing(store).clock, told)) == {}
    assert await close_proposals(Store(store.db, at(store, 30 + 72 * 60 + 1).clock, told)) == {}  # a minute later
    async with store.reader() as uow:
        waits = [e.data for e in await chain_events(uow, "dispute.vote_waits_for_pool")]
        texts = [json.loads(p)["text"] for (p,) in await uow.conn.execute(
            select(outbox.c.payload).where(outbox.c.address == coop.admin.address))]  # fmt: skip
    assert waits == [{"proposal_id": proposal.id, "dispute_id": dispute_id, "short": 10_500}]  # once, not every run
    assert [t for t in texts if "guarantee pool is" in t] == [
        f"Order #{order_id}: the members voted to change the decision (proposal #{proposal.id}), but the guarantee pool "
        "is ₹105 short of what the change needs. It is applied by itself as soon as the pool can cover it."]
    async with store.reader() as uow:
        still = await uow.governance.get(proposal.id)
        assert await uow.ledger.existing("reverse", f"order:{order_id}:dispute:reverse:1") is None
    assert still is not None and still.status is ProposalStatus.OPEN
    async with store.uow() as uow:
        await uow.ledger.record(transfer("pool", "pool-top-up", "external:deposits", POOL, 10_500), "test")
    assert await close_proposals(at(store, 30 + 72 * 60 + 1)) == {"passed": 1}
    after = await balances(store, coop, order_id, kitchen, worker)
    # Reversal: the donor had nothing left, the pool covered 10 500; the meal 6 000 to the kitchen;
    # the 4 500 refund repays the pool first: the donor ends with nothing, the pool with 4 500.
    assert (after["restaurant"], after["escrow"], after["donor"], after["pool"]) == (6_000, 0, 0, 4_500)
    await assert_ledger_invariants(store)

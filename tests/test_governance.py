"""Governance in core: who may propose and vote, what a proposal may change, and the close that
applies a passed change by itself, once, whoever runs it (the chat side: test_governance_chat*)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.adapters.sql.board import SqlJobBoard
from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.governance import service as governance
from core.governance.model import ProposalStatus, VoteChoice, passes
from core.governance.rules import FEE_SHARES, SPECS, ChangeRefused, check_change
from core.governance.service import GovernanceError
from core.ledger import service as money
from core.ledger.params import Params
from core.members.model import Person
from core.orders import service as orders
from core.schedule.jobs import close_proposals
from core.seekers.screening import PassThroughScreener
from tests.clock import FixedClock
from tests.helpers import Coop, assert_ledger_invariants, chain_events, seed_coop, settle_after_window
from webhooks.scheduler import one_process_at_a_time

NOON = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)


def later(store: Store, hours: float) -> Store:
    """The same database, `hours` after noon."""
    return Store(store.db, FixedClock(NOON + timedelta(hours=hours)), store.bus)


async def member(store: Store, name: str, *, join: bool = True) -> Person:
    """A donor, who joined the cooperative unless told otherwise."""
    async with store.uow() as uow:
        person = await uow.people.get_or_create("test", f"{name}-{uuid.uuid4().hex[:6]}")
        if join:
            await governance.join(uow, person)
    return replace(person, is_member=join)


async def coop_with_members(store: Store) -> tuple[Coop, list[Person]]:
    """Two restaurants and two workers (members by approval) and a donor who is not a member."""
    coop = await seed_coop(store, uuid.uuid4().hex[:8])
    async with store.reader() as uow:
        people = [await uow.people.get(x.person_id) for x in [*coop.restaurants, *coop.workers]]
    return coop, [p for p in people if p is not None]


async def opened(store: Store, proposer: Person, seconder: Person, changes: dict[str, int]) -> int:
    """A proposal made and seconded (one second is the default): open for voting."""
    async with store.uow() as uow:
        proposal = await governance.propose(uow, proposer, changes, "because")
    async with store.uow() as uow:
        await governance.second(uow, seconder, proposal.id)
        assert (await uow.governance.get(proposal.id)).status is ProposalStatus.OPEN  # type: ignore[union-attr]
    return proposal.id


@pytest.fixture
def store(sqlite_db: Database) -> Store:
    return Store(sqlite_db, FixedClock(NOON))


async def test_approved_restaurants_and_workers_are_members_and_donors_join(store: Store) -> None:
    coop, members = await coop_with_members(store)
    async with store.uow() as uow:
        assert await governance.member_counts(uow) == {"restaurant": 2, "worker": 2, "donor": 0}
        assert not await governance.is_member(uow, coop.donor.id)
        assert await governance.join(uow, coop.donor) == 0  # the default fee is ₹0
        with pytest.raises(GovernanceError, match="already_member"):
            await governance.join(uow, coop.donor)
        assert await governance.member_counts(uow) == {"restaurant": 2, "worker": 2, "donor": 1}
        await governance.leave(uow, members[0])
        assert await governance.member_counts(uow) == {"restaurant": 1, "worker": 2, "donor": 1}
    async with store.reader() as uow:
        assert [e.data["person_id"] for e in await chain_events(uow, "member.joined")] == [coop.donor.id]
        assert [e.data["person_id"] for e in await chain_events(uow, "member.left")] == [members[0].id]


async def test_a_membership_fee_is_paid_from_the_balance_into_the_infra_fund(store: Store) -> None:
    coop, _members = await coop_with_members(store)
    async with store.uow() as uow:
        await uow.params.change("membership_fee", 5_000, "setup")
        with pytest.raises(GovernanceError, match="fee_unpaid"):
            await governance.join(uow, coop.donor)  # ₹0 in the balance
    async with store.uow() as uow:
        await money.record_deposit(uow, coop.donor.id, 20_000, "dep-fee", coop.admin.actor, "cash")
        assert await governance.join(uow, coop.donor) == 5_000
    async with store.reader() as uow:
        assert await uow.ledger.balance(f"donor:{coop.donor.id}") == 15_000
        assert await uow.ledger.balance("fund:infra") == 5_000
    await assert_ledger_invariants(store)


async def test_only_members_propose_second_and_vote(store: Store) -> None:
    coop, members = await coop_with_members(store)
    async with store.uow() as uow:
        with pytest.raises(GovernanceError, match="not_member"):
            await governance.propose(uow, coop.donor, {"daily_minimum": 60_000}, "I am not a member")
    proposal_id = await opened(store, members[2], members[3], {"daily_minimum": 60_000})
    async with store.uow() as uow:
        with pytest.raises(GovernanceError, match="not_member"):
            await governance.vote(uow, coop.donor, proposal_id, VoteChoice.YES, "test")
        await governance.leave(uow, members[0])
        with pytest.raises(GovernanceError, match="not_member"):  # a copy saying "member" is not believed
            await governance.vote(uow, replace(members[0], is_member=True), proposal_id, VoteChoice.YES, "test")


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"daily_minimum": -1}, "out_of_range"),
        ({"delivery_fee": -100}, "out_of_range"),
        ({"dispute_window_min": 0}, "out_of_range"),
        ({"voting_period_hours": 0}, "out_of_range"),
        ({"safety_threshold_bp": 10_001}, "out_of_range"),
        ({"proposal_majority_bp": 4_000}, "out_of_range"),  # a minority may not decide
        ({"max_deposit": 10**13}, "out_of_range"),  # beyond the ceiling a posting can hold
        ({"worker_share_bp": 9_000}, "shares_together"),  # how do the others move?
        ({"worker_share_bp": 7_000, "pool_share_bp": 2_000, "infra_share_bp": 2_000}, "shares_sum"),
        ({"worker_share_bp": 11_000, "pool_share_bp": -500, "infra_share_bp": -500}, "out_of_range"),  # never negative
        ({"nonsense": 1}, "unknown"),
        ({}, "empty"),
    ],
)
def test_a_change_is_checked_against_the_bounds_and_the_other_rules(changes: dict[str, int], code: str) -> None:
    with pytest.raises(ChangeRefused) as refused:
        check_change(Params(), changes)
    assert refused.value.code == code


@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_combined_fee_shares_pass_exactly_when_they_sum_to_the_whole_fee(worker: int, pool: int) -> None:
    infra = 10_000 - worker - pool
    changes = dict(zip(FEE_SHARES, (worker, pool, infra), strict=True))
    if infra < 0:
        with pytest.raises(ChangeRefused):
            check_change(Params(), changes)
    else:
        assert check_change(Params(), changes).fee_shares == (worker, pool, infra)


@given(st.sampled_from(sorted(SPECS)), st.integers(-(10**13), 10**13))
def test_no_accepted_change_leaves_a_parameter_negative_or_out_of_its_bounds(name: str, value: int) -> None:
    try:
        after = check_change(Params(), {name: value})
    except ChangeRefused:
        return
    assert SPECS[name].low <= getattr(after, name) <= SPECS[name].high and getattr(after, name) >= 0


def test_passing_needs_the_quorum_of_members_and_more_yes_than_the_majority() -> None:
    assert passes(1, 0, 0, 5, 2_000, 5_001)  # 1 of 5 is 20 %
    assert not passes(0, 0, 1, 10, 2_000, 5_001)  # turnout 10 %: no quorum
    assert not passes(1, 1, 0, 2, 2_000, 5_001)  # a tie is no majority
    assert passes(2, 1, 7, 10, 2_000, 5_001)  # abstentions count for turnout, not for the majority
    assert not passes(0, 0, 0, 0, 2_000, 5_001)


async def test_a_passed_change_applies_itself_at_close_once(store: Store) -> None:
    coop, members = await coop_with_members(store)
    proposal_id = await opened(store, members[2], members[3], {"daily_minimum": 60_000})
    async with store.uow() as uow:
        for m, choice in zip(members, (VoteChoice.YES, VoteChoice.YES, VoteChoice.NO, VoteChoice.ABSTAIN), strict=True):
            await governance.vote(uow, m, proposal_id, choice, "test")
    assert await close_proposals(later(store, 71)) == {}  # not yet
    assert await close_proposals(later(store, 72)) == {"passed": 1}
    assert await close_proposals(later(store, 73)) == {}  # the close job run again does nothing
    async with store.reader() as uow:
        assert (await uow.params.current()).daily_minimum == 60_000
        assert (await uow.params.history("daily_minimum"))[-1][2] == f"proposal:{proposal_id}"
        closed = await chain_events(uow, "proposal.closed")
        assert [(e.data["outcome"], e.data["yes"], e.data["no"], e.data["abstain"]) for e in closed] == [("passed", 2, 1, 1)]
        assert [e.data["changes"] for e in await chain_events(uow, "proposal.executed")] == [{"daily_minimum": 60_000}]
        changed = [e.data for e in await chain_events(uow, "parameter.changed") if e.data["source"].startswith("proposal")]
        assert changed == [{"name": "daily_minimum", "old": 50_000, "new": 60_000, "source": f"proposal:{proposal_id}"}]
        assert len(await chain_events(uow, "proposal.vote")) == 4
    with pytest.raises(GovernanceError, match="closed"):
        async with later(store, 74).uow() as uow:
            await governance.vote(uow, members[0], proposal_id, VoteChoice.NO, "test")
    await assert_ledger_invariants(store)


async def test_a_proposal_missing_quorum_changes_nothing(store: Store) -> None:
    _coop, members = await coop_with_members(store)
    async with store.uow() as uow:
        await uow.params.change("proposal_quorum_bp", 7_500, "setup")  # 3 of 4 members must vote
    proposal_id = await opened(store, members[2], members[3], {"daily_minimum": 60_000})
    async with store.uow() as uow:
        await governance.vote(uow, members[2], proposal_id, VoteChoice.YES, "test")
        await governance.vote(uow, members[3], proposal_id, VoteChoice.YES, "test")
    assert await close_proposals(later(store, 72)) == {"rejected": 1}
    async with store.reader() as uow:
        assert (await uow.params.current()).daily_minimum == 50_000
        [closed] = await chain_events(uow, "proposal.closed")
        assert closed.data["why"] == "quorum" and not await chain_events(uow, "proposal.executed")


async def test_one_member_one_vote_the_later_replaces_the_earlier(store: Store) -> None:
    _coop, members = await coop_with_members(store)
    proposal_id = await opened(store, members[2], members[3], {"delivery_fee": 4_000})
    async with store.uow() as uow:
        assert await governance.vote(uow, members[0], proposal_id, VoteChoice.YES, "telegram") is None
        assert await governance.vote(uow, members[0], proposal_id, VoteChoice.NO, "sms") == "yes"
        assert await uow.governance.tally(proposal_id) == {"no": 1}
        assert await uow.governance.vote_of(proposal_id, members[0].id) == ("no", "sms")


async def test_seconds_guard_the_opening_and_an_unseconded_proposal_lapses(store: Store) -> None:
    _coop, members = await coop_with_members(store)
    async with store.uow() as uow:
        proposal = await governance.propose(uow, members[0], {"delivery_fee": 4_000}, "fuel")
        with pytest.raises(GovernanceError, match="own_proposal"):
            await governance.second(uow, members[0], proposal.id)
        with pytest.raises(GovernanceError, match="not_open"):
            await governance.vote(uow, members[1], proposal.id, VoteChoice.YES, "test")
        with pytest.raises(GovernanceError, match="already_proposed"):  # one open proposal per rule
            await governance.propose(uow, members[1], {"delivery_fee": 2_000}, "cheaper")
    assert await close_proposals(later(store, 72)) == {"lapsed": 1}
    async with store.uow() as uow:  # the rule is free again
        await governance.propose(uow, members[1], {"delivery_fee": 2_000}, "cheaper")


async def test_the_voting_rules_change_only_by_a_vote_that_meets_the_rules_in_force_at_close(store: Store) -> None:
    _coop, members = await coop_with_members(store)
    quorum = await opened(store, members[0], members[1], {"proposal_quorum_bp": 1_000})
    async with store.uow() as uow:
        await governance.vote(uow, members[0], quorum, VoteChoice.YES, "test")  # 25 % turnout: meets 20 %
        await uow.params.change("proposal_quorum_bp", 5_000, "setup")  # meanwhile the quorum rose to 50 %
    assert await close_proposals(later(store, 72)) == {"rejected": 1}
    async with store.reader() as uow:
        [closed] = await chain_events(uow, "proposal.closed")
        assert closed.data["why"] == "rules" and (await uow.params.current()).proposal_quorum_bp == 5_000


async def test_a_fee_change_applies_to_orders_funded_after_it_not_before(store: Store) -> None:
    coop, members = await coop_with_members(store)
    async with store.uow() as uow:
        await money.record_deposit(uow, coop.donor.id, 100_000, "dep-fee-change", coop.admin.actor, "cash")
    before = await _funded_order(store, coop)
    proposal_id = await opened(store, members[0], members[1], {"delivery_fee": 4_000})
    async with store.uow() as uow:
        await governance.vote(uow, members[2], proposal_id, VoteChoice.YES, "test")
    assert await close_proposals(later(store, 72)) == {"passed": 1}
    after = await _funded_order(later(store, 73), coop)
    async with store.reader() as uow:
        assert (await uow.orders.get(before)).delivery_fee == 3_000  # type: ignore[union-attr]
        assert (await uow.orders.get(after)).delivery_fee == 4_000  # type: ignore[union-attr]
    await assert_ledger_invariants(store)


async def test_a_share_change_passed_mid_run_leaves_orders_already_started_on_their_terms(store: Store) -> None:
    # Order A is funded under 80/10/10; a proposal moves the shares to 70/20/10; order B is funded
    # after. Both are delivered and settled after the change: A pays the pool 10 % of ₹30, B 20 %.
    coop, members = await coop_with_members(store)
    async with store.uow() as uow:
        await money.record_deposit(uow, coop.donor.id, 100_000, "dep-shares", coop.admin.actor, "cash")
    first = await _funded_order(store, coop)
    shares = {"worker_share_bp": 7_000, "pool_share_bp": 2_000, "infra_share_bp": 1_000}
    proposal_id = await opened(store, members[0], members[1], shares)
    async with store.uow() as uow:
        await governance.vote(uow, members[2], proposal_id, VoteChoice.YES, "test")
    assert await close_proposals(later(store, 72)) == {"passed": 1}
    after = later(store, 73)
    second_ = await _funded_order(after, coop)
    pool_before = await _balance(after, "pool:guarantee")
    settled = {}
    for order_id in (first, second_):
        await _deliver(after, coop, order_id)
        _order, tx_id = await settle_after_window(after, order_id)
        async with after.reader() as uow:
            settled[order_id] = dict(await uow.ledger.postings_of(tx_id))
    worker = f"worker:{coop.workers[0].id}"
    assert (settled[first]["pool:guarantee"], settled[first][worker]) == (300, 2_400)  # the terms it started under
    assert (settled[second_]["pool:guarantee"], settled[second_][worker]) == (600, 2_100)  # the new shares
    assert await _balance(after, "pool:guarantee") == pool_before + 900
    await assert_ledger_invariants(store)


async def _balance(store: Store, account: str) -> int:
    async with store.reader() as uow:
        return await uow.ledger.balance(account)


async def _deliver(store: Store, coop: Coop, order_id: int) -> None:
    """The kitchen accepts, the first worker claims, picks up and delivers."""
    board, kitchen, worker = SqlJobBoard(store.db), coop.restaurants[0], coop.workers[0]
    async with store.uow() as uow:
        await orders.accept(uow, order_id, kitchen, board, "r")
    async with store.uow() as uow:
        assert (await orders.claim(uow, order_id, worker, board, "w")).won
        await orders.pickup(uow, order_id, worker, board, "w")
        await orders.deliver(uow, order_id, worker, "photo", kitchen.lat, kitchen.lng, "w")


async def _funded_order(store: Store, coop: Coop) -> int:
    """A curd rice paid from the donor's balance and sent to the kitchen; its id."""
    kitchen = coop.restaurants[0]
    async with store.uow() as uow:
        order = await orders.start_order(uow, coop.donor, kitchen.lat, kitchen.lng, None, PassThroughScreener())
        await orders.fund_and_send(uow, order.id, coop.donor, kitchen.menu[0].id, 0)
    return order.id


@pytest.mark.postgres
async def test_two_processes_closing_at_once_decide_and_apply_once(pg_fresh_url: str) -> None:
    first_db, second_db = Database(pg_fresh_url), Database(pg_fresh_url)
    try:
        first = Store(first_db, FixedClock(NOON))
        _coop, members = await coop_with_members(first)
        proposal_id = await opened(first, members[0], members[1], {"daily_minimum": 60_000})
        async with first.uow() as uow:
            await governance.vote(uow, members[2], proposal_id, VoteChoice.YES, "test")
        a, b = later(first, 72), Store(second_db, FixedClock(NOON + timedelta(hours=72)))
        # The row lock alone (no advisory lock): both find it due, one decides, the other finds it decided.
        results = await asyncio.gather(close_proposals(a), close_proposals(b))
        assert sorted(results, key=len) == [{}, {"passed": 1}]
        # Through the scheduler's wrapper as well: nothing left to do.
        await asyncio.gather(one_process_at_a_time(first_db, "close_proposals", lambda: close_proposals(a))(),
                             one_process_at_a_time(second_db, "close_proposals", lambda: close_proposals(b))())  # fmt: skip
        async with first.reader() as uow:
            assert len(await chain_events(uow, "proposal.closed")) == 1
            assert len(await chain_events(uow, "proposal.executed")) == 1
            assert [h[2] for h in await uow.params.history("daily_minimum")] == ["setup", f"proposal:{proposal_id}"]
        await assert_ledger_invariants(first)
    finally:
        await first_db.dispose()
        await second_db.dispose()

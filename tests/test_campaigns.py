"""Campaigns in the core: the lifecycle table's shape, gifts that never overfill or charge twice,
the order placed by the gift that meets the target, and every gift refunded on expiry or cancel."""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.adapters.sql.board import SqlJobBoard
from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.board.base import JobBoard
from core.campaigns import service as campaigns
from core.campaigns.lifecycle import CORRECTIONS, INITIAL, TERMINAL, TRANSITIONS, CampaignStatus, IllegalCampaignTransition
from core.campaigns.model import Campaign, campaign_account
from core.ledger.model import DEPOSITS, InsufficientFunds, donor_account, escrow_account, transfer
from core.members.model import Person
from core.orders import service as orders
from core.orders.funding import Source
from core.orders.lifecycle import Status
from core.privacy.forget import ForgetRefused, blockers, forget
from core.schedule.jobs import cancel_stale_drafts, expire_campaigns
from core.seekers.photos import LocalPhotoStore
from core.seekers.screening import PassThroughScreener
from tests.clock import FixedClock
from tests.helpers import Coop, assert_ledger_invariants, seed_coop, settle_after_window

NOON = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)  # noon in Chennai: the seeded restaurants are open


# --- the lifecycle table -------------------------------------------------------------------------


def _exits(*, corrections: bool = False) -> dict[CampaignStatus, set[CampaignStatus]]:
    """Every state with the states one transition takes it to (an appeal's corrections, between
    final states, left out unless asked for)."""
    graph: dict[CampaignStatus, set[CampaignStatus]] = {s: set() for s in CampaignStatus}
    for name, (sources, to) in TRANSITIONS.items():
        if name in CORRECTIONS and not corrections:
            continue
        for source in sources:
            graph[source].add(to)
    return graph


def _reachable(start: CampaignStatus) -> set[CampaignStatus]:
    graph, seen, todo = _exits(), {start}, deque([start])
    while todo:
        for nxt in graph[todo.popleft()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_created_is_the_only_state_no_transition_leads_to() -> None:
    assert INITIAL is CampaignStatus.CREATED
    assert set(CampaignStatus) - {to for _s, to in TRANSITIONS.values()} == {CampaignStatus.CREATED}


def test_every_campaign_state_is_reachable_and_reaches_a_terminal_one() -> None:
    assert _reachable(INITIAL) == set(CampaignStatus)
    for state in CampaignStatus:
        assert _reachable(state) & TERMINAL, state


def test_terminal_campaign_states_have_no_exits_and_every_other_state_has_one() -> None:
    assert {s for s, exits in _exits().items() if not exits} == set(TERMINAL)


def test_an_appeals_corrections_move_a_campaign_only_between_completed_and_refunded() -> None:
    graph = _exits(corrections=True)
    assert {s for s in TERMINAL if graph[s]} == {CampaignStatus.COMPLETED, CampaignStatus.REFUNDED}
    assert graph[CampaignStatus.COMPLETED] == {CampaignStatus.REFUNDED}
    assert graph[CampaignStatus.REFUNDED] == {CampaignStatus.COMPLETED}


def test_an_illegal_campaign_move_is_refused_by_name_and_changes_nothing() -> None:
    c = Campaign(id=7, code="ABCDE", creator_id=1, order_id=1, status=CampaignStatus.EXPIRED, restaurant_id=1, item_id=1,
                 meal_name="Curd rice", meal_price=6_000, delivery_fee=3_000, tip=0, expires_at="", created_at="")  # fmt: skip
    with pytest.raises(IllegalCampaignTransition, match="campaign 7: cannot 'give' from 'expired'"):
        c.move("give", "person:1")
    assert c.status is CampaignStatus.EXPIRED and c.version == 0 and c.events == []


# --- a small cooperative with a campaign ---------------------------------------------------------


@dataclass
class World:
    """A seeded cooperative, its store at a fixed time, a board, and a campaign's creator."""

    store: Store
    clock: FixedClock
    coop: Coop
    board: JobBoard


async def world(db: Database) -> World:
    clock = FixedClock(NOON)
    store = Store(db, clock)
    from flows import notify

    notify.register(store.bus)  # the campaign follows its order through the bus, as in the app
    return World(store, clock, await seed_coop(store, uuid.uuid4().hex[:8]), SqlJobBoard(db))


async def giver(w: World, name: str, rupees: int) -> Person:
    """A person with a funded balance."""
    async with w.store.uow() as uow:
        person = await uow.people.get_or_create("test", f"{name}-{uuid.uuid4().hex[:8]}")
        await uow.ledger.record(transfer("deposit", f"seed-{person.id}", DEPOSITS, donor_account(person.id), rupees * 100))
    return person


async def open_campaign(w: World, tip: int = 0) -> Campaign:
    """The coop's donor starts a campaign for curd rice (₹60 + ₹30 delivery = ₹90 + tip)."""
    async with w.store.uow() as uow:
        order = await orders.start_order(uow, w.coop.donor, 13.0827, 80.2707, None, PassThroughScreener())
        item = next(m.id for m in w.coop.restaurants[0].menu if m.name == "Curd rice")
        return await campaigns.start(uow, w.coop.donor, order.id, item, tip)


async def give(w: World, campaign_id: int, person: Person, rupees: int, key: str | None = None, anonymous: bool = False
               ) -> campaigns.GiveResult:  # fmt: skip
    async with w.store.uow() as uow:
        return await campaigns.give(uow, campaign_id, person, rupees * 100, anonymous=anonymous, key=key or uuid.uuid4().hex)


async def balance(w: World, account: str) -> int:
    async with w.store.reader() as uow:
        return await uow.ledger.balance(account)


async def test_three_gifts_meet_the_target_and_the_order_is_placed_with_each_as_its_own_contribution(sqlite_db: Database) -> None:
    w = await world(sqlite_db)
    c = await open_campaign(w, tip=1_000)
    assert (c.target, c.status, len(c.code)) == (10_000, CampaignStatus.CREATED, 5)
    a, b, d = await giver(w, "a", 500), await giver(w, "b", 500), await giver(w, "d", 500)
    assert (await give(w, c.id, a, 50)).campaign.status is CampaignStatus.FUNDING
    assert (await give(w, c.id, b, 30, anonymous=True)).campaign.remaining == 2_000
    done = await give(w, c.id, d, 20)
    assert done.campaign.status is CampaignStatus.ORDER_PLACED and done.campaign.raised == 10_000
    async with w.store.reader() as uow:
        order = await uow.orders.get(c.order_id)
        contributions = await uow.contributions.for_order(c.order_id)
        gifts = await uow.campaigns.gifts(c.id)
    assert order is not None and order.status is Status.AT_RESTAURANT and order.total == 10_000
    assert [(x.source, x.account, x.person_id, x.amount, x.tip) for x in contributions] == [
        (Source.CAMPAIGN, campaign_account(c.id), a.id, 5_000, 500),
        (Source.CAMPAIGN, campaign_account(c.id), b.id, 3_000, 300),
        (Source.CAMPAIGN, campaign_account(c.id), d.id, 2_000, 200),
    ]
    assert [g.anonymous for g in gifts] == [False, True, False]  # anonymous to others; the ledger knows b
    assert await balance(w, campaign_account(c.id)) == 0
    assert await balance(w, escrow_account(c.order_id)) == 10_000
    assert [await balance(w, donor_account(p.id)) for p in (a, b, d)] == [45_000, 47_000, 48_000]
    await assert_ledger_invariants(w.store)


async def test_bad_gifts_are_refused_and_nothing_moves(sqlite_db: Database) -> None:
    w = await world(sqlite_db)
    c = await open_campaign(w)
    a = await giver(w, "a", 100)
    for rupees, code in ((9, "too_small"), (0, "too_small"), (-50, "too_small"), (91, "too_much"), (10_00_00_000, "too_much")):
        with pytest.raises(campaigns.CampaignError) as err:
            await give(w, c.id, a, rupees)
        assert err.value.code == code and err.value.remaining == 9_000 and err.value.least == 1_000
    poor = await giver(w, "poor", 10)
    with pytest.raises(InsufficientFunds):
        await give(w, c.id, poor, 20)
    with pytest.raises(campaigns.CampaignError, match="not_found"):
        await give(w, 99_999, a, 10)
    assert await balance(w, campaign_account(c.id)) == 0 and await balance(w, donor_account(a.id)) == 10_000
    await assert_ledger_invariants(w.store)


async def test_the_last_gift_may_be_below_the_minimum_when_that_is_all_that_is_needed(sqlite_db: Database) -> None:
    w = await world(sqlite_db)
    c = await open_campaign(w)  # ₹90
    a = await giver(w, "a", 200)
    await give(w, c.id, a, 85)
    assert (await give(w, c.id, a, 5)).campaign.status is CampaignStatus.ORDER_PLACED
    await assert_ledger_invariants(w.store)


async def test_one_key_twice_charges_once_and_a_reused_key_for_another_amount_is_refused(sqlite_db: Database) -> None:
    w = await world(sqlite_db)
    c = await open_campaign(w)
    a = await giver(w, "a", 100)
    first = await give(w, c.id, a, 20, key="tap-1")
    again = await give(w, c.id, a, 20, key="tap-1")
    assert again.repeated and again.gift.id == first.gift.id and again.campaign.raised == 2_000
    with pytest.raises(campaigns.CampaignError, match="key_reused"):
        await give(w, c.id, a, 30, key="tap-1")
    assert await balance(w, donor_account(a.id)) == 8_000
    await assert_ledger_invariants(w.store)


async def test_an_expired_campaign_refunds_every_gift_once_and_cancels_its_order(sqlite_db: Database) -> None:
    w = await world(sqlite_db)
    c = await open_campaign(w)
    a, b = await giver(w, "a", 100), await giver(w, "b", 100)
    await give(w, c.id, a, 40)
    await give(w, c.id, b, 25, anonymous=True)
    w.clock.advance(minutes=119)
    assert await expire_campaigns(w.store, w.board) == 0
    assert await cancel_stale_drafts(w.store, w.board) == 0  # a collecting campaign's request is not stale
    w.clock.advance(minutes=1)
    with pytest.raises(campaigns.CampaignError, match="closed_expired"):
        await give(w, c.id, a, 10)  # due, though the job has not run yet
    assert await expire_campaigns(w.store, w.board) == 1
    assert await expire_campaigns(w.store, w.board) == 0  # twice refunds nothing more
    async with w.store.reader() as uow:
        ended = await uow.campaigns.get(c.id)
        order = await uow.orders.get(c.order_id)
    assert ended is not None and ended.status is CampaignStatus.EXPIRED
    assert order is not None and order.status is Status.CANCELLED
    assert [await balance(w, donor_account(p.id)) for p in (a, b)] == [10_000, 10_000]
    assert await balance(w, campaign_account(c.id)) == 0
    with pytest.raises(campaigns.CampaignError, match="closed_expired"):
        await give(w, c.id, a, 10)
    await assert_ledger_invariants(w.store)


async def test_only_the_creator_or_an_admin_cancels_and_then_everyone_is_refunded(sqlite_db: Database) -> None:
    w = await world(sqlite_db)
    c = await open_campaign(w)
    a = await giver(w, "a", 100)
    await give(w, c.id, a, 50)
    async with w.store.uow() as uow:
        with pytest.raises(campaigns.CampaignError, match="not_yours"):
            await campaigns.close(uow, c.id, "cancel", a, w.board)
    async with w.store.uow() as uow:
        closed = await campaigns.close(uow, c.id, "cancel", w.coop.donor, w.board)
    assert closed is not None and closed.status is CampaignStatus.CANCELLED
    assert await balance(w, donor_account(a.id)) == 10_000
    async with w.store.uow() as uow:
        with pytest.raises(campaigns.CampaignError, match="closed_cancelled"):
            await campaigns.close(uow, c.id, "cancel", w.coop.donor, w.board)
    await assert_ledger_invariants(w.store)


async def test_cancelling_the_order_itself_cancels_the_campaign_and_refunds_the_givers(sqlite_db: Database) -> None:
    w = await world(sqlite_db)
    c = await open_campaign(w)
    a = await giver(w, "a", 100)
    await give(w, c.id, a, 50)
    async with w.store.uow() as uow:
        await orders.cancel(uow, c.order_id, w.coop.donor, w.board)
    async with w.store.reader() as uow:
        assert (await uow.campaigns.get(c.id)).status is CampaignStatus.CANCELLED  # type: ignore[union-attr]
    assert await balance(w, donor_account(a.id)) == 10_000
    await assert_ledger_invariants(w.store)


async def test_a_placed_order_that_no_restaurant_takes_refunds_every_giver(sqlite_db: Database) -> None:
    w = await world(sqlite_db)
    c = await open_campaign(w)
    async with w.store.uow() as uow:  # both kitchens are full for today
        for r in w.coop.restaurants:
            await uow.restaurants.set_daily_capacity(r.id, 0, uow.day)
    a, b = await giver(w, "a", 100), await giver(w, "b", 100)
    await give(w, c.id, a, 60)
    await give(w, c.id, b, 30)
    async with w.store.reader() as uow:
        ended = await uow.campaigns.get(c.id)
        order = await uow.orders.get(c.order_id)
    assert order is not None and order.status is Status.DECLINED
    assert ended is not None and ended.status is CampaignStatus.REFUNDED
    assert [await balance(w, donor_account(p.id)) for p in (a, b)] == [10_000, 10_000]
    await assert_ledger_invariants(w.store)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(gifts=st.lists(st.tuples(st.integers(0, 2), st.integers(-20, 120)), min_size=1, max_size=12), expire=st.booleans())
async def test_money_given_to_a_campaign_is_conserved(sqlite_db: Database, gifts: list[tuple[int, int]], expire: bool) -> None:
    # Whatever people try to give: given = refunded + in the campaign + in the order's escrow.
    w = await world(sqlite_db)
    c = await open_campaign(w)
    people = [await giver(w, f"p{i}", 100) for i in range(3)]
    for who, rupees in gifts:
        try:
            await give(w, c.id, people[who], rupees)
        except (campaigns.CampaignError, InsufficientFunds):
            pass
    if expire:
        w.clock.advance(minutes=120)
        await expire_campaigns(w.store, w.board)
    async with w.store.reader() as uow:
        now = await uow.campaigns.get(c.id)
        given_ = await uow.campaigns.gifts(c.id)
    assert now is not None and 0 <= now.raised <= now.target
    assert sum(g.amount for g in given_) == now.raised
    spent = sum([10_000 - await balance(w, donor_account(p.id)) for p in people])
    assert spent == await balance(w, campaign_account(c.id)) + await balance(w, escrow_account(c.order_id))
    assert spent == now.raised - sum(g.refunded for g in given_)
    await assert_ledger_invariants(w.store)


@pytest.mark.postgres
async def test_gifts_racing_for_the_last_rupees_never_overfill_on_postgresql(pg_db: Database) -> None:
    w = await world(pg_db)
    c = await open_campaign(w)  # ₹90
    people = [await giver(w, f"r{i}", 100) for i in range(20)]
    first = await give(w, c.id, people[0], 50)
    assert first.campaign.remaining == 4_000

    async def one(p: Person) -> str:
        try:
            await give(w, c.id, p, 15)
            return "ok"
        except campaigns.CampaignError as exc:
            return exc.code

    results = await asyncio.gather(*(one(p) for p in people[1:]))
    # ₹40 left: two gifts of ₹15 fit, then ₹10 is left and ₹15 is too much; once the target is met
    # the rest find the campaign closed. Never more than the target.
    async with w.store.reader() as uow:
        now = await uow.campaigns.get(c.id)
    assert now is not None and now.raised == 8_000 and results.count("ok") == 2
    assert set(results) - {"ok"} == {"too_much"}
    assert await balance(w, campaign_account(c.id)) == 8_000
    await give(w, c.id, people[1], 10)
    assert await balance(w, escrow_account(c.order_id)) == 9_000
    await assert_ledger_invariants(w.store)


async def test_a_failed_delivery_pays_the_kitchen_and_worker_and_returns_the_tip_to_the_givers(sqlite_db: Database) -> None:
    # Curd rice ₹60 + ₹30 delivery + ₹10 tip = ₹100 from two givers, ₹70 and ₹30. The worker cannot
    # find the person: kitchen ₹60, worker ₹24, pool ₹3, infra ₹3; the ₹10 tip goes back ₹7 / ₹3.
    w = await world(sqlite_db)
    c = await open_campaign(w, tip=1_000)
    a, b = await giver(w, "a", 100), await giver(w, "b", 100)
    await give(w, c.id, a, 70)
    await give(w, c.id, b, 30)
    kitchen, worker = w.coop.restaurants[0], w.coop.workers[0]
    async with w.store.uow() as uow:
        await orders.accept(uow, c.order_id, kitchen, w.board, "test")
    async with w.store.uow() as uow:
        assert (await orders.claim(uow, c.order_id, worker, w.board, "test")).won
    async with w.store.uow() as uow:
        await orders.pickup(uow, c.order_id, worker, w.board, "test")
    async with w.store.uow() as uow:
        await orders.fail_delivery(uow, c.order_id, worker, None, 13.0827, 80.2707, "test")
    async with w.store.reader() as uow:
        assert (await uow.campaigns.get(c.id)).status is CampaignStatus.DELIVERED  # type: ignore[union-attr]
    await settle_after_window(w.store, c.order_id)
    async with w.store.reader() as uow:
        ended = await uow.campaigns.get(c.id)
        balances = await uow.ledger.balances()
    assert ended is not None and ended.status is CampaignStatus.COMPLETED
    assert [await balance(w, donor_account(p.id)) for p in (a, b)] == [3_000 + 700, 7_000 + 300]
    assert balances[campaign_account(c.id)] == 0 and balances[escrow_account(c.order_id)] == 0
    assert balances[f"restaurant:{kitchen.id}"] == 6_000 and balances[f"worker:{worker.id}"] == 2_400
    await assert_ledger_invariants(w.store)


async def test_a_persons_data_export_holds_their_campaigns_and_gifts(sqlite_db: Database) -> None:
    from core.privacy.export import document

    w = await world(sqlite_db)
    c = await open_campaign(w)
    a = await giver(w, "a", 100)
    await give(w, c.id, a, 20, anonymous=True)
    async with w.store.reader() as uow:
        mine = await document(uow, a)
        creators = await document(uow, w.coop.donor)
    assert [(g["campaign_id"], g["amount"], g["anonymous"]) for g in mine["data"]["campaign_gifts"]] == [(c.id, 2_000, True)]
    assert [x["code"] for x in creators["data"]["campaigns_started"]] == [c.code] and mine["data"]["campaigns_started"] == []


async def test_a_giver_to_a_campaign_not_yet_ended_is_told_to_wait_before_forget(sqlite_db: Database, tmp_path: Path) -> None:
    # Its refund would come back to their balance after the erasure; so they wait until it ends.
    w = await world(sqlite_db)
    c = await open_campaign(w)
    a = await giver(w, "a", 100)
    await give(w, c.id, a, 50)
    photos = LocalPhotoStore(tmp_path / "photos", b"k" * 32)
    async with w.store.uow() as uow:
        assert (await blockers(uow, a)).campaigns == [c.code]
        assert (await blockers(uow, w.coop.donor)).campaigns == [c.code]  # the creator too
        with pytest.raises(ForgetRefused):
            await forget(uow, a, photos, None)
    async with w.store.uow() as uow:
        await campaigns.close(uow, c.id, "cancel", w.coop.donor, w.board)
    async with w.store.uow() as uow:
        assert (await blockers(uow, a)).clear
        erased = await forget(uow, a, photos, None)
    assert erased.donated == 10_000  # the refund was back on the balance, and went to the pool
    await assert_ledger_invariants(w.store)

"""Pledges: money put aside ahead, drawn on by orders in the seed's order, returned on cancel and
refund, renewed monthly without ever overdrawing, and reported to the pledger once a day."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.adapters.sql.board import SqlJobBoard
from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.funding import pledges
from core.funding.pledge_model import PledgeError, PledgeKind, PledgeStatus, PledgeTerms, in_hours, pledge_account
from core.ledger.model import InsufficientFunds, donor_account, escrow_account
from core.orders import service as orders
from core.orders.funding import Source
from core.orders.lifecycle import Status
from core.shared import geo
from tests.clock import FixedClock
from tests.helpers import CHENNAI, assert_ledger_invariants, chain_events, seed_coop
from tests.pledge_helpers import order_with_pledges, person_with, pledge, screened

LUNCH = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # 12:30 in Chennai
EVENING = datetime(2026, 11, 23, 13, 30, tzinfo=UTC)  # 19:00 in Chennai
MEAL = 6_000 + 3_000  # the nearest meal (curd rice) and the delivery fee
FIVE_KM_EAST = (CHENNAI[0], CHENNAI[1] + 0.0465)  # about 5 km away


@pytest.fixture(params=["sqlite", "postgres"])
async def fresh(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Database]:
    """A database of its own: general pledges match any order, so tests must not share one."""
    if request.param == "postgres":
        url = str(request.getfixturevalue("pg_fresh_url"))
    else:
        shutil.copy(sqlite_template, tmp_path / "fresh.db")
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
    db = Database(url)
    yield db
    await db.dispose()


def near(radius: int = 1_000, hours: tuple[int, int] | None = None, amount: int = 100_000) -> PledgeTerms:
    """A location pledge around Chennai central (with hours: location+time)."""
    kind = PledgeKind.LOCATION_TIME if hours else PledgeKind.LOCATION
    start, end = hours or (None, None)
    return PledgeTerms(amount, kind, CHENNAI[0], CHENNAI[1], radius, start, end)


async def test_making_a_pledge_moves_money_from_the_balance_and_cancelling_returns_what_is_left(fresh: Database) -> None:
    store = Store(fresh, FixedClock(LUNCH))
    await seed_coop(store, uuid.uuid4().hex[:8])
    pledger, requester = await person_with(store, 2_000), await person_with(store, 0)
    made = await pledge(store, pledger, PledgeTerms(100_000))
    assert made.remaining == 100_000 and made.status is PledgeStatus.ACTIVE
    order = await order_with_pledges(store, requester, *CHENNAI)  # a requester with no balance at all
    assert order.status is Status.AT_RESTAURANT
    async with store.uow() as uow:
        assert await uow.ledger.balance(donor_account(pledger.id)) == 100_000
        assert await uow.ledger.balance(pledge_account(made.id)) == 100_000 - MEAL
        assert [(c.source, c.amount) for c in await uow.contributions.for_order(order.id)] == [(Source.PLEDGE, MEAL)]
        returned = await pledges.cancel_pledge(uow, made.id, pledger.id, pledger.actor)
    assert returned == 100_000 - MEAL
    async with store.reader() as uow:
        assert await uow.ledger.balance(donor_account(pledger.id)) == 200_000 - MEAL
        assert await uow.ledger.balance(pledge_account(made.id)) == 0
        kept = await uow.pledges.get(made.id)
        assert kept is not None and kept.status is PledgeStatus.CANCELLED and kept.returned == 100_000 - MEAL
        assert [e.data["change"] for e in await chain_events(uow, "pledge.changed")] == ["made", "cancelled"]
        assert (await chain_events(uow, "pledge.used"))[0].data == {"order_id": order.id, "uses": [[made.id, MEAL]]}
    await assert_ledger_invariants(store)


async def test_pledges_pay_in_the_seeds_order_and_the_donor_pays_the_rest_with_the_tip(fresh: Database) -> None:
    store = Store(fresh, FixedClock(LUNCH))
    await seed_coop(store, uuid.uuid4().hex[:8])
    pledger, donor = await person_with(store, 1_000), await person_with(store, 100)
    general = await pledge(store, pledger, PledgeTerms(5_000))
    timed = await pledge(store, pledger, PledgeTerms(2_000, PledgeKind.TIME, start_hour=11, end_hour=15))
    located = await pledge(store, pledger, near(amount=1_000))
    both = await pledge(store, pledger, near(hours=(11, 15), amount=1_000))
    far = await pledge(store, pledger, PledgeTerms(5_000, PledgeKind.LOCATION, *FIVE_KM_EAST, 3_000))
    evening = await pledge(store, pledger, PledgeTerms(5_000, PledgeKind.TIME, start_hour=18, end_hour=22))
    order = await order_with_pledges(store, donor, *CHENNAI, tip=1_000)
    async with store.reader() as uow:
        used = [(c.account, c.amount, c.tip) for c in await uow.contributions.for_order(order.id)]
        assert used == [(both.account, 1_000, 0), (located.account, 1_000, 0), (timed.account, 2_000, 0),
                        (general.account, 5_000, 0), (donor_account(donor.id), 1_000, 1_000)]  # fmt: skip
        assert await uow.ledger.balance(far.account) == 5_000 and await uow.ledger.balance(evening.account) == 5_000
        assert await uow.ledger.balance(escrow_account(order.id)) == order.total == MEAL + 1_000
    await assert_ledger_invariants(store)


async def test_a_location_pledge_pays_for_a_lunch_order_nearby_and_not_for_one_five_km_away(fresh: Database) -> None:
    store = Store(fresh, FixedClock(LUNCH))
    await seed_coop(store, "a" + uuid.uuid4().hex[:8])
    await seed_coop(store, "b" + uuid.uuid4().hex[:8], at=FIVE_KM_EAST)  # restaurants there too
    pledger, requester = await person_with(store, 1_000), await person_with(store, 0)
    lunch = await pledge(store, pledger, near(radius=1_000, hours=(11, 15)))
    assert geo.distance_m(*CHENNAI, *FIVE_KM_EAST) > 4_900
    far_order = await screened(store, requester, *FIVE_KM_EAST)
    async with store.uow() as uow:
        assert await pledges.available_for(uow, *FIVE_KM_EAST) == 0
    with pytest.raises(InsufficientFunds):
        async with store.uow() as uow:
            item = (await orders.meal_options(uow, *FIVE_KM_EAST))[0].item_id
            await orders.fund_and_send(uow, far_order.id, requester, item, 0, use_pledges=True)
    near_order = await order_with_pledges(store, requester, CHENNAI[0] + 0.005, CHENNAI[1])  # about 550 m north
    assert near_order.status is Status.AT_RESTAURANT
    async with store.reader() as uow:
        assert await uow.ledger.balance(lunch.account) == 100_000 - near_order.meal_price - near_order.delivery_fee
        assert (await uow.orders.get(far_order.id)).status is Status.SCREENED  # type: ignore[union-attr]
    await assert_ledger_invariants(store)


async def test_a_time_pledge_does_not_pay_outside_its_hours(fresh: Database) -> None:
    store = Store(fresh, FixedClock(EVENING))
    await seed_coop(store, uuid.uuid4().hex[:8])
    pledger, requester = await person_with(store, 1_000), await person_with(store, 0)
    await pledge(store, pledger, near(hours=(11, 15)))
    order = await screened(store, requester, *CHENNAI)
    async with store.uow() as uow:
        assert await pledges.available_for(uow, *CHENNAI) == 0
    assert [h for h in range(24) if in_hours(h, 22, 2)] == [0, 1, 22, 23]
    assert order.status is Status.SCREENED


async def test_a_refund_goes_back_into_the_pledge_or_to_its_donor_once_it_was_cancelled(fresh: Database) -> None:
    store = Store(fresh, FixedClock(LUNCH))
    await seed_coop(store, uuid.uuid4().hex[:8])
    pledger, requester = await person_with(store, 1_000), await person_with(store, 0)
    made = await pledge(store, pledger, PledgeTerms(20_000))
    first = await order_with_pledges(store, requester, *CHENNAI)
    second = await order_with_pledges(store, requester, *CHENNAI)
    async with store.uow() as uow:
        assert await uow.ledger.balance(made.account) == 20_000 - 2 * MEAL
        _, refund = await orders.cancel(uow, first.id, requester, SqlJobBoard(fresh))
        assert refund == MEAL and await uow.ledger.balance(made.account) == 20_000 - MEAL
    async with store.uow() as uow:
        assert await pledges.cancel_pledge(uow, made.id, pledger.id, pledger.actor) == 20_000 - MEAL
    async with store.uow() as uow:
        await orders.cancel(uow, second.id, requester, SqlJobBoard(fresh))
        assert await uow.ledger.balance(made.account) == 0
        assert await uow.ledger.balance(donor_account(pledger.id)) == 100_000
        assert await uow.ledger.balance(donor_account(requester.id)) == 0
        kept = await uow.pledges.get(made.id)
        assert kept is not None and (kept.remaining, kept.total_in, kept.returned) == (0, 20_000, 20_000)
    await assert_ledger_invariants(store)


async def test_nobody_cancels_or_pauses_someone_elses_pledge(fresh: Database) -> None:
    store = Store(fresh, FixedClock(LUNCH))
    owner, stranger = await person_with(store, 100), await person_with(store, 100)
    made = await pledge(store, owner, PledgeTerms(5_000))
    for act in (pledges.cancel_pledge, pledges.pause_pledge):
        with pytest.raises(PledgeError) as err:
            async with store.uow() as uow:
                await act(uow, made.id, stranger.id, stranger.actor)
        assert err.value.code == "not_yours"
    with pytest.raises(PledgeError):
        async with store.uow() as uow:
            await pledges.cancel_pledge(uow, 10**9, stranger.id, stranger.actor)
    async with store.uow() as uow:
        await pledges.cancel_pledge(uow, made.id, owner.id, owner.actor)
    with pytest.raises(PledgeError) as again:  # a second tap on Cancel
        async with store.uow() as uow:
            await pledges.cancel_pledge(uow, made.id, owner.id, owner.actor)
    assert again.value.code == "cancelled"
    async with store.reader() as uow:
        assert await uow.ledger.balance(donor_account(owner.id)) == 10_000
    await assert_ledger_invariants(store)


@pytest.mark.parametrize(("amount", "code"), [(900, "too_small"), (10**10, "too_large"), (-1_000, "too_small"), (0, "too_small")])
async def test_amounts_outside_the_governed_bounds_are_refused(sqlite_db: Database, amount: int, code: str) -> None:
    store = Store(sqlite_db, FixedClock(LUNCH))
    donor = await person_with(store, 1_000)
    with pytest.raises(PledgeError) as err:
        await pledge(store, donor, PledgeTerms(amount))
    assert err.value.code == code


async def test_a_pledge_above_the_balance_is_refused_and_nothing_is_stored(sqlite_db: Database) -> None:
    store = Store(sqlite_db, FixedClock(LUNCH))
    donor = await person_with(store, 50)
    with pytest.raises(InsufficientFunds):
        await pledge(store, donor, PledgeTerms(10_000))
    async with store.reader() as uow:
        assert await uow.pledges.for_person(donor.id) == []


async def test_a_paused_pledge_pays_for_nothing_until_resumed(fresh: Database) -> None:
    store = Store(fresh, FixedClock(LUNCH))
    await seed_coop(store, uuid.uuid4().hex[:8])
    pledger = await person_with(store, 1_000)
    made = await pledge(store, pledger, PledgeTerms(50_000))
    async with store.uow() as uow:
        await pledges.pause_pledge(uow, made.id, pledger.id, pledger.actor)
        assert await pledges.available_for(uow, *CHENNAI) == 0
    async with store.uow() as uow:
        await pledges.pause_pledge(uow, made.id, pledger.id, pledger.actor, paused=False)
        assert await pledges.available_for(uow, *CHENNAI) == 50_000


async def test_auto_renewal_tops_the_pledge_up_monthly_and_pauses_it_when_the_balance_is_short(fresh: Database) -> None:
    clock = FixedClock(LUNCH)
    store = Store(fresh, clock)
    pledger = await person_with(store, 250)
    made = await pledge(store, pledger, PledgeTerms(10_000, auto_renew=True))
    assert made.renew_on == "2026-12-23"
    async with store.uow() as uow:
        assert await pledges.renew_due(uow) == {}  # not due yet
    clock.set(LUNCH + timedelta(days=30))
    async with store.uow() as uow:
        assert await pledges.renew_due(uow) == {made.id: True}
    async with store.uow() as uow:
        assert await pledges.renew_due(uow) == {}  # once a month
        renewed = await uow.pledges.get(made.id)
        assert renewed is not None and (renewed.remaining, renewed.total_in, renewed.renew_on) == (20_000, 20_000, "2027-01-23")
    clock.set(LUNCH + timedelta(days=61))
    async with store.uow() as uow:
        assert await pledges.renew_due(uow) == {made.id: False}  # ₹50 left: never overdrawn
    async with store.reader() as uow:
        paused = await uow.pledges.get(made.id)
        assert paused is not None and paused.status is PledgeStatus.PAUSED and paused.remaining == 20_000
        assert await uow.ledger.balance(donor_account(pledger.id)) == 5_000
        changes = [e.data["change"] for e in await chain_events(uow, "pledge.changed")]
        assert changes == ["made", "renewed", "renewal_failed"]
    await assert_ledger_invariants(store)


async def test_the_pledger_is_told_once_a_day_what_the_pledge_paid_for(fresh: Database) -> None:
    store = Store(fresh, FixedClock(LUNCH))
    await seed_coop(store, uuid.uuid4().hex[:8])
    pledger = await person_with(store, 1_000)
    made = await pledge(store, pledger, PledgeTerms(100_000))
    for _ in range(3):  # three people's orders (one person's three would pass the daily cap of ₹200)
        await order_with_pledges(store, await person_with(store, 0), *CHENNAI)
    async with store.uow() as uow:
        told = await pledges.tell_pledgers(uow, uow.day)
    assert [(d.pledge_id, d.meals, d.amount, d.remaining, d.area) for d in told] == [
        (made.id, 3, 3 * MEAL, 100_000 - 3 * MEAL, geo.approximate_area(*CHENNAI))]  # fmt: skip
    async with store.uow() as uow:
        assert await pledges.tell_pledgers(uow, uow.day) == []


def test_next_month_keeps_the_day_or_takes_the_months_last() -> None:
    assert pledges.next_month("2026-01-31") == "2026-02-28"
    assert pledges.next_month("2026-12-15") == "2027-01-15"
    assert pledges.next_month("2028-01-30") == "2028-02-29"


def test_terms_must_fit_their_kind() -> None:
    bad = (PledgeTerms(1_000, PledgeKind.LOCATION), PledgeTerms(1_000, PledgeKind.LOCATION, 13.0, 80.0, 700),
           PledgeTerms(1_000, PledgeKind.TIME, start_hour=11), PledgeTerms(1_000, PledgeKind.TIME, start_hour=5, end_hour=5),
           PledgeTerms(1_000, PledgeKind.GENERAL, 13.0, 80.0, 500), PledgeTerms(1_000, PledgeKind.LOCATION, 95.0, 80.0, 500))
    for terms in bad:
        with pytest.raises(PledgeError):
            terms.check()

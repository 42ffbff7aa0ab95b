"""Stateful test (hypothesis): campaigns opened, given to (with repeated keys, too much, too
little, by people without the money), cancelled (by the creator or a stranger), expired and their
placed orders cancelled, in random order over the real services, on SQLite and PostgreSQL. After
every step: no campaign is overfilled, its account holds exactly what its state says, and every
giver's money is conserved (start = balance + given − refunded)."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from core.adapters.sql.board import SqlJobBoard
from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.campaigns import service as campaigns
from core.campaigns.lifecycle import OPEN, CampaignStatus
from core.campaigns.model import campaign_account
from core.ledger.model import DEPOSITS, InsufficientFunds, donor_account, escrow_account, transfer
from core.members.model import Person
from core.orders import service as orders
from core.orders.lifecycle import IllegalTransition, Status
from core.seekers.screening import PassThroughScreener
from tests.clock import FixedClock
from tests.helpers import assert_ledger_invariants, seed_coop

T = TypeVar("T")
FIRST_NOON = datetime(2400, 1, 1, 6, 30, tzinfo=UTC)  # noon in Chennai, far from other tests' days
STARTING = (500_00, 200_00, 30_00, 0)  # paise each giver starts with (the last has nothing)
_runs, _places = itertools.count(), itertools.count()
# Mostly gifts that fit (targets are ₹90-₹110), some that cannot: too little, negative, too much.
AMOUNTS = st.one_of(st.sampled_from([1_000, 2_000, 3_000, 4_500, 5_000]), st.integers(-1_000, 15_000))


class CampaignMachine(RuleBasedStateMachine):
    """Random campaign commands; after each, every campaign's money is checked."""

    url = ""
    spot: tuple[float, float] = (0.0, 0.0)

    def run(self, coro: Awaitable[T]) -> T:
        """Run one coroutine on this run's loop (hypothesis rules are sync)."""
        return self.loop.run_until_complete(coro)

    @initialize()
    def setup(self) -> None:
        """A fresh loop, days of its own, a creator and four givers."""
        from flows import notify

        self.loop = asyncio.new_event_loop()
        self.db = Database(self.url)
        self.clock = FixedClock(FIRST_NOON + timedelta(days=400 * next(_runs)))
        self.store = Store(self.db, self.clock)
        notify.register(self.store.bus)  # campaigns follow their orders through the bus, as in the app
        self.campaign_ids: list[int] = []
        self.keys: list[tuple[str, int, int]] = []  # (key, giver index, amount) of gifts tried
        self.creator, self.givers = self.run(self._people())

    async def _people(self) -> tuple[Person, list[Person]]:
        cls = type(self)
        if cls.spot == (0.0, 0.0):
            cls.spot = (10.0 + next(_places) * 0.5, 78.0)  # a place of this test's own
            await seed_coop(self.store, uuid.uuid4().hex[:8], capacity=1_000, at=cls.spot)
        async with self.store.uow() as uow:
            creator = await uow.people.get_or_create("test", f"c-{uuid.uuid4().hex[:10]}")
            givers = []
            for paise in STARTING:
                person = await uow.people.get_or_create("test", f"g-{uuid.uuid4().hex[:10]}")
                if paise:
                    await uow.ledger.record(transfer("deposit", uuid.uuid4().hex, DEPOSITS, donor_account(person.id), paise))
                givers.append(person)
        return creator, givers

    def teardown(self) -> None:
        """Close the database and the loop."""
        self.run(self.db.dispose())
        self.loop.close()

    def _pick(self, i: int) -> int | None:
        return self.campaign_ids[-1 - i % len(self.campaign_ids)] if self.campaign_ids else None

    @rule(tip=st.sampled_from([0, 1_000, 2_000]))
    def open_campaign(self, tip: int) -> None:
        """The creator asks for a meal at the spot and starts a campaign for it (at lunch: the
        clock moves on to the next noon once the kitchens' hours are past)."""
        now = self.clock.now()
        if now.hour >= 8:
            self.clock.set((now + timedelta(days=1)).replace(hour=6, minute=30))

        async def go() -> None:
            async with self.store.uow() as uow:
                order = await orders.start_order(uow, self.creator, *self.spot, None, PassThroughScreener())
                item = (await orders.meal_options(uow, *self.spot))[0].item_id
                self.campaign_ids.append((await campaigns.start(uow, self.creator, order.id, item, tip)).id)

        self.run(go())

    @rule(i=st.integers(0, 5), who=st.sampled_from([0, 0, 1, 1, 2, 3]), amount=AMOUNTS, anonymous=st.booleans(),
          again=st.booleans())  # fmt: skip
    def give(self, i: int, who: int, amount: int, anonymous: bool, again: bool) -> None:
        """A giver gives any amount (refused when too little, too much or not in their balance);
        sometimes with the key of an earlier gift (a double tap: charged once, or refused)."""
        campaign_id = self._pick(i)
        if campaign_id is None:
            return
        key = uuid.uuid4().hex
        if again and self.keys:
            key, who, amount = self.keys[-1]
        self.keys.append((key, who, amount))

        async def go() -> None:
            async with self.store.uow() as uow:
                await campaigns.give(uow, campaign_id, self.givers[who], amount, anonymous=anonymous, key=key)

        try:
            self.run(go())
        except (campaigns.CampaignError, InsufficientFunds):
            pass

    @rule(i=st.integers(0, 5), stranger=st.booleans())
    def cancel(self, i: int, stranger: bool) -> None:
        """The creator (or a stranger, always refused) cancels a campaign."""
        campaign_id = self._pick(i)
        if campaign_id is None:
            return
        who = self.givers[0] if stranger else self.creator

        async def go() -> None:
            async with self.store.uow() as uow:
                await campaigns.close(uow, campaign_id, "cancel", who, SqlJobBoard(self.db))

        try:
            self.run(go())
        except campaigns.CampaignError as exc:
            assert exc.code != "not_yours" or stranger
        else:
            assert not stranger

    @rule(i=st.integers(0, 5), who=st.sampled_from([0, 1]))
    def give_the_rest(self, i: int, who: int) -> None:
        """A giver gives exactly what a campaign still needs (the gift that meets the target)."""
        campaign_id = self._pick(i)
        if campaign_id is None:
            return

        async def go() -> None:
            async with self.store.uow() as uow:
                campaign = await uow.campaigns.get(campaign_id)
                assert campaign is not None
                await campaigns.give(uow, campaign_id, self.givers[who], campaign.remaining, anonymous=False,
                                     key=uuid.uuid4().hex)  # fmt: skip

        try:
            self.run(go())
        except (campaigns.CampaignError, InsufficientFunds):
            pass

    @rule()
    def time_passes(self) -> None:
        """Two hours pass: the expiry job ends every campaign still short of its target."""
        self.clock.advance(minutes=121)

        async def go() -> None:
            for campaign_id in self.campaign_ids:
                async with self.store.uow() as uow:
                    await campaigns.close(uow, campaign_id, "expire", None, SqlJobBoard(self.db))

        self.run(go())

    @rule(i=st.integers(0, 5))
    def cancel_placed_order(self, i: int) -> None:
        """The creator cancels a placed order before anyone cooks it: every gift goes back."""
        campaign_id = self._pick(i)
        if campaign_id is None:
            return

        async def go() -> None:
            async with self.store.uow() as uow:
                campaign = await uow.campaigns.get(campaign_id)
                assert campaign is not None
                await orders.cancel(uow, campaign.order_id, self.creator, SqlJobBoard(self.db))

        try:
            self.run(go())
        except (IllegalTransition, orders.OrderError):
            pass

    @invariant()
    def money_is_where_the_state_says(self) -> None:
        """Per campaign and per giver, the books agree with the campaign's state."""
        if not hasattr(self, "store"):
            return

        async def check() -> None:
            given = dict.fromkeys(range(len(self.givers)), 0)
            async with self.store.reader() as uow:
                for campaign_id in self.campaign_ids:
                    c = await uow.campaigns.get(campaign_id)
                    assert c is not None
                    gifts = await uow.campaigns.gifts(c.id)
                    held = await uow.ledger.balance(campaign_account(c.id))
                    assert c.raised == sum(g.amount for g in gifts) <= c.target, "overfilled"
                    assert all(g.amount > 0 and 0 <= g.refunded <= g.amount for g in gifts)
                    if c.status in OPEN:
                        assert held == c.raised and not any(g.refunded for g in gifts)
                    elif c.status in (CampaignStatus.EXPIRED, CampaignStatus.CANCELLED, CampaignStatus.REFUNDED):
                        assert held == 0 and all(g.refunded == g.amount for g in gifts), c.status
                    else:  # placed: the whole target sits in the order's escrow
                        order = await uow.orders.get(c.order_id)
                        assert order is not None and order.status is Status.AT_RESTAURANT
                        assert c.raised == c.target and held == 0
                        assert await uow.ledger.balance(escrow_account(c.order_id)) == c.target
                    for g in gifts:
                        index = next(n for n, p in enumerate(self.givers) if p.id == g.person_id)
                        given[index] += g.amount - g.refunded
                for n, person in enumerate(self.givers):
                    assert await uow.ledger.balance(donor_account(person.id)) + given[n] == STARTING[n], person.id

        self.run(check())


def run_machine(url: str, runs: int) -> None:
    """Run the machine `runs` times on one database, then audit the whole ledger and chain."""
    machine = type("CampaignMachineOn", (CampaignMachine,), {"url": url, "spot": (0.0, 0.0)})
    run_state_machine_as_test(machine, settings=settings(  # type: ignore[arg-type]
        max_examples=runs, stateful_step_count=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]))

    async def audit() -> None:
        db = Database(url)
        await assert_ledger_invariants(Store(db, FixedClock(FIRST_NOON)))
        await db.dispose()

    asyncio.run(audit())


def test_campaign_money_is_conserved_on_sqlite(sqlite_template: Path, tmp_path: Path) -> None:
    shutil.copy(sqlite_template, tmp_path / "machine.db")
    run_machine(f"sqlite:///{tmp_path / 'machine.db'}", runs=25)


@pytest.mark.usefixtures("pg_url")
def test_campaign_money_is_conserved_on_postgresql(pg_fresh_url: str) -> None:
    run_machine(pg_fresh_url, runs=12)

"""Stateful test (hypothesis): pledges made, drawn on, refunded, paused, cancelled and renewed in
random order over the real services, on SQLite and PostgreSQL; pledged money is conserved:
put in = used (net of refunds) + given back + remaining, and never negative."""

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
from core.funding import pledges
from core.funding.pledge_model import PledgeError, PledgeKind, PledgeStatus, PledgeTerms
from core.ledger.model import DEPOSITS, InsufficientFunds, donor_account, transfer
from core.members.model import Person
from core.orders import service as orders
from core.orders.funding import Source
from core.orders.lifecycle import IllegalTransition, Status
from core.seekers.screening import PassThroughScreener
from tests.clock import FixedClock
from tests.helpers import assert_ledger_invariants, seed_coop

T = TypeVar("T")
FIRST_NOON = datetime(2300, 1, 1, 6, 30, tzinfo=UTC)
_runs, _places = itertools.count(), itertools.count()

kinds = st.sampled_from(list(PledgeKind))
amounts = st.integers(1_000, 40_000)


class PledgeMachine(RuleBasedStateMachine):
    """Random pledge and order commands; after each, every pledge's figures are checked."""

    url = ""
    spot: tuple[float, float] = (0.0, 0.0)

    def run(self, coro: Awaitable[T]) -> T:
        """Run one coroutine on this run's loop (hypothesis rules are sync)."""
        return self.loop.run_until_complete(coro)

    @initialize()
    def setup(self) -> None:
        """A fresh loop, a day range of its own, a pledger with money and two requesters."""
        self.loop = asyncio.new_event_loop()
        self.db = Database(self.url)
        self.clock = FixedClock(FIRST_NOON + timedelta(days=400 * next(_runs)))
        self.store = Store(self.db, self.clock)
        self.pledge_ids: list[int] = []
        self.order_ids: list[int] = []
        self.people = self.run(self._people())

    async def _people(self) -> list[Person]:
        cls = type(self)
        if cls.spot == (0.0, 0.0):
            n = next(_places)
            cls.spot = (9.0 + n * 0.5, 77.0)  # a place of this test's own
            await seed_coop(self.store, uuid.uuid4().hex[:8], capacity=1_000, at=cls.spot)
        out = []
        async with self.store.uow() as uow:
            for rupees in (3_000, 0, 100):
                person = await uow.people.get_or_create("test", f"m-{uuid.uuid4().hex[:10]}")
                if rupees:
                    await uow.ledger.record(transfer("deposit", uuid.uuid4().hex, DEPOSITS, donor_account(person.id), rupees * 100))
                out.append(person)
        return out

    def teardown(self) -> None:
        """Cancel what is left so later runs (sharing the database) start with no live pledge."""
        async def cancel_all() -> None:
            for pid in self.pledge_ids:
                async with self.store.uow() as uow:
                    pledge = await uow.pledges.get(pid)
                    if pledge and pledge.status is not PledgeStatus.CANCELLED:
                        await pledges.cancel_pledge(uow, pid, pledge.person_id, "test")
            await self.db.dispose()

        self.run(cancel_all())
        self.loop.close()

    @rule(kind=kinds, amount=amounts, renew=st.booleans(), who=st.sampled_from([0, 0, 2]))
    def make(self, kind: PledgeKind, amount: int, renew: bool, who: int) -> None:
        """Someone pledges (some of it may not be in their balance)."""
        located = kind in (PledgeKind.LOCATION, PledgeKind.LOCATION_TIME)
        timed = kind in (PledgeKind.TIME, PledgeKind.LOCATION_TIME)
        terms = PledgeTerms(amount, kind, *(self.spot if located else (None, None)), 1_000 if located else None,
                            *((11, 15) if timed else (None, None)), auto_renew=renew)  # fmt: skip
        person = self.people[who]

        async def go() -> None:
            async with self.store.uow() as uow:
                self.pledge_ids.append((await pledges.make_pledge(uow, person.id, terms, person.actor)).id)

        try:
            self.run(go())
        except InsufficientFunds:
            pass

    @rule(who=st.sampled_from([1, 2]), tip=st.sampled_from([0, 1_000]), hour=st.sampled_from([0, 5]))
    def order(self, who: int, tip: int, hour: int) -> None:
        """A requester's order at the spot, at lunch (hour 0) or in the evening (hour 5), using pledges."""
        donor = self.people[who]
        self.clock.set(self.clock.now().replace(hour=6 + hour))

        async def go() -> None:
            async with self.store.uow() as uow:
                order = await orders.start_order(uow, donor, *self.spot, None, PassThroughScreener())
            self.order_ids.append(order.id)
            async with self.store.uow() as uow:
                item = (await orders.meal_options(uow, *self.spot))[0].item_id
                await orders.fund_and_send(uow, order.id, donor, item, tip, use_pledges=True)

        try:
            self.run(go())
        except (InsufficientFunds, orders.PledgesTaken):
            pass

    @rule(i=st.integers(0, 5))
    def cancel_order(self, i: int) -> None:
        """A requester cancels one of the orders (its money goes back to each source)."""
        if not self.order_ids:
            return
        order_id = self.order_ids[-1 - i % len(self.order_ids)]

        async def go() -> None:
            async with self.store.uow() as uow:
                order = await uow.orders.get(order_id)
                donor = await uow.people.get(order.donor_id if order else 0)
                assert donor is not None
                await orders.cancel(uow, order_id, donor, SqlJobBoard(self.db))

        try:
            self.run(go())
        except (IllegalTransition, orders.OrderError):
            pass

    @rule(i=st.integers(0, 5), action=st.sampled_from(["cancel", "pause", "resume"]), stranger=st.booleans())
    def change(self, i: int, action: str, stranger: bool) -> None:
        """The owner (or a stranger, always refused) cancels, pauses or resumes a pledge."""
        if not self.pledge_ids:
            return
        pid = self.pledge_ids[-1 - i % len(self.pledge_ids)]

        async def go() -> None:
            async with self.store.uow() as uow:
                pledge = await uow.pledges.get(pid)
                assert pledge is not None
                who = self.people[1].id if stranger else pledge.person_id
                if action == "cancel":
                    await pledges.cancel_pledge(uow, pid, who, "test")
                else:
                    await pledges.pause_pledge(uow, pid, who, "test", paused=action == "pause")

        try:
            self.run(go())
        except PledgeError as exc:
            assert not stranger or exc.code in ("not_yours", "cancelled")
        else:
            assert not stranger

    @rule()
    def next_month(self) -> None:
        """A month passes: the renewal job runs."""
        self.clock.advance(days=31)

        async def go() -> None:
            async with self.store.uow() as uow:
                await pledges.renew_due(uow)

        self.run(go())

    @invariant()
    def conserved(self) -> None:
        """Per pledge: remaining = its ledger balance ≥ 0 and put in = used − refunded + returned + remaining."""
        if not hasattr(self, "store"):
            return

        async def check() -> None:
            async with self.store.reader() as uow:
                totals = await uow.pledges.totals(self.pledge_ids)
                used = dict.fromkeys(self.pledge_ids, 0)
                for order_id in self.order_ids:
                    for c in await uow.contributions.for_order(order_id):
                        if c.source is Source.PLEDGE:
                            pid = int(c.account.split(":")[1])
                            assert pid in used, f"order {order_id} drew on pledge {pid} of another run"
                            used[pid] += c.amount - c.refunded
                for pid, (remaining, total_in, returned) in totals.items():
                    assert remaining == await uow.ledger.balance(f"pledge:{pid}") >= 0
                    assert total_in == used[pid] + returned + remaining, pid
                for order_id in self.order_ids:
                    order = await uow.orders.get(order_id)
                    assert order is not None
                    held = sum(c.held for c in await uow.contributions.for_order(order_id))
                    assert held == (order.total if order.status is Status.AT_RESTAURANT else 0)

        self.run(check())


def run_machine(url: str, runs: int) -> None:
    """Run the machine `runs` times on one database, then audit the whole ledger and chain."""
    machine = type("PledgeMachineOn", (PledgeMachine,), {"url": url, "spot": (0.0, 0.0)})
    run_state_machine_as_test(machine, settings=settings(  # type: ignore[arg-type]
        max_examples=runs, stateful_step_count=15, deadline=None, suppress_health_check=[HealthCheck.too_slow]))

    async def audit() -> None:
        db = Database(url)
        await assert_ledger_invariants(Store(db, FixedClock(FIRST_NOON)))
        await db.dispose()

    asyncio.run(audit())


def test_pledged_money_is_conserved_on_sqlite(sqlite_template: Path, tmp_path: Path) -> None:
    shutil.copy(sqlite_template, tmp_path / "machine.db")
    run_machine(f"sqlite:///{tmp_path / 'machine.db'}", runs=25)


@pytest.mark.usefixtures("pg_url")
def test_pledged_money_is_conserved_on_postgresql(pg_fresh_url: str) -> None:
    run_machine(pg_fresh_url, runs=12)

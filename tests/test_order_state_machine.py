"""Stateful test (hypothesis): random interleavings of order commands over the real services and SQL
store, on SQLite and PostgreSQL, checked against a small model after every step."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import func, select

from core.adapters.sql.board import SqlJobBoard
from core.adapters.sql.db import Database
from core.adapters.sql.schema import capacity_days, events, postings
from core.adapters.sql.schema import orders as orders_table
from core.adapters.sql.uow import Store, UnitOfWork
from core.ledger import service as money
from core.ledger.chain import ChainedEvent, link_hash
from core.ledger.model import BP, DEPOSITS, INFRA, PAYOUTS, POOL, InsufficientFunds, LedgerConflict, is_guarded, transfer
from core.members.model import Person, Restaurant, Worker
from core.orders import service as orders
from core.orders.lifecycle import IllegalTransition, Status
from core.seekers.screening import PassThroughScreener
from core.shared.clock import local_day
from tests.clock import FixedClock
from tests.helpers import assert_ledger_invariants, seed_coop

T = TypeVar("T")
CAPACITY = 3  # meals a kitchen pledges a day: small, so full kitchens and declines happen
DEPOSITS_AT_START = (1_000_000, 15_000, 0)  # one rich donor, one poor, one with nothing yet
FIRST_NOON = datetime(2240, 1, 1, 6, 30, tzinfo=UTC)  # noon in Chennai, years from any other test's days
DAYS_PER_RUN = 40  # more than the steps of one run, so runs never share a business day

# The PostgreSQL database is shared by the session: each test's cooperative sits at a place of its
# own (out of range of all others) and each run works on business days of its own.
_runs, _places = itertools.count(), itertools.count()
LATEST = st.integers(0, 3)  # which of the latest orders a command is about
# The model's own reading of the rules (not the lifecycle module's tables, which mutations change).
BEFORE_PICKUP = frozenset({Status.SCREENED, Status.AT_RESTAURANT, Status.ACCEPTED, Status.ON_BOARD, Status.CLAIMED})
HOLDING_CAPACITY = frozenset({Status.AT_RESTAURANT, Status.ACCEPTED, Status.ON_BOARD, Status.CLAIMED, Status.PICKED_UP})


@dataclass(frozen=True)
class Seeded:
    """The cooperative every run of one test works with."""

    kitchens: list[Restaurant]  # nearest to the seeker's spot first
    workers: list[Worker]
    donors: list[Person]
    admin: Person
    spot: tuple[float, float]  # where seekers are fed


async def set_balance(uow: UnitOfWork, account: str, target: int) -> None:
    """Bring an account to `target` paise with a deposit from outside or a payout."""
    held = await uow.ledger.balance(account)
    if held != target:
        source, dest = (DEPOSITS, account) if held < target else (account, PAYOUTS)
        await uow.ledger.record(transfer("setup", uuid.uuid4().hex, source, dest, abs(target - held)), "admin")


@dataclass
class ModelOrder:
    """What the model expects of one order."""

    id: int
    donor: int  # index into the machine's donors
    status: Status
    restaurant: int | None = None  # index into the cooperative's kitchens
    meal_price: int = 0
    tip: int = 0
    escrow: int = 0
    worker: int | None = None  # index into the cooperative's workers
    tried: list[int] = field(default_factory=list)
    day: str | None = None  # capacity day: when its latest kitchen reserved a meal for it
    held: tuple[int, str] | None = None  # (kitchen, day) of the capacity unit it holds
    completed: tuple[int, str] | None = None  # (kitchen, day) of the meal it delivered


class OrderMachine(RuleBasedStateMachine):
    """Orders of several donors moved at random through the real services; the model checks every step."""

    url: str = ""
    coop: Seeded | None = None  # seeded by the first run

    # --- plumbing: a loop of its own per run, since hypothesis rules are sync ---------------------

    def run(self, coro: Awaitable[T]) -> T:
        """Run one coroutine on this run's event loop."""
        return self.loop.run_until_complete(coro)

    def expect_refusal(self, call: Callable[[], Awaitable[Any]], error: type[Exception], code: str | None = None) -> None:
        """Run a command that must be refused with `error` (and OrderError `code`)."""
        with pytest.raises(error) as refused:
            self.run(call())
        if code is not None:
            assert isinstance(refused.value, orders.OrderError) and refused.value.code == code, refused.value

    @initialize()
    def setup(self) -> None:
        """Fresh days and a fresh loop; the cooperative's donors and the pool set to known balances."""
        n = next(_runs)
        self.loop = asyncio.new_event_loop()
        self.db = Database(self.url)
        self.clock = FixedClock(FIRST_NOON + timedelta(days=DAYS_PER_RUN * n))
        self.store = Store(self.db, self.clock)
        self.board = SqlJobBoard(self.db)
        self.run(self._start())

    async def _start(self) -> None:
        cls = type(self)
        if cls.coop is None:  # seeding once per test keeps a run cheap; every run has days of its own
            cls.coop = await self._seed()
        coop = cls.coop
        self.kitchens, self.workers, self.donors, self.admin, self.spot = (
            coop.kitchens, coop.workers, coop.donors, coop.admin, coop.spot
        )
        async with self.store.uow() as uow:
            params = await uow.params.current()
            self.balances = {self.donor_acct(i): amount for i, amount in enumerate(DEPOSITS_AT_START)}
            self.balances[POOL] = 0  # the pool is shared on PostgreSQL: the model must know what it holds
            for account, amount in self.balances.items():
                await set_balance(uow, account, amount)
            for i in range(len(self.kitchens)):
                self.balances[self.kitchen_acct(i)] = await uow.ledger.balance(self.kitchen_acct(i))
            for i in range(len(self.workers)):
                self.balances[self.worker_acct(i)] = await uow.ledger.balance(self.worker_acct(i))
            self.infra_at_start = await uow.ledger.balance(INFRA)
        async with self.store.reader() as uow:
            self.last_seq, self.last_hash = await uow.chain.head()
            # Earlier runs' transactions were checked by those runs; the whole ledger once more at the end.
            self.last_tx = (await uow.conn.execute(select(func.coalesce(func.max(postings.c.tx_id), 0)))).scalar_one()
        self.fee, self.minimum = params.delivery_fee, params.daily_minimum
        worker_bp, pool_bp, infra_bp = params.fee_shares
        assert worker_bp + pool_bp + infra_bp == BP
        self.pool_share, self.infra_share = self.fee * pool_bp // BP, self.fee * infra_bp // BP
        self.worker_share = self.fee - self.pool_share - self.infra_share  # the rounding remainder too
        self.infra_paid = 0
        self.orders: list[ModelOrder] = []
        self.days = [self.day]
        self.earned: dict[tuple[int, str], int] = {}  # (worker, day) -> settled earnings
        self.deposit_refs: list[tuple[int, str, int]] = []

    async def _seed(self) -> Seeded:
        """Two kitchens near a place of their own, two workers, three donors."""
        n, tag = next(_places), uuid.uuid4().hex[:8]
        spot = (20.0 + 0.2 * (n % 300), -60.0 - 0.2 * (n // 300))  # 0.2° ≈ 22 km apart
        coop = await seed_coop(self.store, tag, capacity=CAPACITY, n_workers=2, at=spot)
        async with self.store.uow() as uow:
            extra = [await uow.people.get_or_create("test", f"{tag}-donor-{i}") for i in (2, 3)]
        return Seeded(coop.restaurants, coop.workers, [coop.donor, *extra], coop.admin, spot)

    def teardown(self) -> None:
        """Close this run's engine and loop (the whole chain is verified once per test, after all runs)."""
        if hasattr(self, "loop"):
            try:
                self.run(self.db.dispose())
            finally:
                self.loop.close()

    # --- small helpers ------------------------------------------------------------------------------

    @property
    def day(self) -> str:
        return local_day(self.clock.now())

    def donor_acct(self, i: int) -> str:
        return f"donor:{self.donors[i].id}"

    def kitchen_acct(self, i: int) -> str:
        return f"restaurant:{self.kitchens[i].id}"

    def worker_acct(self, i: int) -> str:
        return f"worker:{self.workers[i].id}"

    def move(self, account: str, amount: int) -> None:
        self.balances[account] = self.balances.get(account, 0) + amount

    def in_use(self, kitchen: int, day: str) -> int:
        """Capacity units the model sees taken at a kitchen on a day (held or delivered)."""
        return sum((o.held == (kitchen, day)) + (o.completed == (kitchen, day)) for o in self.orders)

    def pick(self, i: int) -> ModelOrder:
        """One of the latest orders (those are the likeliest still to be moving)."""
        return self.orders[-1 - i % len(self.orders)]

    async def _deposit(self, donor: int, amount: int, ref: str) -> None:
        async with self.store.uow() as uow:
            await money.record_deposit(uow, self.donors[donor].id, amount, ref, self.admin.actor, "cash")
        self.move(self.donor_acct(donor), amount)
        self.deposit_refs.append((donor, ref, amount))

    # --- rules ------------------------------------------------------------------------------------

    @rule(donor=st.integers(0, 2), amount=st.integers(1, 60_000), same_ref_again=st.booleans())
    def deposit(self, donor: int, amount: int, same_ref_again: bool) -> None:
        """A donor's cash is recorded; the same deposit again (same ref and amount) credits nothing a
        second time, and a reused ref with another amount is refused loudly (nothing credited)."""
        if not (same_ref_again and self.deposit_refs):
            self.run(self._deposit(donor, amount, f"dep-{uuid.uuid4().hex}"))
            return
        donor, ref, first = self.deposit_refs[-1]

        async def again(value: int) -> None:
            async with self.store.uow() as uow:
                await money.record_deposit(uow, self.donors[donor].id, value, ref, self.admin.actor, "cash")

        self.run(again(first))
        if amount != first:
            with pytest.raises(LedgerConflict):
                self.run(again(amount))

    @rule(amount=st.integers(1, 80_000))
    def give_to_the_pool(self, amount: int) -> None:
        """Money given straight to the guarantee pool."""

        async def give() -> None:
            async with self.store.uow() as uow:
                await uow.ledger.record(transfer("deposit", f"pool-{uuid.uuid4().hex}", DEPOSITS, POOL, amount), "admin")

        self.run(give())
        self.move(POOL, amount)

    @rule(
        donor=st.integers(0, 2),
        kitchen=st.integers(0, 1),
        item=st.integers(0, 1),
        tip=st.sampled_from([0, 1, 999, 10_000, 47_601, 60_000]),  # 47 601 + 2 400 is one paisa short of ₹500
    )
    def order_a_meal(self, donor: int, kitchen: int, item: int, tip: int) -> None:
        """A donor starts an order and funds it for a kitchen's meal."""
        person, menu_item = self.donors[donor], self.kitchens[kitchen].menu[item]

        async def start() -> int:
            async with self.store.uow() as uow:
                return (await orders.start_order(uow, person, *self.spot, None, PassThroughScreener())).id

        model = ModelOrder(self.run(start()), donor, Status.SCREENED)
        self.orders.append(model)
        total = menu_item.price + self.fee + tip

        async def fund() -> None:
            async with self.store.uow() as uow:
                await orders.fund_and_send(uow, model.id, person, menu_item.id, tip)

        if self.in_use(kitchen, self.day) >= CAPACITY:
            self.expect_refusal(fund, orders.OrderError, "meal_unavailable")
        elif self.balances[self.donor_acct(donor)] < total:
            self.expect_refusal(fund, InsufficientFunds)
        else:
            self.run(fund())
            model.status, model.restaurant, model.meal_price, model.tip = Status.AT_RESTAURANT, kitchen, menu_item.price, tip
            model.escrow, model.tried, model.held, model.day = total, [kitchen], (kitchen, self.day), self.day
            self.move(self.donor_acct(donor), -total)

    def kitchen_refusal(self, order: ModelOrder, kitchen: int) -> str | None:
        """The OrderError code a kitchen's accept/reject must get, or None when it may act."""
        if kitchen in order.tried and (order.restaurant != kitchen or order.status is Status.DECLINED):
            return "moved_on"  # the order went on without this kitchen's answer
        if order.restaurant != kitchen:
            return "not_yours"
        if order.status is not Status.AT_RESTAURANT:
            return f"already_{order.status.value}"
        return None

    def accept(self, order: ModelOrder, kitchen: int) -> None:
        """A kitchen accepts an order; the job goes on the board."""

        async def act() -> None:
            async with self.store.uow() as uow:
                await orders.accept(uow, order.id, self.kitchens[kitchen], self.board, "kitchen")

        if (code := self.kitchen_refusal(order, kitchen)) is not None:
            self.expect_refusal(act, orders.OrderError, code)
            return
        self.run(act())
        order.status = Status.ON_BOARD

    @precondition(lambda self: self.orders)
    @rule(which=LATEST, wrong_kitchen=st.booleans())
    def reject(self, which: int, wrong_kitchen: bool) -> None:
        """A kitchen rejects an order: the next kitchen gets it (price difference refunded), or all is refunded."""
        order = self.pick(which)
        kitchen = (order.restaurant or 0) ^ wrong_kitchen  # an unsent order belongs to no kitchen

        async def act() -> None:
            async with self.store.uow() as uow:
                await orders.reject(uow, order.id, self.kitchens[kitchen], "kitchen")

        if (code := self.kitchen_refusal(order, kitchen)) is not None:
            self.expect_refusal(act, orders.OrderError, code)
            return
        self.run(act())
        order.held = None
        refund = self.reroute(order)
        order.escrow -= refund
        self.move(self.donor_acct(order.donor), refund)

    def reroute(self, order: ModelOrder) -> int:
        """Move the order to the nearest untried kitchen with room and a meal within the price paid,
        or decline it; return the paise refunded."""
        for k in range(len(self.kitchens)):  # nearest first
            prices = [m.price for m in self.kitchens[k].menu if m.price <= order.meal_price]
            if k in order.tried or not prices or self.in_use(k, self.day) >= CAPACITY:
                continue
            refund = order.meal_price - max(prices)
            order.restaurant, order.meal_price, order.held, order.day = k, max(prices), (k, self.day), self.day
            order.tried.append(k)
            return refund
        order.status = Status.DECLINED
        return order.escrow

    def claim(self, order: ModelOrder, worker: int) -> None:
        """A worker taps a job: the first claim wins, a double tap by the winner still wins."""

        async def act() -> bool:
            async with self.store.uow() as uow:
                return (await orders.claim(uow, order.id, self.workers[worker], self.board, "worker")).won

        won = self.run(act())
        if order.status is Status.ON_BOARD:
            assert won
            order.status, order.worker = Status.CLAIMED, worker
        else:
            assert won == (order.status is Status.CLAIMED and order.worker == worker)

    def worker_refusal(self, order: ModelOrder, worker: int, needed: Status) -> str | None:
        """The OrderError code a worker's pickup/deliver must get, or None when they may act."""
        if order.worker != worker:
            return "not_yours"
        if order.status is not needed:
            return f"already_{order.status.value}"
        return None

    def pickup(self, order: ModelOrder, worker: int) -> None:
        """The worker who won the claim collects the meal."""

        async def act() -> None:
            async with self.store.uow() as uow:
                await orders.pickup(uow, order.id, self.workers[worker], self.board, "worker")

        if (code := self.worker_refusal(order, worker, Status.CLAIMED)) is not None:
            self.expect_refusal(act, orders.OrderError, code)
            return
        self.run(act())
        order.status = Status.PICKED_UP

    def deliver(self, order: ModelOrder, worker: int) -> None:
        """The worker hands over the meal: capacity completed, escrow settled to everyone."""

        async def act() -> None:
            async with self.store.uow() as uow:
                delivered = await orders.deliver(uow, order.id, self.workers[worker], "photo", *self.spot, "worker")
            assert delivered.settle_after is not None
            # The dispute window passes and the scheduler settles (same day: the machine's clock is midday).
            later = Store(self.store.db, FixedClock(datetime.fromisoformat(delivered.settle_after)))
            async with later.uow() as uow:
                assert await orders.settle(uow, order.id) is not None

        if (code := self.worker_refusal(order, worker, Status.PICKED_UP)) is not None:
            self.expect_refusal(act, orders.OrderError, code)
            return
        self.run(act())
        assert order.restaurant is not None
        order.status, order.completed, order.held = Status.SETTLED, order.held, None
        self.move(self.kitchen_acct(order.restaurant), order.meal_price)
        self.move(self.worker_acct(worker), self.worker_share + order.tip)
        self.move(POOL, self.pool_share)
        self.infra_paid += self.infra_share
        assert order.escrow == order.meal_price + self.fee + order.tip
        order.escrow = 0
        key = (worker, self.day)
        self.earned[key] = self.earned.get(key, 0) + self.worker_share + order.tip

    def live(self) -> list[ModelOrder]:
        """Orders the happy path can still move on."""
        return [o for o in self.orders if o.status in HOLDING_CAPACITY]

    def move_on(self, which: int, worker: int) -> None:
        """Take one of the latest live orders one step along the happy path, by the right hands."""
        live = self.live()
        order = live[-1 - which % len(live)]
        assert order.restaurant is not None
        if order.status is Status.AT_RESTAURANT:
            self.accept(order, order.restaurant)
        elif order.status is Status.ON_BOARD:
            self.claim(order, worker)
        elif order.status is Status.CLAIMED:
            self.pickup(order, order.worker if order.worker is not None else worker)
        else:
            self.deliver(order, order.worker if order.worker is not None else worker)

    # Rules are picked uniformly: three names for the happy path make deliveries common in 20 steps.
    @precondition(lambda self: self.live())
    @rule(which=LATEST, worker=st.integers(0, 1))
    def move_an_order_on(self, which: int, worker: int) -> None:
        """Accept, claim, pick up or deliver (whichever is next) one of the latest live orders."""
        self.move_on(which, worker)

    @precondition(lambda self: self.live())
    @rule(which=LATEST, worker=st.integers(0, 1))
    def move_an_order_on_again(self, which: int, worker: int) -> None:
        """The same as move_an_order_on."""
        self.move_on(which, worker)

    @precondition(lambda self: self.live())
    @rule(which=LATEST, worker=st.integers(0, 1))
    def move_an_order_on_once_more(self, which: int, worker: int) -> None:
        """The same as move_an_order_on."""
        self.move_on(which, worker)

    @precondition(lambda self: self.orders)
    @rule(which=LATEST, command=st.sampled_from(["accept", "claim", "pickup", "deliver"]), actor=st.integers(0, 1))
    def stray_command(self, which: int, command: str, actor: int) -> None:
        """Any kitchen or worker sends any command about any order: done if allowed, else refused."""
        order = self.pick(which)
        {"accept": self.accept, "claim": self.claim, "pickup": self.pickup, "deliver": self.deliver}[command](order, actor)

    @precondition(lambda self: self.orders)
    @rule(which=LATEST, other_donor=st.booleans())
    def cancel(self, which: int, other_donor: bool) -> None:
        """A donor stops an order before pickup: all escrow refunded, capacity and board released."""
        order = self.pick(which)
        donor = (order.donor + 1) % len(self.donors) if other_donor else order.donor

        async def act() -> int:
            async with self.store.uow() as uow:
                return (await orders.cancel(uow, order.id, self.donors[donor], self.board))[1]

        if donor != order.donor:
            self.expect_refusal(act, orders.OrderError, "not_yours")
        elif order.status not in BEFORE_PICKUP:
            self.expect_refusal(act, IllegalTransition)
        else:
            assert self.run(act()) == order.escrow
            self.move(self.donor_acct(order.donor), order.escrow)
            order.status, order.escrow, order.held = Status.CANCELLED, 0, None

    @rule()
    def end_of_day(self) -> None:
        """The day's top-up runs (twice: the second pays nothing), then the next day begins."""
        day = self.day
        needs = {w: self.minimum - e for (w, d), e in self.earned.items() if d == day and 0 < e < self.minimum}
        pool = self.balances[POOL]

        async def top_up() -> dict[int, int]:
            async with self.store.uow() as uow:
                return await money.daily_minimum_topup(uow, day)

        paid = {next(i for i, w in enumerate(self.workers) if w.id == wid): v for wid, v in self.run(top_up()).items()}
        assert self.run(top_up()) == {}
        total = sum(needs.values())
        if total <= pool:
            assert paid == {w: v for w, v in needs.items() if v > 0}
        else:  # short: the pool is paid out exactly, pro rata (floor, plus at most one paisa each)
            assert sum(paid.values()) == pool
            for w, need in needs.items():
                assert need * pool // total <= paid.get(w, 0) <= min(need, need * pool // total + 1)
        for w, v in paid.items():
            self.move(self.worker_acct(w), v)
        self.move(POOL, -sum(paid.values()))
        self.clock.advance(days=1)
        self.days.append(self.day)

    # --- invariants -------------------------------------------------------------------------------

    @invariant()
    def the_database_agrees_with_the_model(self) -> None:
        """Balances, orders, capacity, board and chain are exactly what the model expects."""
        self.run(self._check())

    async def _check(self) -> None:
        async with self.store.reader() as uow:
            await self._check_ledger(uow)
            await self._check_orders(uow)
            await self._check_capacity(uow)
            await self._check_chain(uow)
            await self._check_board(uow)

    async def _check_ledger(self, uow: UnitOfWork) -> None:
        """Every new transaction balances, no real-money account is below zero, each balance is the model's."""
        p = postings.c
        new = await uow.conn.execute(select(p.tx_id, func.sum(p.amount)).where(p.tx_id > self.last_tx).group_by(p.tx_id))
        sums = {tx_id: int(total) for tx_id, total in new}
        assert {t: v for t, v in sums.items() if v != 0} == {}, "unbalanced transactions"
        self.last_tx = max(sums, default=self.last_tx)  # balanced one by one, so balanced overall
        escrows = {f"escrow:order:{o.id}": o.escrow for o in self.orders}
        accounts = [*self.balances, *escrows, INFRA]
        rows = await uow.conn.execute(select(p.account, func.sum(p.amount)).where(p.account.in_(accounts)).group_by(p.account))
        held = {a: 0 for a in accounts} | {a: int(b) for a, b in rows}
        assert {a: b for a, b in held.items() if is_guarded(a) and b < 0} == {}, "a real-money account is below zero"
        assert {a: held[a] for a in self.balances} == self.balances
        assert {a: held[a] for a in escrows} == escrows
        assert held[INFRA] == self.infra_at_start + self.infra_paid

    async def _check_orders(self, uow: UnitOfWork) -> None:
        """Status, kitchen, price, worker and capacity day of every order are the model's."""
        c = orders_table.c
        rows = await uow.conn.execute(
            select(c.id, c.status, c.restaurant_id, c.meal_price, c.worker_id, c.capacity_day)
            .where(c.id.in_([o.id for o in self.orders]))
        )  # fmt: skip
        stored = {r.id: (Status(r.status), r.restaurant_id, r.meal_price, r.worker_id, r.capacity_day) for r in rows}
        expected = {
            o.id: (
                o.status,
                self.kitchens[o.restaurant].id if o.restaurant is not None else None,
                o.meal_price,
                self.workers[o.worker].id if o.worker is not None else None,
                o.day,
            )
            for o in self.orders
        }
        assert stored == expected

    async def _check_capacity(self, uow: UnitOfWork) -> None:
        """reserved = orders holding a unit, completed = orders delivered, per kitchen and day."""
        c = capacity_days.c
        ids = {k.id: i for i, k in enumerate(self.kitchens)}
        rows = await uow.conn.execute(
            select(c.restaurant_id, c.day, c.reserved, c.completed).where(c.restaurant_id.in_(ids), c.day.in_(self.days))
        )
        seen = {(ids[r.restaurant_id], r.day): (r.reserved, r.completed) for r in rows}
        for k in range(len(self.kitchens)):
            for day in self.days:
                held = sum(o.held == (k, day) for o in self.orders)
                done = sum(o.completed == (k, day) for o in self.orders)
                assert seen.get((k, day), (0, 0)) == (held, done), (k, day)
        assert all(o.held is None for o in self.orders if o.status not in HOLDING_CAPACITY)

    async def _check_chain(self, uow: UnitOfWork) -> None:
        """The events appended since the last step link onto the chain's head."""
        rows = (await uow.conn.execute(select(events).where(events.c.seq > self.last_seq).order_by(events.c.seq))).all()
        for r in rows:
            ev = ChainedEvent(r.seq, r.type, r.occurred_at, r.actor, json.loads(r.data), r.prev_hash, r.hash)
            assert (ev.seq, ev.prev_hash) == (self.last_seq + 1, self.last_hash)
            assert link_hash(ev.prev_hash, ev.body()) == ev.hash
            self.last_seq, self.last_hash = ev.seq, ev.hash
        assert await uow.chain.head() == (self.last_seq, self.last_hash)

    async def _check_board(self, uow: UnitOfWork) -> None:
        """On the board: the orders on it, unclaimed or claimed by their worker."""
        mine = {o.id for o in self.orders}
        entries = {e.job.order_id: e.claimed_by for e in await self.board.entries() if e.job.order_id in mine}
        expected = {o.id: None for o in self.orders if o.status is Status.ON_BOARD}
        expected |= {o.id: self.workers[o.worker].id for o in self.orders if o.status is Status.CLAIMED and o.worker is not None}
        assert entries == expected


def run_machine(url: str, runs: int) -> None:
    """Run the order machine `runs` times against one database, then verify its whole ledger and chain."""
    machine = type("OrderMachineOn", (OrderMachine,), {"url": url, "coop": None})
    machine_settings = settings(
        max_examples=runs, stateful_step_count=20, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    run_state_machine_as_test(machine, settings=machine_settings)  # type: ignore[arg-type]
    asyncio.run(verify_all(url))


async def verify_all(url: str) -> None:
    """Every transaction balances and the chain verifies from its first event."""
    db = Database(url)
    try:
        await assert_ledger_invariants(Store(db, FixedClock(FIRST_NOON)))
    finally:
        await db.dispose()


def test_random_order_interleavings_keep_money_capacity_and_chain_exact_on_sqlite(
    sqlite_template: Path, tmp_path: Path
) -> None:
    path = tmp_path / "machine.db"
    shutil.copy(sqlite_template, path)
    run_machine(f"sqlite:///{path}", runs=25)


@pytest.mark.postgres
def test_random_order_interleavings_keep_money_capacity_and_chain_exact_on_postgres(pg_url: str) -> None:
    # Fewer runs: each statement is a network round trip here (about 5x SQLite's cost per step).
    run_machine(pg_url, runs=12)

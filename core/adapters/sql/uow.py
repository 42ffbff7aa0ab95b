"""Unit of work: one transaction, its repositories, its events chained at commit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable
from contextlib import asynccontextmanager
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core import ports
from core.adapters.sql.campaigns_repo import CampaignRepo
from core.adapters.sql.cards_repo import CardPaymentRepo
from core.adapters.sql.checkpoints_repo import CheckpointRepo, CommitmentRepo, SubscriptionRepo
from core.adapters.sql.db import Database
from core.adapters.sql.disputes_repo import DisputeRepo
from core.adapters.sql.funding_repo import ContributionRepo
from core.adapters.sql.governance_repo import GovernanceRepo, RatingRepo
from core.adapters.sql.identity_repo import IdentityRepo
from core.adapters.sql.ledger_repo import ChainRepo, LedgerRepo, ParamRepo
from core.adapters.sql.messaging_repo import (
    ConversationRepo,
    InboxRepo,
    JobRunRepo,
    OutboxRepo,
    PhotoRepo,
)
from core.adapters.sql.orders_repo import OrderRepo, TimeoutRepo
from core.adapters.sql.payments_repo import PaymentsRepo
from core.adapters.sql.people_repo import PeopleRepo, RestaurantRepo, WorkerRepo
from core.adapters.sql.pledges_repo import PledgeRepo
from core.adapters.sql.pledges_schema import pledges
from core.adapters.sql.privacy_repo import PrivacyRepo
from core.adapters.sql.prompts_repo import PromptRepo
from core.adapters.sql.schema import people, prompts, restaurants, workers
from core.adapters.sql.screening_repo import ScreeningRepo
from core.ledger.params import Params
from core.shared.bus import MessageBus
from core.shared.clock import Clock, local_day
from core.shared.events import DomainEvent

log = logging.getLogger(__name__)

AfterCommit = Callable[[], Awaitable[None]]


class UnitOfWork:
    """Repositories sharing one transaction; events are collected and chained at commit."""

    def __init__(self, conn: AsyncConnection, at: datetime) -> None:
        self.conn = conn
        self.at = at
        self.now = at.isoformat()
        self.day = local_day(at)
        self.events: list[DomainEvent] = []
        self.dispatched = 0  # events already run through the bus (by a part of a batch)
        self.after_commit: list[AfterCommit] = []
        self.conversations = ConversationRepo(conn, self.now)
        self.people = PeopleRepo(conn, self.now, self.conversations.seen)  # a person comes with their state
        self.identity = IdentityRepo(conn, self.now)
        self.restaurants = RestaurantRepo(conn, self.now)
        self.workers = WorkerRepo(conn, self.now)
        self.orders = OrderRepo(conn, self.now, self.record_all)
        self.contributions = ContributionRepo(conn, self.now)
        self.campaigns = CampaignRepo(conn, self.now, self.record_all)
        self.disputes = DisputeRepo(conn)
        self.pledges = PledgeRepo(conn, self.now)
        self.payments = PaymentsRepo(conn, self.now)
        self.cards = CardPaymentRepo(conn, self.now)
        self.governance = GovernanceRepo(conn, self.now)
        self.ratings = RatingRepo(conn)
        self.ledger = LedgerRepo(conn, self.now, self.day, self.record_all)
        self.chain = ChainRepo(conn)
        self.checkpoints = CheckpointRepo(conn)
        self.commitments = CommitmentRepo(conn, self.now)
        self.subscriptions = SubscriptionRepo(conn, self.now)
        self.params = ParamRepo(conn, self.now, self.record_all)
        self.inbox = InboxRepo(conn, self.now)
        self.outbox = OutboxRepo(conn, self.now)
        self.prompts = PromptRepo(conn, self.now)
        self.photos = PhotoRepo(conn, self.now)
        self.job_runs = JobRunRepo(conn, self.now)
        self.timeouts = TimeoutRepo(conn, self.now)
        self.screening = ScreeningRepo(conn, self.now)
        self.privacy = PrivacyRepo(conn, self.now, self.catch_up)

    def forget_remembered(self) -> None:
        """Drop the people, conversation states, roles and parameters remembered by this unit of work."""
        self.people.forget()
        self.conversations.forget()
        self.params.forget()
        self.prompts.forget()
        for absent in (self.restaurants.none_for, self.workers.none_for, self.pledges.none_for):
            absent.clear()

    async def remember_roles(self, person_ids: Collection[int]) -> None:
        """Which of these people run no restaurant, are no worker, have no pledge, have never been
        asked a question (no prompt): one query for a batch of messages, where most senders are
        donors who are none of these (see the port)."""
        if not person_ids:
            return
        has = [exists().where(table.c.person_id == people.c.id) for table in (restaurants, workers, pledges, prompts)]
        q = select(people.c.id, *has).where(people.c.id.in_(sorted(set(person_ids))))
        for person_id, restaurant, worker, pledge, prompt in await self.conn.execute(q):
            for held, absent in ((restaurant, self.restaurants.none_for), (worker, self.workers.none_for),
                                 (pledge, self.pledges.none_for), (prompt, self.prompts.none_for)):  # fmt: skip
                if not held:
                    absent.add(person_id)

    async def catch_up(self) -> None:
        """Before an export or an erasure: forget what is remembered, insert the held replies (so
        that they are exported, erased or scrubbed like the rest)."""
        self.forget_remembered()
        await self.outbox.flush()

    def record(self, event: DomainEvent) -> None:
        """Collect one event for the bus and the chain."""
        self.events.append(event)

    def record_all(self, events: Iterable[DomainEvent]) -> None:
        """Collect several events."""
        self.events.extend(events)

    def later(self, callback: AfterCommit) -> None:
        """Run a side effect outside the database once the transaction has committed."""
        self.after_commit.append(callback)


class Store:
    """Opens units of work on a database with a clock and a bus."""

    def __init__(self, db: Database, clock: Clock, bus: MessageBus | None = None) -> None:
        self.db, self.clock, self.bus = db, clock, bus or MessageBus()
        self._outbox_changed = asyncio.Event()  # set (and replaced) after commits with messages
        self._outbox_commits = 0  # counted with it, so that a commit between a read and the wait is not missed

    @asynccontextmanager
    async def uow(self) -> AsyncIterator[UnitOfWork]:
        """A read-write unit of work: bus handlers, then chain append, then commit."""
        async with self.db.write() as conn:
            uow = UnitOfWork(conn, self.clock.now())
            yield uow
            uow.dispatched = await self.bus.dispatch(uow, uow.dispatched)
            # One head lock for every event of the transaction: a batch of messages appends once.
            await uow.chain.append(uow.events, uow.now)
            wrote_messages = uow.outbox.wrote
            await uow.outbox.number_at_commit()
        if wrote_messages:
            self._outbox_changed, changed = asyncio.Event(), self._outbox_changed
            self._outbox_commits += 1
            changed.set()
        for callback in uow.after_commit:
            try:
                await callback()
            except Exception:
                # The committed change stands; reconciliation repairs the side effect.
                log.exception("after-commit side effect failed; reconciliation will retry it")

    @asynccontextmanager
    async def part(self, unit: ports.UnitOfWork, *, savepoint: bool = True) -> AsyncIterator[None]:
        """One part of a batch in `uow` (a savepoint): its events go through the bus at its end; if it
        fails, its writes, events, outbound messages and after-commit effects are all undone and the
        error is raised, and the rest of the batch stands. Without `savepoint` (two statements less)
        a failure undoes nothing here: the caller must roll the whole unit of work back."""
        if not isinstance(unit, UnitOfWork):
            raise TypeError("a part of a batch needs this store's own unit of work")
        uow = unit
        if not savepoint:
            yield
            uow.dispatched = await self.bus.dispatch(uow, uow.dispatched)
            return
        marks = len(uow.events), len(uow.after_commit), uow.outbox.mark(), uow.dispatched
        try:
            async with uow.conn.begin_nested():
                yield
                uow.dispatched = await self.bus.dispatch(uow, uow.dispatched)
        except BaseException:
            del uow.events[marks[0]:], uow.after_commit[marks[1]:]
            uow.outbox.undo(marks[2])
            uow.dispatched = marks[3]
            uow.forget_remembered()  # what it found, created or wrote may be undone with it
            raise

    @asynccontextmanager
    async def reader(self, *, snapshot: bool = False) -> AsyncIterator[UnitOfWork]:
        """A read-only unit of work (it must record no events); with `snapshot`, all its reads see
        one state of the database (an audit of several passes must not see writes in between)."""
        async with self.db.read(snapshot=snapshot) as conn:
            uow = UnitOfWork(conn, self.clock.now())
            yield uow
            if uow.events:
                raise RuntimeError("a read-only unit of work recorded events")

    @property
    def outbox_commits(self) -> int:
        """How many transactions with outbound messages this process has committed (a ticket for `outbox_changed`)."""
        return self._outbox_commits

    async def outbox_changed(self, timeout: float, since: int | None = None) -> None:
        """Wait until this process commits new outbound messages, or `timeout` seconds pass; at once
        if it has committed some since the ticket `since` was taken (other processes' commits are
        seen by the caller's next read)."""
        if since is not None and since != self._outbox_commits:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._outbox_changed.wait(), timeout)

    async def params(self) -> Params:
        """The current governed parameters."""
        async with self.reader() as uow:
            return await uow.params.current()

"""The rare race between the pledge check and the draw: another order (or the pledger) takes the
pledged money after the donor's order looked at it and before it draws. The draw is tried once
more; if pledges are still short the donor is told exactly what is left to pay and chooses — Pay
from balance or Cancel — and nothing was written. Deterministic: a hook runs the rival at that
very moment (on PostgreSQL in its own connection and transaction), no sleeps."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.funding import pledges
from core.funding.pledge_model import Pledge, PledgeKind, PledgeTerms
from core.ledger.model import DEPOSITS, InsufficientFunds, donor_account, escrow_account, transfer
from core.members.model import Person
from core.orders import service as orders
from core.orders.lifecycle import Status
from core.orders.model import Order
from core.ports import UnitOfWork
from tests.clock import FixedClock
from tests.helpers import assert_ledger_invariants, seed_coop
from tests.pledge_helpers import first_item, person_with, pledge, screened
from tests.test_pledge_transcripts import NEAR, PLEDGE, ask

LUNCH = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
SPOT = (12.9716, 77.5946)  # a place of this test's own
MEAL = 6_000 + 3_000  # curd rice and the delivery fee
Rival = Callable[[UnitOfWork], Awaitable[None]]


def hook_after_the_look(monkeypatch: pytest.MonkeyPatch, rival: Rival) -> list[int]:
    """Run `rival` once, right after the order's look at the pledges (available_for) and before
    its draw; return the list that counts how often it ran."""
    real, ran = pledges.available_for, []

    async def looked(uow: UnitOfWork, *args: Any, **kwargs: Any) -> int:
        found = await real(uow, *args, **kwargs)
        if not ran:
            ran.append(1)
            await rival(uow)
        return found

    monkeypatch.setattr(pledges, "available_for", looked)
    return ran


async def test_pledges_used_up_between_look_and_draw_ask_the_donor_exactly_by_chat(
    app_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    chat, store = app_env["chat"], app_env["runtime"].store
    await chat.run(PLEDGE)
    async with store.uow() as uow:
        asker = await uow.people.get_or_create("webchat", "asker-1")
        await uow.ledger.record(transfer("deposit", "race-asker", DEPOSITS, donor_account(asker.id), 10_000))
        pledger = await uow.people.find("webchat", "donor-1")
        assert pledger is not None
    await chat.run(ask("asker-1", NEAR) + """
        asker-1  < Pledges from other donors can pay ₹85 of it. [Pay ₹85] [Use pledges] [Cancel]
    """)

    async def pledger_cancels(uow: UnitOfWork) -> None:  # the same moment, in the order's own transaction
        await pledges.cancel_pledge(uow, 1, pledger.id, pledger.actor)

    ran = hook_after_the_look(monkeypatch, pledger_cancels)
    await chat.run("""
        asker-1  > [tap Use pledges]
        asker-1  < Pledges near you were just used up; ₹85 left to pay from your balance. [Pay ₹85] [Cancel]
    """)
    assert ran == [1]
    async with store.reader() as uow:
        assert await uow.contributions.for_order(1) == [] and (await uow.orders.get(1)).status is Status.SCREENED
    await chat.run("""
        asker-1  > [tap Pay ₹85]
        asker-1  < Paid ₹85. Order #1 for Lemon rice is with Annapoorna Mess.
        rest-1   < New order #1
        asker-1  > [tap Pay ₹85]
        asker-1  < That question has already been answered.
    """)
    async with store.reader() as uow:
        assert await uow.ledger.balance(donor_account(asker.id)) == 10_000 - 8_500
        assert await uow.ledger.balance(escrow_account(1)) == 8_500
    await assert_ledger_invariants(store)


async def test_in_tamil_the_donor_is_told_what_is_left_and_may_cancel(
    app_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    chat, store = app_env["chat"], app_env["runtime"].store
    await chat.run(PLEDGE)
    async with store.uow() as uow:
        asker = await uow.people.get_or_create("webchat", "asker-1")
        await uow.people.set_language(asker.id, "ta")
        pledger = await uow.people.find("webchat", "donor-1")
        assert pledger is not None
    # The same steps as ask() (tests/test_pledge_transcripts.py), by payload; their Tamil is checked elsewhere.
    await chat.run(f"""
        asker-1  > [photo]
        asker-1  < …
        asker-1  > [press consent:yes]
        asker-1  < …
        asker-1  > [location {NEAR}]
        asker-1  < …
        asker-1  > [press scene:busy_lit]
        asker-1  < …
        asker-1  > [press meal:]
        asker-1  < …
        asker-1  > [press tip:]
        asker-1  < மற்றவர்களின் நன்கொடைகள் இதில் ₹85 செலுத்த முடியும். [₹85 செலுத்து] [நன்கொடை பயன்படுத்து]
    """)

    async def pledger_cancels(uow: UnitOfWork) -> None:
        await pledges.cancel_pledge(uow, 1, pledger.id, pledger.actor)

    hook_after_the_look(monkeypatch, pledger_cancels)
    await chat.run("""
        asker-1  > [tap நன்கொடை பயன்படுத்து]
        asker-1  < அருகிலுள்ள நன்கொடைகள் இப்போதுதான் தீர்ந்துவிட்டன; பேலன்ஸிலிருந்து இன்னும் செலுத்த வேண்டியது ₹85. [₹85 செலுத்து] [ரத்து செய்]
        asker-1  > [tap ரத்து செய்]
        asker-1  < …
    """)
    async with store.reader() as uow:
        assert (await uow.orders.get(1)).status is Status.CANCELLED
        assert await uow.contributions.for_order(1) == []
    await assert_ledger_invariants(store)


async def _race(pg_fresh_url: str, monkeypatch: pytest.MonkeyPatch,
                rival_kind: str) -> tuple[Store, tuple[Person, Order, int], Pledge, list[int]]:  # fmt: skip
    """A pledge for one meal; order A looks at it; at that moment order B, in its own connection,
    draws it and commits (and, for "new_money", a new pledge comes between A's two tries)."""
    store = Store(Database(pg_fresh_url), FixedClock(LUNCH))
    await seed_coop(store, uuid.uuid4().hex[:8], capacity=100, at=SPOT)
    pledger, donor_a, donor_b = await person_with(store, 1_000), await person_with(store, 50), await person_with(store, 0)
    made = await pledge(store, pledger, PledgeTerms(MEAL, PledgeKind.LOCATION, *SPOT, 1_000))
    order_a, order_b = await screened(store, donor_a, *SPOT), await screened(store, donor_b, *SPOT)
    item = await first_item(store, order_a)

    # The rivals' own Store: its own engine and connections (a Store's transaction is joined by
    # nested units of work in the same task; this one is apart, like another app process).
    apart = Store(Database(pg_fresh_url), FixedClock(LUNCH))

    async def b_draws_it(_uow: UnitOfWork) -> None:
        async with apart.uow() as other:  # B's draw commits before A draws
            await pledges.allocate(other, order_b, MEAL, donor_b.actor)

    hook_after_the_look(monkeypatch, b_draws_it)
    tries: list[int] = []
    if rival_kind == "new_money":
        # After A's first try and before its second, someone pledges a meal's worth nearby (a
        # third transaction): the retry finds it.
        real_plan, newcomer = pledges.plan, await person_with(store, 1_000)

        async def plan_then_pledge(uow: UnitOfWork, order: Order, *args: Any, **kwargs: Any) -> pledges.Plan:
            planned = await real_plan(uow, order, *args, **kwargs)
            if order.id != order_a.id:
                return planned  # B's own draw
            tries.append(planned.total)
            if len(tries) == 1:
                await pledge(apart, newcomer, PledgeTerms(MEAL))
            return planned

        monkeypatch.setattr(pledges, "plan", plan_then_pledge)
    store.apart = apart  # type: ignore[attr-defined]  # disposed with the test's own
    return store, (donor_a, order_a, item), made, tries


async def test_on_postgresql_a_draw_taken_by_another_connection_is_retried_then_reported_exactly(
    pg_fresh_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, (donor_a, order_a, item), made, _ = await _race(pg_fresh_url, monkeypatch, "taken")
    try:
        with pytest.raises(orders.PledgesTaken) as taken:
            async with store.uow() as uow:
                await orders.fund_and_send(uow, order_a.id, donor_a, item, 0, use_pledges=True, from_balance=0)
        assert (taken.value.pledged, taken.value.left) == (0, MEAL)
        async with store.reader() as uow:
            assert await uow.contributions.for_order(order_a.id) == []  # nothing was written for A
            assert (await uow.orders.get(order_a.id)).status is Status.SCREENED
            assert await uow.ledger.balance(made.account) == 0  # B has it all
        # The donor agrees to pay what is left from their balance (₹50 is not enough: told so).
        with pytest.raises(InsufficientFunds):
            async with store.uow() as uow:
                await orders.fund_and_send(uow, order_a.id, donor_a, item, 0, use_pledges=True, from_balance=MEAL)
        await assert_ledger_invariants(store)
    finally:
        await store.db.dispose()
        await store.apart.db.dispose()  # type: ignore[attr-defined]


async def test_on_postgresql_the_second_try_finds_money_pledged_meanwhile(
    pg_fresh_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, (donor_a, order_a, item), made, tries = await _race(pg_fresh_url, monkeypatch, "new_money")
    try:
        async with store.uow() as uow:
            funded = await orders.fund_and_send(uow, order_a.id, donor_a, item, 0, use_pledges=True, from_balance=0)
        assert funded.status is Status.AT_RESTAURANT and tries == [0, MEAL]  # short, then whole on the retry
        async with store.reader() as uow:
            assert [(c.source.value, c.amount) for c in await uow.contributions.for_order(order_a.id)] == [("pledge", MEAL)]
            assert await uow.ledger.balance(made.account) == 0  # B took the first pledge
        await assert_ledger_invariants(store)
    finally:
        await store.db.dispose()
        await store.apart.db.dispose()  # type: ignore[attr-defined]

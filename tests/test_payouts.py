"""Payouts: details registered and masked, the daily run (once a day, one transaction per person,
skipping whoever has no details), the bank file, paid and failed lines, two processes at once."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from core.adapters.sql.db import Database
from core.adapters.sql.schema import outbox
from core.adapters.sql.uow import Store
from core.ledger.model import DEPOSITS, PAYOUTS, POOL, restaurant_account, transfer, worker_account
from core.payments import payouts, topups
from core.payments.model import InvalidDetails, LineStatus, Method, PayoutDetails, new_reference, parse_details
from core.payments.statements import CreditRow, Statement
from core.privacy.forget import forget
from core.schedule.jobs import run_payouts
from core.seekers.photos import LocalPhotoStore
from core.shared.bus import MessageBus
from flows import payments_notify
from tests.clock import FixedClock
from tests.helpers import Coop, assert_ledger_invariants, chain_events, seed_coop

# The run is once per business day and the PostgreSQL database is shared: each test its own days.
_days = itertools.count()


@pytest.fixture
def clock() -> FixedClock:
    """7 pm in Chennai (after the default payout hour, 6 pm) on days no other test uses."""
    return FixedClock(datetime(2131, 1, 2, 13, 30, tzinfo=UTC) + timedelta(days=3 * next(_days)))


@pytest.fixture
def store(db: Database, clock: FixedClock) -> Store:
    return Store(db, clock)


@pytest.fixture
async def coop(store: Store) -> Coop:
    return await seed_coop(store, uuid.uuid4().hex[:8])


async def earn(store: Store, account: str, amount: int) -> None:
    """Money settled to a payee (as settlement would, straight from deposits to keep the story short)."""
    async with store.uow() as uow:
        await uow.ledger.record(transfer("settle", f"test-{uuid.uuid4().hex}", DEPOSITS, account, amount), "test")


async def register(store: Store, coop: Coop, index: int, text: str) -> PayoutDetails:
    """A worker (by index) saves payout details."""
    async with store.uow() as uow:
        person = await uow.people.get(coop.workers[index].person_id)
        assert person is not None
        details = parse_details(person.id, text)
        await payouts.set_details(uow, person, details)
        return details


def mine(coop: Coop, report: payouts.RunReport) -> tuple[list[tuple[str, int, LineStatus]], list[tuple[int, str, int]]]:
    """The lines and skips of a run that concern this test's cooperative (on PostgreSQL the run
    also sees other tests' payees)."""
    accounts = {worker_account(w.id) for w in coop.workers} | {restaurant_account(r.id) for r in coop.restaurants}
    return ([(x.account, x.amount, x.status) for x in report.lines if x.account in accounts],
            [s for s in report.skipped if s[1] in accounts])  # fmt: skip


async def balance(store: Store, account: str) -> int:
    async with store.reader() as uow:
        return await uow.ledger.balance(account)


def test_details_are_validated_by_pattern_and_shown_masked() -> None:
    upi = parse_details(1, "Murugan.K@OkAxis")
    assert (upi.method, upi.destination, upi.masked()) == (Method.UPI, "murugan.k@okaxis", "m***k@okaxis")
    bank = parse_details(1, "50100123456789 hdfc0001234")
    assert (bank.method, bank.ifsc, bank.masked()) == (Method.BANK, "HDFC0001234", "XXXXXX6789 · HDFC0001234")
    for text, reason in (("not@an@id", "vpa"), ("@okaxis", "vpa"), ("12345 HDFC0001234", "account"),
                         ("50100123456789 HDFC1001234", "ifsc"), ("50100123456789 HDF0001234", "ifsc"),
                         ("", "shape"), ("a b c", "shape"), ("5010012345678x HDFC0001234", "account")):  # fmt: skip
        with pytest.raises(InvalidDetails) as exc:
            parse_details(1, text)
        assert exc.value.reason == reason, text


async def test_only_restaurants_and_workers_register_and_the_chain_keeps_only_the_masked_form(store: Store, coop: Coop) -> None:
    with pytest.raises(payouts.PayoutError):
        async with store.uow() as uow:
            await payouts.set_details(uow, coop.donor, parse_details(coop.donor.id, "donor@okaxis"))
    await register(store, coop, 0, "murugan@okaxis")
    await register(store, coop, 0, "50100123456789 HDFC0001234")  # a change
    async with store.reader() as uow:
        person_id = coop.workers[0].person_id
        assert (await uow.payments.details(person_id)) == PayoutDetails(person_id, Method.BANK, "50100123456789", "HDFC0001234")
        logged = [e.data for e in await chain_events(uow, "payout.details") if e.data["person_id"] == person_id]
    assert logged == [{"person_id": person_id, "method": "upi", "masked": "m***n@okaxis", "replaced": False},
                      {"person_id": person_id, "method": "bank", "masked": "XXXXXX6789 · HDFC0001234", "replaced": True}]  # fmt: skip


async def test_the_daily_run_pays_each_settled_balance_once_and_skips_whoever_has_no_details(store: Store, coop: Coop) -> None:
    w0, w1, kitchen = worker_account(coop.workers[0].id), worker_account(coop.workers[1].id), restaurant_account(coop.restaurants[0].id)
    await register(store, coop, 0, "murugan@okaxis")
    await earn(store, w0, 24_000)
    await earn(store, w1, 30_000)  # no details: skipped and told
    await earn(store, kitchen, 9_999)  # below the ₹100 minimum: waits
    out_before = await balance(store, PAYOUTS)
    report = await run_payouts(store)
    assert report.batch is not None
    assert mine(coop, report) == ([(w0, 24_000, LineStatus.PENDING)], [(coop.workers[1].person_id, w1, 30_000)])
    assert await balance(store, w0) == 0 and await balance(store, w1) == 30_000 and await balance(store, kitchen) == 9_999
    assert await balance(store, PAYOUTS) == out_before + 24_000
    # Again the same day: nothing more moves.
    await earn(store, w0, 5_000_00)
    again = await run_payouts(store)
    assert again.batch is None and again.lines == [] and await balance(store, w0) == 5_000_00
    async with store.reader() as uow:
        (line,) = [x for x in await uow.payments.lines(report.batch.id) if x.account == w0]
        tx_id = await uow.ledger.existing("payout", f"{report.batch.day}:{w0}")
        assert tx_id is not None and await uow.ledger.postings_of(tx_id) == [(w0, -24_000), (PAYOUTS, 24_000)]
        skipped = [e.data for e in await chain_events(uow, "payout.skipped") if e.data["account"] == w1]
    assert skipped == [{"person_id": coop.workers[1].person_id, "account": w1, "amount": 30_000, "told": True}]
    assert line.reference == f"KETPAAR-B{report.batch.id}-L{line.id}"
    await assert_ledger_invariants(store)


async def test_the_run_waits_for_the_governed_hour(store: Store, coop: Coop, clock: FixedClock) -> None:
    await register(store, coop, 0, "murugan@okaxis")
    await earn(store, worker_account(coop.workers[0].id), 20_000)
    clock.advance(hours=-9)  # 10 am in Chennai
    assert (await run_payouts(store)).batch is None
    assert await balance(store, worker_account(coop.workers[0].id)) == 20_000
    clock.advance(hours=9)
    assert (await run_payouts(store)).batch is not None


async def test_the_bank_file_lists_name_account_or_upi_amount_and_reference(store: Store, coop: Coop) -> None:
    await register(store, coop, 0, "murugan@okaxis")
    await register(store, coop, 1, "50100123456789 HDFC0001234")
    await earn(store, worker_account(coop.workers[0].id), 24_050)
    await earn(store, worker_account(coop.workers[1].id), 10_000)
    report = await run_payouts(store)
    assert report.batch is not None
    accounts = {worker_account(w.id) for w in coop.workers}
    async with store.reader() as uow:
        lines = [x for x in await uow.payments.lines(report.batch.id) if x.account in accounts]
    rows = list(csv.reader(io.StringIO(payouts.batch_csv(lines))))
    assert rows[0] == ["name", "method", "account_number", "ifsc", "upi_id", "amount", "reference"]
    by_name = {r[0]: r for r in rows[1:]}
    # By account, not by position: lines come in account order, and "worker:100" sorts before
    # "worker:99" (ids on the shared PostgreSQL database depend on the tests run before).
    ref = {x.account: x.reference for x in lines}
    assert by_name["Worker 1"][1:] == ["upi", "", "", "murugan@okaxis", "240.50", ref[worker_account(coop.workers[0].id)]]
    assert by_name["Worker 2"][1:] == ["bank", "50100123456789", "HDFC0001234", "", "100.00", ref[worker_account(coop.workers[1].id)]]


async def test_paid_once_and_a_failed_line_is_reversed_and_paid_again_next_run(store: Store, coop: Coop, clock: FixedClock) -> None:
    w0 = worker_account(coop.workers[0].id)
    await register(store, coop, 0, "murugan@okaxis")
    await earn(store, w0, 24_000)
    report = await run_payouts(store)
    assert report.batch is not None
    (line,) = [x for x in report.lines if x.account == w0]
    async with store.uow() as uow:
        with pytest.raises(payouts.PayoutError, match="not_admin"):
            await payouts.mark_paid(uow, coop.donor, report.batch.id, "UTR1")
        await payouts.mark_paid(uow, coop.admin, report.batch.id, "UTR123456")
    async with store.uow() as uow:
        with pytest.raises(payouts.PayoutError, match="decided"):
            await payouts.mark_paid(uow, coop.admin, report.batch.id, "UTR999")
        for bad in ("", "x" * 65, "UTR\n1"):
            with pytest.raises(payouts.PayoutError, match="bank_ref|decided"):
                await payouts.mark_paid(uow, coop.admin, report.batch.id, bad)
    # The bank returns the line: the money comes back by a new transaction, once.
    async with store.uow() as uow:
        await payouts.mark_failed(uow, coop.admin, line.id)
    async with store.uow() as uow:
        with pytest.raises(payouts.PayoutError, match="decided"):
            await payouts.mark_failed(uow, coop.admin, line.id)
    assert await balance(store, w0) == 24_000
    clock.advance(days=1)
    retry = await run_payouts(store)
    assert mine(coop, retry)[0] == [(w0, 24_000, LineStatus.PENDING)]
    assert await balance(store, w0) == 0
    await assert_ledger_invariants(store)


@pytest.mark.postgres
async def test_two_processes_running_the_payouts_at_once_pay_each_person_once(pg_fresh_url: str) -> None:
    first, second = Database(pg_fresh_url), Database(pg_fresh_url)
    try:
        clock = FixedClock(datetime(2026, 12, 1, 13, 30, tzinfo=UTC))
        one, two = Store(first, clock), Store(second, clock)
        coop = await seed_coop(one, "pg2")
        for i, text in enumerate(("murugan@okaxis", "50100123456789 HDFC0001234")):
            await register(one, coop, i, text)
            await earn(one, worker_account(coop.workers[i].id), 20_000 + i)
        reports = await asyncio.gather(run_payouts(one), run_payouts(two), run_payouts(one), run_payouts(two))
        assert sorted(len(r.lines) for r in reports) == [0, 0, 0, 2]
        async with one.reader() as uow:
            assert await uow.ledger.balance(PAYOUTS) == 40_001
            assert await uow.ledger.balance(worker_account(coop.workers[0].id)) == 0
        await assert_ledger_invariants(one)
    finally:
        await first.dispose()
        await second.dispose()


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("upi"), st.integers(1_000, 500_000), st.booleans()),  # a top-up paid (matched or not)
        st.tuples(st.just("earn"), st.integers(0, 2), st.integers(1, 300_000)),  # a settlement to worker i
        st.tuples(st.just("run"), st.integers(0, 0), st.integers(0, 0)),  # the day's payout run, then the next day
        st.tuples(st.just("fail"), st.integers(0, 50), st.integers(0, 0)),  # the bank returns some line
        st.tuples(st.just("paid"), st.integers(0, 0), st.integers(0, 0)),  # the treasurer marks the newest batch paid
    ),
    min_size=1, max_size=10,
)  # fmt: skip


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
async def test_whatever_happens_money_in_equals_balances_plus_money_out(sqlite_db: Database, ops: list[tuple[str, int, int]]) -> None:
    """UPI top-ups matched or not, settlements, payout runs, returned lines and paid batches in any
    order: in = balances + out to the paisa after every step; no payee balance below zero; a
    returned line is paid again by a later run."""
    clock = FixedClock(datetime(2140, 1, 1, 13, 30, tzinfo=UTC) + timedelta(days=100 * next(_days)))
    store = Store(sqlite_db, clock)
    coop = await seed_coop(store, uuid.uuid4().hex[:8], n_workers=3)
    for i in (0, 1):  # the third worker never says where to be paid
        await register(store, coop, i, f"worker{i}@okaxis")
    lines: list[int] = []
    for op, a, b in ops:
        async with store.uow() as uow:
            if op == "upi":
                ref = (await topups.request_topup(uow, coop.donor, a)).reference if b else new_reference()
                row = CreditRow(1, uuid.uuid4().hex[:12], "2140-01-01", a, f"UPI/{ref}")
                await topups.import_statement(uow, Statement("plain", [row, row]), "test")
            elif op == "earn":
                await uow.ledger.record(transfer("settle", uuid.uuid4().hex, DEPOSITS, worker_account(coop.workers[a].id), b))
            elif op == "run":
                lines += [x.id for x in (await payouts.run_payouts(uow, uow.day)).lines]
            elif op == "fail" and lines:
                line = await uow.payments.line(lines[a % len(lines)])
                if line is not None and line.status is not LineStatus.FAILED:
                    await payouts.mark_failed(uow, coop.admin, line.id)
            elif op == "paid" and (batch := await uow.payments.latest_batch()) and batch.paid_at is None:
                await payouts.mark_paid(uow, coop.admin, batch.id, f"UTR{batch.id}")
        if op == "run":
            clock.advance(days=1)
        async with store.reader() as uow:
            balances = await uow.ledger.balances()
        assert -balances.get(DEPOSITS, 0) == sum(v for k, v in balances.items() if not k.startswith("external:")) + balances.get(PAYOUTS, 0)
        assert all(v >= 0 for k, v in balances.items() if not k.startswith("external:"))
    # One more run pays every worker with details whatever is due (returned lines included).
    async with store.uow() as uow:
        await payouts.run_payouts(uow, uow.day)
        minimum = (await uow.params.current()).payout_minimum
        for i in (0, 1):
            assert await uow.ledger.balance(worker_account(coop.workers[i].id)) < minimum
    await assert_ledger_invariants(store)


async def test_money_a_dispute_decision_may_still_take_back_waits_for_the_appeal_window(store: Store, coop: Coop,
                                                                                        clock: FixedClock) -> None:  # fmt: skip
    """An appeal reverses the first decision's entries from the restaurant's and worker's accounts:
    a payout must not have sent that money away first."""
    from core.adapters.sql.board import SqlJobBoard
    from core.ledger import service as money
    from core.orders import disputes
    from core.orders import service as orders
    from core.orders.dispute_model import Reason, Resolution
    from core.seekers.screening import PassThroughScreener
    from tests.helpers import CHENNAI

    worker, kitchen, board = coop.workers[0], coop.restaurants[0], SqlJobBoard(store.db)
    await register(store, coop, 0, "murugan@okaxis")
    async with store.uow() as uow:
        await money.record_deposit(uow, coop.donor.id, 100_000, f"dep-{uuid.uuid4().hex}", coop.admin.actor, "cash")
        order = await orders.start_order(uow, coop.donor, *CHENNAI, None, PassThroughScreener())
        await orders.fund_and_send(uow, order.id, coop.donor, kitchen.menu[0].id, 0)
        await orders.accept(uow, order.id, kitchen, board, "r")
    async with store.uow() as uow:
        assert (await orders.claim(uow, order.id, worker, board, "w")).won
        await orders.pickup(uow, order.id, worker, board, "w")
        await orders.deliver(uow, order.id, worker, "photo", *CHENNAI, "w")
    async with store.uow() as uow:
        dispute = await disputes.raise_dispute(uow, order.id, coop.donor, Reason.BAD_FOOD)
        await disputes.resolve(uow, dispute.id, coop.admin, Resolution.SETTLE, "the food was fine")
    w = worker_account(worker.id)
    await earn(store, w, 10_000)  # with earlier earnings, above the payout minimum
    earned = await balance(store, w)
    assert earned == 12_400
    report = await run_payouts(store)
    assert (w, earned) in report.held and w not in [x.account for x in report.lines]
    clock.advance(days=1, hours=1)  # the 24-hour appeal window has passed: paid the next day
    assert mine(coop, await run_payouts(store))[0] == [(w, earned, LineStatus.PENDING)]
    await assert_ledger_invariants(store)


async def test_a_payee_without_details_is_told_once_then_again_when_more_is_owed_or_a_week_later(
        store: Store, coop: Coop, clock: FixedClock) -> None:  # fmt: skip
    # Each run its own made-up day (the run is once per day, and other tests use the clock's days).
    w1, person_id = worker_account(coop.workers[1].id), coop.workers[1].person_id
    told_bus = MessageBus()
    payments_notify.register(told_bus)  # what the payee is sent, written with the run

    async def run() -> bool:
        async with Store(store.db, store.clock, told_bus).uow() as uow:
            report = await payouts.run_payouts(uow, uuid.uuid4().hex[:10])
        assert [s for s in report.skipped if s[1] == w1] == [(person_id, w1, await balance(store, w1))]
        async with store.reader() as uow:
            told: bool = [e.data for e in await chain_events(uow, "payout.skipped") if e.data["account"] == w1][-1]["told"]
        return told

    await earn(store, w1, 30_000)
    assert await run() is True  # the first time: told
    clock.advance(days=1)
    assert await run() is False  # the same money the next day: not again
    await earn(store, w1, 9_999)
    clock.advance(days=1)
    assert await run() is False  # grown by less than the payout minimum (₹100) since told
    await earn(store, w1, 1)
    clock.advance(hours=1)
    assert await run() is True  # grown by ₹100 since told: told again
    clock.advance(days=6, hours=23)
    assert await run() is False
    clock.advance(hours=1)
    assert await run() is True  # a week after the last time
    assert await run() is False  # and the same run again at once: nothing twice
    assert await balance(store, w1) == 40_000  # the money never moved
    async with store.reader() as uow:
        person = await uow.people.get(person_id)
        assert person is not None
        sent = [json.loads(p)["text"] for (p,) in await uow.conn.execute(
            select(outbox.c.payload).where(outbox.c.address == person.address))]  # fmt: skip
    assert [t.split(" is ready")[0] for t in sent if "I do not know where" in t] == ["₹300", "₹400", "₹400"]
    await assert_ledger_invariants(store)


async def test_a_line_returned_after_its_payee_used_forget_goes_to_the_pool_not_to_a_dead_balance(
        store: Store, coop: Coop, tmp_path: Path) -> None:  # fmt: skip
    # The worker is paid ₹240 and the bank confirms it; nothing is owed, so they may /forget. Then
    # the bank returns the line: the money cannot reach them again, so it goes to the guarantee pool.
    w0 = worker_account(coop.workers[0].id)
    await register(store, coop, 0, "murugan@okaxis")
    await earn(store, w0, 24_000)
    report = await run_payouts(store)
    assert report.batch is not None
    (line,) = [x for x in report.lines if x.account == w0]
    async with store.uow() as uow:
        await payouts.mark_paid(uow, coop.admin, report.batch.id, "UTR-42")
    async with store.uow() as uow:
        worker = await uow.people.get(coop.workers[0].person_id)
        assert worker is not None
        await forget(uow, worker, LocalPhotoStore(tmp_path / "photos", b"k" * 32), None)
    pool_before, out_before = await balance(store, POOL), await balance(store, PAYOUTS)
    told = MessageBus()
    payments_notify.register(told)  # the notifications, written in the same transaction
    async with Store(store.db, store.clock, told).uow() as uow:
        await payouts.mark_failed(uow, coop.admin, line.id)
    async with store.reader() as uow:
        texts = [(a, json.loads(p)["text"]) for a, p in await uow.conn.execute(
            select(outbox.c.address, outbox.c.payload).where(outbox.c.payload.contains(f"Payout line {line.id} ")))]  # fmt: skip
    # (On the shared PostgreSQL database other tests' admins hear it too: this cooperative's admin once.)
    assert [text for address, text in texts if address == coop.admin.address] == [
        f"Payout line {line.id} (₹240) came back from the bank, but its payee has used /forget: nobody can be paid it "
        "again, so it went to the guarantee pool."]
    assert await balance(store, w0) == 0  # not back on a balance nobody can be paid from
    assert await balance(store, POOL) == pool_before + 24_000 and await balance(store, PAYOUTS) == out_before - 24_000
    async with store.uow() as uow:
        assert (await uow.payments.line(line.id)).status is LineStatus.FAILED  # type: ignore[union-attr]
        with pytest.raises(payouts.PayoutError):  # pressed again: nothing twice
            await payouts.mark_failed(uow, coop.admin, line.id)
    async with store.reader() as uow:
        events = [e.data for e in await chain_events(uow, "payout.unclaimed") if e.data["line_id"] == line.id]
        assert events == [{"batch_id": report.batch.id, "line_id": line.id, "account": w0, "amount": 24_000,
                           "to": POOL}]  # fmt: skip
        assert [e for e in await chain_events(uow, "payout.failed") if e.data["line_id"] == line.id] == []
    await assert_ledger_invariants(store)


async def test_what_stripe_said_of_a_connected_account_keeps_the_newest_and_each_telling_once(store: Store) -> None:
    acct, unseen = f"acct_{uuid.uuid4().hex[:16]}", f"acct_{uuid.uuid4().hex[:16]}"
    async with store.uow() as uow:
        payments = uow.payments
        assert await payments.set_connect_state(acct, False, "details", 100)
        assert await payments.set_connect_state(acct, True, "", 200)
        assert not await payments.set_connect_state(acct, False, "review", 150)  # older: changes nothing
        assert await payments.connect_ready(acct) == (True, "", None)
        await payments.connect_refused(acct, "review")  # a transfer refused: not ready any more
        assert await payments.connect_ready(acct) == (False, "review", None)
        assert await payments.mark_connect_told(acct, "review") is True
        assert await payments.mark_connect_told(acct, "review") is False  # told once
        assert await payments.mark_connect_told(acct, "details") is True  # something else missing: told
        assert await payments.set_connect_state(acct, True, "", 300)
        assert await payments.connect_ready(acct) == (True, "", None)  # ready again: the next problem is news
        # An account Stripe never spoke of: not ready, its telling remembered.
        assert await payments.connect_ready(unseen) is None
        assert await payments.mark_connect_told(unseen, "details") is True
        assert await payments.mark_connect_told(unseen, "details") is False
        assert await payments.connect_ready(unseen) == (False, "details", "details")

"""UPI top-ups: a unique reference per request, and the bank statement that credits it once.

Statement layouts as the banks export them: HDFC Bank (Date, Narration, Chq./Ref.No., Value Dt,
Withdrawal Amt., Deposit Amt., Closing Balance), State Bank of India (Txn Date, Value Date,
Description, Ref No./Cheque No., Debit, Credit, Balance), and a plain date,amount,reference,txn_id."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.ledger.model import DEPOSITS, PAYOUTS, donor_account
from core.payments import topups
from core.payments.model import REFERENCE, RowStatus, find_reference, new_reference
from core.payments.statements import UnreadableStatement, read_statement
from core.payments.upi import UpiPayee, pay_link, qr_png
from tests.clock import FixedClock
from tests.helpers import Coop, assert_ledger_invariants, chain_events, seed_coop


@pytest.fixture
def store(db: Database) -> Store:
    return Store(db, FixedClock(datetime(2026, 12, 1, 6, 30, tzinfo=UTC)))


@pytest.fixture
async def coop(store: Store) -> Coop:
    return await seed_coop(store, uuid.uuid4().hex[:8])


def txn() -> str:
    """A bank transaction id no other test uses (the PostgreSQL database is shared)."""
    return f"T{uuid.uuid4().hex[:16].upper()}"


def plain(*rows: tuple[str, str, str, str]) -> bytes:
    return ("date,amount,reference,txn_id\n" + "".join(",".join(r) + "\n" for r in rows)).encode()


async def ask(store: Store, coop: Coop, amount: int) -> str:
    async with store.uow() as uow:
        return (await topups.request_topup(uow, coop.donor, amount)).reference


async def import_(store: Store, data: bytes) -> topups.ImportReport:
    async with store.uow() as uow:
        return await topups.import_statement(uow, read_statement(data), "treasurer:test")


async def balance(store: Store, account: str) -> int:
    async with store.reader() as uow:
        return await uow.ledger.balance(account)


# --- the link and the reference --------------------------------------------------------------------


def test_the_upi_link_carries_payee_amount_currency_and_reference() -> None:
    link = pay_link(UpiPayee("ketpaar@okhdfcbank", "Ketpaar Food Coop"), 50_000, "KP7H3K9Q2M")
    assert link == "upi://pay?pa=ketpaar@okhdfcbank&pn=Ketpaar%20Food%20Coop&am=500.00&cu=INR&tn=KP7H3K9Q2M"
    assert pay_link(UpiPayee("a@b", "x&y=z"), 5_050, "KP00000000").count("&") == 4  # a name cannot add fields
    assert qr_png(link).startswith(b"\x89PNG\r\n\x1a\n")


def test_references_are_unambiguous_and_found_in_bank_narrations() -> None:
    refs = {new_reference() for _ in range(200)}
    assert len(refs) == 200 and all(REFERENCE.fullmatch(r) for r in refs)
    assert not any(c in r[2:] for r in refs for c in "ILOU")
    assert find_reference("UPI-RAVI KUMAR-ravi@okaxis-kp7h3k9q2m-PAYMENT") == "KP7H3K9Q2M"
    assert find_reference("BY TRANSFER-UPI/CR/433512345678/KP7H3K9Q2M/SBIN/x") == "KP7H3K9Q2M"
    assert find_reference("NEFT CR-KP7H3K9Q2MX") is None  # glued to more reference characters: not ours
    assert find_reference("salary") is None


# --- reading the three layouts ---------------------------------------------------------------------

HDFC = b"""Statement of account,,,,,,
Account No :50100123456789,,,,,,
Date,Narration,Chq./Ref.No.,Value Dt,Withdrawal Amt.,Deposit Amt.,Closing Balance
01/12/26,UPI-RAVI KUMAR-ravi@okaxis-KP7H3K9Q2M-PAYMENT,0000433512345678,01/12/26,,500.00,"10,500.00"
01/12/26,NEFT DR-RENT,0000433512345679,01/12/26,"1,000.00",,"9,500.00"
"""

SBI = b"""Txn Date,Value Date,Description,Ref No./Cheque No.,Debit,Credit,Balance
1 Dec 2026,1 Dec 2026,BY TRANSFER-UPI/CR/433512345678/KP7H3K9Q2M/SBIN/x,UPI/433512345678, ,"1,250.50","2,000.00"
"""


def test_an_hdfc_export_reads_its_credits_and_skips_its_debits_and_preamble() -> None:
    s = read_statement(HDFC)
    assert s.layout == "hdfc" and s.debits_skipped == 1 and s.errors == []
    (row,) = s.credits
    assert (row.txn_id, row.date, row.amount) == ("0000433512345678", "2026-12-01", 50_000)


def test_an_sbi_export_reads_rupees_with_grouping_and_paise() -> None:
    (row,) = read_statement(SBI).credits
    assert (row.txn_id, row.date, row.amount) == ("UPI/433512345678", "2026-12-01", 125_050)


def test_malformed_negative_and_odd_rows_are_listed_never_guessed() -> None:
    s = read_statement(plain(
        ("2026-12-01", "-500", "KP7H3K9Q2M", "T1"),  # negative
        ("2026-12-01", "5.555", "KP7H3K9Q2M", "T2"),  # three decimals
        ("2026-13-01", "500", "KP7H3K9Q2M", "T3"),  # no such month
        ("2026-12-01", "500", "KP7H3K9Q2M", "'; DROP TABLE"),  # not a transaction id
        ("2026-12-01", "1e5", "KP7H3K9Q2M", "T5"),  # exponent
        ("2026-12-01", "0", "KP7H3K9Q2M", "T6"),  # nothing
        ("2026-12-01", "500", "KP7H3K9Q2M", "T7"),  # fine
    ))  # fmt: skip
    assert [r.txn_id for r in s.credits] == ["T7"]
    assert s.errors == [(2, "negative"), (3, "amount"), (4, "date"), (5, "txn_id"), (6, "amount"), (7, "amount")]
    both = b"Date,Narration,Chq./Ref.No.,Value Dt,Withdrawal Amt.,Deposit Amt.,Closing Balance\n01/12/26,x,R1,01/12/26,5,5,0\n"
    assert read_statement(both).errors == [(2, "both")]
    for bad in (b"name,amount\nx,5\n", b"\xff\xfe\x00garbage", b"a" * (5 * 1024 * 1024 + 1)):
        with pytest.raises(UnreadableStatement):
            read_statement(bad)


# --- importing: credited once, flagged, unmatched, assigned ----------------------------------------


async def test_a_statement_row_with_a_reference_credits_that_donor_once(store: Store, coop: Coop) -> None:
    ref, t = await ask(store, coop, 50_000), txn()
    before = await balance(store, donor_account(coop.donor.id))
    row = ("2026-12-01", "500.00", f"UPI/CR/{ref}/donor@okaxis", t)
    report = await import_(store, plain(row))
    assert report.credited == [(t, coop.donor.id, 50_000)] and not report.flagged and not report.unmatched
    again = await import_(store, plain(row, row))
    assert again.already == 2 and not again.credited  # the same txn id, in a second import and twice in one file
    assert await balance(store, donor_account(coop.donor.id)) == before + 50_000
    async with store.reader() as uow:
        row = await uow.payments.statement_row(t)
        assert row is not None and row.status is RowStatus.CREDITED and row.person_id == coop.donor.id
        events = [e.data for e in await chain_events(uow, "statement.row") if e.data["txn_id"] == t]
        assert events == [{"txn_id": t, "status": "credited", "amount": 50_000, "reference": ref,
                           "person_id": coop.donor.id, "flag": ""}]  # fmt: skip
    await assert_ledger_invariants(store)


async def test_an_amount_that_differs_or_a_second_payment_is_credited_as_paid_and_flagged(store: Store, coop: Coop) -> None:
    ref, t1, t2 = await ask(store, coop, 50_000), txn(), txn()
    before = await balance(store, donor_account(coop.donor.id))
    report = await import_(store, plain(("2026-12-01", "450", ref, t1), ("2026-12-02", "500", ref, t2)))
    assert report.flagged == [(t1, coop.donor.id, 45_000, "amount_differs"), (t2, coop.donor.id, 50_000, "paid_again")]
    assert await balance(store, donor_account(coop.donor.id)) == before + 95_000
    await assert_ledger_invariants(store)


async def test_unknown_and_other_cooperatives_references_wait_for_the_treasurer(store: Store, coop: Coop) -> None:
    never_issued, other_coop, t1, t2, t3 = new_reference(), "KX7H3K9Q2M", txn(), txn(), txn()
    deposits_before = await balance(store, DEPOSITS)
    report = await import_(store, plain(("2026-12-01", "100", never_issued, t1), ("2026-12-01", "200", other_coop, t2),
                                        ("2026-12-01", "300", "cash by hand", t3)))  # fmt: skip
    assert report.unmatched == [(t1, 10_000, never_issued), (t2, 20_000, ""), (t3, 30_000, "")]
    assert await balance(store, DEPOSITS) == deposits_before  # nothing credited to anyone
    # The treasurer assigns one; a second assignment, a stranger and an unknown id are refused.
    async with store.uow() as uow:
        amount, tx_id = await topups.assign_row(uow, coop.admin, t3, coop.donor)
        assert amount == 30_000 and await uow.ledger.postings_of(tx_id) == [(DEPOSITS, -30_000), (donor_account(coop.donor.id), 30_000)]
    async with store.uow() as uow:
        for who, what, reason in ((coop.admin, t3, "decided"), (coop.donor, t1, "not_admin"), (coop.admin, "NOPE", "unknown_row")):
            with pytest.raises(topups.TopUpError) as exc:
                await topups.assign_row(uow, who, what, coop.donor)
            assert exc.value.reason == reason
    assert await balance(store, DEPOSITS) == deposits_before - 30_000
    await assert_ledger_invariants(store)


async def test_top_up_requests_are_bounded_by_the_governed_amounts(store: Store, coop: Coop) -> None:
    async with store.uow() as uow:
        params = await uow.params.current()
        for amount, reason in ((params.topup_min - 1, "too_small"), (params.max_deposit + 1, "too_large")):
            with pytest.raises(topups.TopUpError) as exc:
                await topups.request_topup(uow, coop.donor, amount)
            assert exc.value.reason == reason
        request = await topups.request_topup(uow, coop.donor, params.topup_min)
        assert (await uow.payments.topup(request.reference)) == request


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(paid=st.lists(st.tuples(st.integers(1, 200_000), st.booleans(), st.booleans()), min_size=1, max_size=6))
async def test_money_in_by_statement_equals_balances_plus_money_out(sqlite_db: Database, paid: list[tuple[int, bool, bool]]) -> None:
    """Whatever the statement holds (matched or not, repeated or not), every rupee credited came in
    as a deposit once, and in = balances + out, to the paisa."""
    store = Store(sqlite_db, FixedClock(datetime(2026, 12, 1, 6, 30, tzinfo=UTC)))
    coop = await seed_coop(store, uuid.uuid4().hex[:8])
    rows, expected = [], 0
    for amount, matched, repeat in paid:
        ref = await ask(store, coop, 10_000) if matched else new_reference()
        t = txn()
        rows.append(("2026-12-01", f"{amount // 100}.{amount % 100:02d}", ref, t))
        if repeat:
            rows.append(rows[-1])
        expected += amount if matched else 0
    before = await balance(store, donor_account(coop.donor.id))
    await import_(store, plain(*rows))
    await import_(store, plain(*rows))
    assert await balance(store, donor_account(coop.donor.id)) == before + expected
    async with store.reader() as uow:
        balances = await uow.ledger.balances()
    came_in = -sum(v for a, v in balances.items() if a == DEPOSITS)
    went_out = balances.get(PAYOUTS, 0)
    held = sum(v for a, v in balances.items() if not a.startswith("external:"))
    assert came_in == held + went_out
    await assert_ledger_invariants(store)


@pytest.mark.postgres
async def test_two_processes_importing_the_same_statement_credit_each_row_once(pg_url: str) -> None:
    import asyncio

    first, second = Database(pg_url), Database(pg_url)
    try:
        clock = FixedClock(datetime(2026, 12, 1, 6, 30, tzinfo=UTC))
        one, two = Store(first, clock), Store(second, clock)
        coop = await seed_coop(one, uuid.uuid4().hex[:8])
        refs = [await ask(one, coop, 10_000 * (i + 1)) for i in range(3)]
        data = plain(*[("2026-12-01", f"{100 * (i + 1)}", ref, txn()) for i, ref in enumerate(refs)])
        before = await balance(one, donor_account(coop.donor.id))
        reports = await asyncio.gather(import_(one, data), import_(two, data), import_(one, data))
        assert sorted(len(r.credited) for r in reports) == [0, 0, 3] and sum(r.already for r in reports) == 6
        assert await balance(one, donor_account(coop.donor.id)) == before + 60_000
        await assert_ledger_invariants(one)
    finally:
        await first.dispose()
        await second.dispose()

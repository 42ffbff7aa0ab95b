"""A ledger reference names one transaction: recorded again it is the same one, or refused."""

from __future__ import annotations

import uuid

import pytest

from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.ledger.model import DEPOSITS, LedgerConflict, Posting, Transaction, donor_account, transfer
from core.shared.clock import SystemClock
from tests.helpers import assert_ledger_invariants


async def test_the_same_ref_with_the_same_postings_is_one_transaction(db: Database) -> None:
    store, ref = Store(db, SystemClock()), f"same-{uuid.uuid4().hex}"
    account = donor_account(900_000 + uuid.uuid4().int % 100_000)
    async with store.uow() as uow:
        first = await uow.ledger.record(transfer("deposit", ref, DEPOSITS, account, 500))
    async with store.uow() as uow:
        again = await uow.ledger.record(transfer("deposit", ref, DEPOSITS, account, 500))
        assert again == first and await uow.ledger.balance(account) == 500
    await assert_ledger_invariants(store)


@pytest.mark.parametrize("other", [
    lambda acct: transfer("deposit", "", DEPOSITS, acct, 501),  # another amount
    lambda acct: transfer("deposit", "", DEPOSITS, donor_account(1), 500),  # another account
    lambda acct: Transaction("deposit", "", (Posting(DEPOSITS, -250), Posting(DEPOSITS, -250), Posting(acct, 500))),
])
async def test_the_same_ref_with_other_postings_is_refused_loudly(db: Database, other: object) -> None:
    store, ref = Store(db, SystemClock()), f"reused-{uuid.uuid4().hex}"
    account = donor_account(900_000 + uuid.uuid4().int % 100_000)
    async with store.uow() as uow:
        await uow.ledger.record(transfer("deposit", ref, DEPOSITS, account, 500))
    second = other(account)  # type: ignore[operator]
    second = Transaction(second.kind, ref, second.postings, second.memo)
    with pytest.raises(LedgerConflict):
        async with store.uow() as uow:
            await uow.ledger.record(second)
    async with store.reader() as uow:
        assert await uow.ledger.balance(account) == 500
    await assert_ledger_invariants(store)

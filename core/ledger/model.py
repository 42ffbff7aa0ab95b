"""Double-entry values in integer paise: postings, balanced transactions, settlement splits."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

BP = 10_000  # basis points in a whole
# Hard bound of one posting (₹1,000 crore in paise): far above every governed ceiling, and so far
# below 2**63 that millions of postings cannot overflow a database SUM (the ledger is append-only:
# one overflowing row would break every balance for good).
MAX_POSTING = 10**12


class DepositStatus(StrEnum):
    """Where a deposit above the limit stands; stored as its value."""

    PENDING = "pending"  # waiting for a second admin
    RECORDED = "recorded"
    REFUSED = "refused"


class PostingTooLarge(ValueError):
    """Raised when one posting's amount is beyond the ledger's hard bound."""


class UnbalancedTransaction(ValueError):
    """Raised when postings do not sum to zero."""


class InsufficientFunds(Exception):
    """Raised when a debit would take a guarded account below zero."""

    def __init__(self, account: str, balance: int, needed: int) -> None:
        super().__init__(f"{account} holds {balance} paise, {needed} needed")
        self.account, self.balance, self.needed = account, balance, needed


class LedgerConflict(Exception):
    """Raised when a kind+ref already recorded is recorded again with different postings."""

    def __init__(self, kind: str, ref: str, tx_id: int) -> None:
        super().__init__(f"{kind} {ref} is transaction {tx_id} with other postings: refs are never reused")
        self.kind, self.ref, self.tx_id = kind, ref, tx_id


@dataclass(frozen=True)
class Posting:
    """One line of a transaction: a signed amount (paise) on an account."""

    account: str
    amount: int

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError(f"amount must be int paise, got {type(self.amount).__name__}")
        if abs(self.amount) > MAX_POSTING:
            raise PostingTooLarge(f"{self.account}: {self.amount} paise is beyond the bound of {MAX_POSTING}")


@dataclass(frozen=True)
class Transaction:
    """An immutable set of postings that sums to zero, with a kind and an idempotency ref."""

    kind: str
    ref: str
    postings: tuple[Posting, ...]
    memo: str = ""

    def __post_init__(self) -> None:
        if not self.postings:
            raise UnbalancedTransaction(f"{self.kind}:{self.ref} has no postings")
        total = sum(p.amount for p in self.postings)
        if total != 0:
            raise UnbalancedTransaction(f"{self.kind}:{self.ref} sums to {total}, not 0")


def transfer(kind: str, ref: str, source: str, dest: str, amount: int, memo: str = "") -> Transaction:
    """Build a two-posting transaction moving `amount` paise from source to dest."""
    return Transaction(kind, ref, (Posting(source, -amount), Posting(dest, amount)), memo)


# Accounts that hold real money on someone's behalf and so may never go below zero.
def is_guarded(account: str) -> bool:
    """Tell whether an account must never be driven negative."""
    return not account.startswith("external:")


def donor_account(person_id: int) -> str:
    """Ledger account of a donor's unspent balance."""
    return f"donor:{person_id}"


def escrow_account(order_id: int) -> str:
    """Ledger account holding an order's money until settlement."""
    return f"escrow:order:{order_id}"


def restaurant_account(restaurant_id: int) -> str:
    """Ledger account of what the cooperative owes a restaurant."""
    return f"restaurant:{restaurant_id}"


def worker_account(worker_id: int) -> str:
    """Ledger account of what the cooperative owes a worker."""
    return f"worker:{worker_id}"


DEPOSITS = "external:deposits"
PAYOUTS = "external:payouts"
POOL = "pool:guarantee"
INFRA = "fund:infra"


def public_balances(accounts: dict[str, int]) -> dict[str, dict[str, int]]:
    """What anyone may see: the cooperative's own accounts (external, pool, fund) and totals per
    kind of account; a person's, restaurant's or worker's own balance is theirs to see by chat."""
    own = {a: v for a, v in accounts.items() if a.split(":", 1)[0] in ("external", "pool", "fund")}
    totals: dict[str, int] = {}
    for account, balance in accounts.items():
        kind = account.split(":", 1)[0]
        totals[kind] = totals.get(kind, 0) + balance
    return {"accounts": dict(sorted(own.items())), "totals_by_kind": dict(sorted(totals.items()))}


@dataclass(frozen=True)
class FeeSplit:
    """How a delivery fee divides between the worker, the guarantee pool and the infra fund."""

    worker: int
    pool: int
    infra: int


def split_fee(fee: int, worker_bp: int, pool_bp: int, infra_bp: int) -> FeeSplit:
    """Split a fee by basis-point shares; the rounding remainder goes to the worker."""
    if worker_bp + pool_bp + infra_bp != BP:
        raise ValueError("fee shares must add up to 10000 basis points")
    pool = fee * pool_bp // BP
    infra = fee * infra_bp // BP
    return FeeSplit(worker=fee - pool - infra, pool=pool, infra=infra)


@dataclass(frozen=True)
class WorkerPay:
    """What a worker earns for one job: their share of the delivery fee plus the whole tip."""

    fee: int
    tip: int

    @property
    def total(self) -> int:
        """Fee share and tip together, in paise."""
        return self.fee + self.tip


def worker_pay(delivery_fee: int, tip: int, shares: tuple[int, int, int]) -> WorkerPay:
    """The one rule for a worker's pay, used by job offers, delivery replies and settlement."""
    return WorkerPay(split_fee(delivery_fee, *shares).worker, tip)


def settlement(
    order_id: int,
    restaurant_id: int,
    worker_id: int,
    meal_price: int,
    delivery_fee: int,
    tip: int,
    shares: tuple[int, int, int],
) -> Transaction:
    """Build the settlement of a delivered order: escrow out to restaurant, worker, pool, fund."""
    split = split_fee(delivery_fee, *shares)
    pay = worker_pay(delivery_fee, tip, shares)
    lines = [
        Posting(restaurant_account(restaurant_id), meal_price),
        Posting(worker_account(worker_id), pay.fee),
        Posting(worker_account(worker_id), pay.tip),
        Posting(POOL, split.pool),
        Posting(INFRA, split.infra),
        Posting(escrow_account(order_id), -(meal_price + delivery_fee + tip)),
    ]
    return Transaction("settle", f"order:{order_id}", tuple(p for p in lines if p.amount), "")


def pro_rate(needs: dict[int, int], available: int) -> dict[int, int]:
    """Share `available` paise among needs in proportion, never exceeding any need or the total."""
    total = sum(needs.values())
    if total <= available:
        return dict(needs)
    out = {k: v * available // total for k, v in needs.items()}
    # hand out the paise lost to flooring, largest need first, so the pool is used fully
    left = available - sum(out.values())
    for k in sorted(needs, key=lambda k: (-needs[k], k)):
        if left <= 0:
            break
        if out[k] < needs[k]:
            out[k] += 1
            left -= 1
    return out


@dataclass(frozen=True)
class DepositRequest:
    """A deposit above the limit, waiting for a second admin."""

    id: int
    person_id: int
    amount: int
    requested_by: int
    status: DepositStatus

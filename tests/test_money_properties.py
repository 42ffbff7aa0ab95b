"""Property-based tests of the money rules: settlement splits, balanced integer transactions, pro-rating."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.ledger.model import (
    BP,
    INFRA,
    MAX_POSTING,
    POOL,
    Posting,
    PostingTooLarge,
    Transaction,
    UnbalancedTransaction,
    escrow_account,
    pro_rate,
    restaurant_account,
    settlement,
    split_fee,
    transfer,
    worker_account,
)

ORDER, RESTAURANT, WORKER = 7, 11, 13

paise = st.integers(min_value=0, max_value=10**9)
positive_paise = st.integers(min_value=1, max_value=10**9)


@st.composite
def fee_shares(draw: st.DrawFn) -> tuple[int, int, int]:
    """(worker, pool, infra) basis points summing to 10000: two cuts of the whole, in any order."""
    a, b = sorted((draw(st.integers(0, BP)), draw(st.integers(0, BP))))
    worker, pool, infra = draw(st.permutations([a, b - a, BP - b]))
    return worker, pool, infra


def by_account(tx: Transaction) -> dict[str, int]:
    """Sum a transaction's postings per account."""
    out: dict[str, int] = {}
    for p in tx.postings:
        out[p.account] = out.get(p.account, 0) + p.amount
    return out


@given(meal=positive_paise, fee=paise, tip=paise, shares=fee_shares())
def test_settlement_pays_everyone_their_exact_share_and_sums_to_zero(
    meal: int, fee: int, tip: int, shares: tuple[int, int, int]
) -> None:
    worker_bp, pool_bp, infra_bp = shares
    tx = settlement(ORDER, RESTAURANT, WORKER, meal, fee, tip, shares)
    paid = by_account(tx)

    pool_floor, infra_floor, worker_floor = fee * pool_bp // BP, fee * infra_bp // BP, fee * worker_bp // BP
    remainder = fee - pool_floor - infra_floor - worker_floor
    assert 0 <= remainder < 3  # three floors lose less than one paisa each
    assert sum(p.amount for p in tx.postings) == 0
    assert paid.get(restaurant_account(RESTAURANT), 0) == meal
    assert paid.get(worker_account(WORKER), 0) == worker_floor + tip + remainder
    assert paid.get(POOL, 0) == pool_floor
    assert paid.get(INFRA, 0) == infra_floor
    assert paid.get(escrow_account(ORDER), 0) == -(meal + fee + tip)
    assert set(paid) <= {restaurant_account(RESTAURANT), worker_account(WORKER), POOL, INFRA, escrow_account(ORDER)}
    # only the escrow is debited; nobody is paid a negative amount, and empty lines are left out
    assert all(p.amount > 0 for p in tx.postings if p.account != escrow_account(ORDER))
    assert all(p.amount != 0 for p in tx.postings)
    assert (tx.kind, tx.ref) == ("settle", f"order:{ORDER}")


@given(fee=paise, shares=fee_shares())
def test_the_fee_split_gives_the_rounding_remainder_to_the_worker(fee: int, shares: tuple[int, int, int]) -> None:
    split = split_fee(fee, *shares)
    assert (split.pool, split.infra) == (fee * shares[1] // BP, fee * shares[2] // BP)
    assert split.worker == fee - split.pool - split.infra
    assert fee * shares[0] // BP <= split.worker <= fee * shares[0] // BP + 2


@given(fee=paise, shares=st.tuples(*[st.integers(0, BP)] * 3).filter(lambda s: sum(s) != BP))
def test_fee_shares_that_do_not_make_a_whole_are_refused(fee: int, shares: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError, match="10000 basis points"):
        split_fee(fee, *shares)


not_int_paise = st.one_of(
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9),
    st.decimals(allow_nan=False, allow_infinity=False, min_value=-10**9, max_value=10**9),
    st.fractions(min_value=-10**9, max_value=10**9),
    st.integers(-10**9, 10**9).map(str),
)


@given(amount=not_int_paise)
def test_a_posting_refuses_anything_but_int_paise(amount: object) -> None:
    with pytest.raises(TypeError, match="must be int paise"):
        Posting("donor:1", amount)  # type: ignore[arg-type]


@given(amount=not_int_paise.filter(lambda a: not isinstance(a, str)))
def test_a_transfer_of_non_int_paise_is_refused_even_when_it_balances(amount: float | Decimal | Fraction) -> None:
    with pytest.raises(TypeError, match="must be int paise"):
        transfer("deposit", "ref", "external:deposits", "donor:1", amount)  # type: ignore[arg-type]


@given(amount=st.integers(min_value=MAX_POSTING + 1, max_value=2**70), sign=st.sampled_from([1, -1]))
def test_a_posting_beyond_the_hard_bound_is_refused(amount: int, sign: int) -> None:
    with pytest.raises(PostingTooLarge):
        Posting("donor:1", sign * amount)


@given(amounts=st.lists(st.integers(-10**9, 10**9), min_size=1, max_size=6).filter(lambda xs: sum(xs) != 0))
def test_unbalanced_postings_are_refused(amounts: list[int]) -> None:
    postings = tuple(Posting(f"a:{i}", a) for i, a in enumerate(amounts))
    with pytest.raises(UnbalancedTransaction, match=f"sums to {sum(amounts)}, not 0"):
        Transaction("k", "r", postings)


@given(amounts=st.lists(st.integers(-10**9, 10**9), min_size=1, max_size=6))
def test_postings_made_to_balance_are_accepted_as_they_are(amounts: list[int]) -> None:
    postings = tuple(Posting(f"a:{i}", a) for i, a in enumerate([*amounts, -sum(amounts)]))
    assert Transaction("k", "r", postings).postings == postings


def test_a_transaction_without_postings_is_refused() -> None:
    with pytest.raises(UnbalancedTransaction, match="no postings"):
        Transaction("k", "r", ())


needs_st = st.dictionaries(st.integers(1, 10_000), st.integers(1, 10**7), min_size=1, max_size=8)


@given(needs=needs_st, available=st.integers(0, 10**8))
def test_pro_rating_never_pays_more_than_a_need_or_than_what_is_available(needs: dict[int, int], available: int) -> None:
    paid = pro_rate(needs, available)
    assert set(paid) == set(needs)
    assert all(0 <= paid[k] <= needs[k] for k in needs)
    assert sum(paid.values()) == min(available, sum(needs.values()))


@given(needs=needs_st, extra=st.integers(0, 10**8))
def test_when_the_pool_suffices_every_need_is_paid_in_full(needs: dict[int, int], extra: int) -> None:
    assert pro_rate(needs, sum(needs.values()) + extra) == needs


@given(data=st.data(), needs=needs_st)
def test_when_the_pool_is_short_it_is_paid_out_exactly_pro_rata_largest_need_first_for_the_odd_paise(
    data: st.DataObject, needs: dict[int, int]
) -> None:
    total = sum(needs.values())
    available = data.draw(st.integers(0, total - 1))
    paid = pro_rate(needs, available)

    floors = {k: v * available // total for k, v in needs.items()}
    odd = available - sum(floors.values())
    assert 0 <= odd < len(needs)
    # The paise lost to flooring go one each to the largest needs, ties to the smaller id.
    first = sorted(needs, key=lambda k: (-needs[k], k))[:odd]
    assert paid == {k: floors[k] + (k in first) for k in needs}
    assert sum(paid.values()) == available

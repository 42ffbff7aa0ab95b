"""An order's money from many hands: contributions into escrow, and refunds back to each source.

Each contribution is its own ledger transaction (`order:<id>:c<n>`) from its source account (a
donor's balance, a pledge, a campaign, a card hold) into the order's escrow. A refund returns
money to the sources in proportion to what each still has in the escrow, exactly in paise (the
largest remainders get the odd paise, earlier contributions first on ties); the tip goes back
to those who gave it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from core.ledger.model import Posting, Transaction, donor_account, escrow_account
from core.ports import UnitOfWork


class Source(StrEnum):
    """Where a contribution's money comes from."""

    BALANCE = "balance"  # the contributor's donor balance
    PLEDGE = "pledge"  # money pledged ahead
    CAMPAIGN = "campaign"  # a campaign several donors funded
    CARD = "card"  # a card authorisation, captured at settlement
    POOL = "pool"  # the guarantee pool standing in for a card hold the provider cancelled


@dataclass(frozen=True)
class Contribution:
    """One source's part of an order's escrow."""

    id: int
    order_id: int
    seq: int  # 1, 2, … within the order: its ledger ref is order:<id>:c<seq>
    source: Source
    account: str  # the ledger account the money came from and returns to
    person_id: int  # who gave it (kept even when shown to others as anonymous)
    amount: int  # paise put in
    tip: int  # of `amount`, the part that is tip
    refunded: int = 0  # paise returned so far

    @property
    def held(self) -> int:
        """What of this contribution is still in the escrow."""
        return self.amount - self.refunded


@dataclass(frozen=True)
class Share:
    """Part of an order's total that one donor pays from their balance."""

    person_id: int
    amount: int  # paise, tip included
    tip: int = 0  # of `amount`, the part that is tip


def split_funding(payer_id: int, total: int, tip: int, co_funders: Sequence[Share] = ()) -> list[Share]:
    """Who pays what of an order: the payer's balance what the co-funders do not, listed first
    (omitted when nothing is left); refuses shares that do not fit the order (ValueError)."""
    ids = [s.person_id for s in co_funders]
    if len(set(ids)) != len(ids) or payer_id in ids:
        raise ValueError("each co-funder gives once, and not the payer")
    if any(s.amount <= 0 or not 0 <= s.tip <= s.amount for s in co_funders):
        raise ValueError("a share is a positive amount of which the tip is a part")
    rest, rest_tip = total - sum(s.amount for s in co_funders), tip - sum(s.tip for s in co_funders)
    if rest < 0 or not 0 <= rest_tip <= rest:
        raise ValueError("the co-funders' shares do not fit the order's total and tip")
    return ([Share(payer_id, rest, rest_tip)] if rest else []) + list(co_funders)


def share_out(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` paise in proportion to `weights`, exactly: floors, then one paisa each to the
    largest remainders (earlier first on ties). No part exceeds its weight when total ≤ sum."""
    whole = sum(weights)
    if total < 0 or any(w < 0 for w in weights):
        raise ValueError("shares are of non-negative amounts")
    if whole == 0:
        if total:
            raise ValueError("nothing to share out from")
        return [0 for _ in weights]
    parts = [total * w // whole for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


async def contribute(
    uow: UnitOfWork, order_id: int, person_id: int, account: str, source: Source, amount: int, tip: int, actor: str
) -> Contribution:
    """Move one contribution from its source into the order's escrow (its own ledger transaction)."""
    if amount <= 0 or not 0 <= tip <= amount:
        raise ValueError("a contribution is a positive amount of which the tip is a part")
    seq = await uow.contributions.next_seq(order_id)
    tx = Transaction("fund", f"order:{order_id}:c{seq}", (Posting(account, -amount), Posting(escrow_account(order_id), amount)),
                     f"{source.value} contribution")  # fmt: skip
    await uow.ledger.record(tx, actor)  # raises InsufficientFunds before anything is stored
    return await uow.contributions.add(order_id, seq, source, account, person_id, amount, tip)


async def contribute_many(uow: UnitOfWork, order_id: int, source: Source, parts: Sequence[tuple[int, str, int]],
                          actor: str, *, first: int | None = None) -> list[Contribution]:  # fmt: skip
    """Move several contributions without tip, (person id, account, paise) each, into the order's
    escrow, each its own ledger transaction as `contribute` makes it, in as few round trips as the
    store allows (`first`: the order's next contribution number, when the caller read it already);
    raises InsufficientFunds before anything is stored."""
    if any(amount <= 0 for _p, _a, amount in parts):
        raise ValueError("a contribution is a positive amount")
    if not parts:
        return []
    if first is None:
        first = await uow.contributions.next_seq(order_id)
    txs = [Transaction("fund", f"order:{order_id}:c{first + n}", (Posting(account, -amount), Posting(escrow_account(order_id), amount)),
                       f"{source.value} contribution") for n, (_p, account, amount) in enumerate(parts)]  # fmt: skip
    await uow.ledger.record_many(txs, actor)
    return await uow.contributions.add_many([Contribution(0, order_id, first + n, source, account, person_id, amount, 0)
                                             for n, (person_id, account, amount) in enumerate(parts)])  # fmt: skip


async def refund_to_sources(uow: UnitOfWork, order_id: int, amount: int | None, why: str, actor: str, *, tips: bool = False) -> int:
    """Return `amount` paise (all that is held when None) from the escrow to the contributions'
    sources, in proportion to what each still holds (or, with `tips`, to the tip each gave);
    one ledger transaction `order:<id>:refund:<why>`. Return what was refunded (0 is a no-op)."""
    contributions = await uow.contributions.for_order(order_id)
    # What is really left in the escrow caps it: payouts (a restaurant paid for a cooked meal)
    # leave less than the contributions still hold, and what is left goes back in proportion.
    in_escrow = await uow.ledger.balance(escrow_account(order_id))
    weights = [min(c.tip, c.held) for c in contributions] if tips else [c.held for c in contributions]
    value = min(in_escrow if amount is None else amount, sum(weights), in_escrow)
    if value <= 0:
        return 0
    parts = share_out(value, weights)
    by_account: dict[str, int] = {}
    to_pledges: list[tuple[int, int, bool]] = []  # (pledge id, paise, back into the pledge?)
    for contribution, part in zip(contributions, parts, strict=True):
        if part:
            account = contribution.account
            if contribution.source is Source.PLEDGE:
                # Back into the pledge, or to its donor when the pledge was cancelled meanwhile.
                pledge_id = int(account.split(":", 1)[1])
                pledge = await uow.pledges.get(pledge_id, lock=True)
                if pledge is None or pledge.status.value == "cancelled":
                    account = donor_account(contribution.person_id)
                to_pledges.append((pledge_id, part, account == contribution.account))
            by_account[account] = by_account.get(account, 0) + part
    lines = (Posting(escrow_account(order_id), -value), *(Posting(a, v) for a, v in sorted(by_account.items())))
    await uow.ledger.record(Transaction("refund", f"order:{order_id}:refund:{why}", lines, why), actor)
    for contribution, part in zip(contributions, parts, strict=True):
        if part:
            await uow.contributions.add_refunded(contribution.id, part)
    for pledge_id, part, kept in to_pledges:
        await uow.pledges.move(pledge_id, part if kept else 0, returned=0 if kept else part)
    return value

"""Money movements: deposits, escrow, refunds, settlement, the daily minimum top-up."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.ledger.model import (
    DEPOSITS,
    POOL,
    Posting,
    Transaction,
    donor_account,
    pro_rate,
    settlement,
    transfer,
    worker_account,
)
from core.ledger.params import Params
from core.orders import funding
from core.orders.model import Order
from core.ports import UnitOfWork
from core.shared.clock import local_day
from core.shared.events import TopUpShortfall

# Ledger kinds that count as a worker's earnings for the daily minimum.
EARNING_KINDS = ("settle",)


class DepositTooLarge(ValueError):
    """Raised when one deposit is above the governed ceiling `max_deposit`."""

    def __init__(self, amount: int, ceiling: int) -> None:
        super().__init__(f"a deposit of {amount} paise is above the ceiling of {ceiling}")
        self.amount, self.ceiling = amount, ceiling


async def record_deposit(uow: UnitOfWork, donor_id: int, amount: int, ref: str, actor: str, memo: str) -> int:
    """Credit a donor's balance with money received outside (cash, UPI, card)."""
    if amount <= 0:
        raise ValueError("a deposit must be a positive number of paise")
    ceiling = (await uow.params.current()).max_deposit
    if amount > ceiling:
        raise DepositTooLarge(amount, ceiling)
    return await uow.ledger.record(transfer("deposit", ref, DEPOSITS, donor_account(donor_id), amount, memo), actor)


async def fund_escrow(uow: UnitOfWork, order: Order, actor: str, account: str | None = None,
                      source: funding.Source = funding.Source.BALANCE) -> None:  # fmt: skip
    """Move the order's total from the donor's balance (or another source account, e.g. a card
    hold) into its escrow: one contribution."""
    await funding.contribute(uow, order.id, order.donor_id, account or donor_account(order.donor_id), source,
                             order.total, order.tip, actor)  # fmt: skip


async def refund_escrow(uow: UnitOfWork, order: Order, ref: str, actor: str, amount: int | None = None) -> int:
    """Return escrowed money (all of it unless `amount`) to the contributions' sources, each its
    share; return what was refunded (0 paise is a no-op)."""
    return await funding.refund_to_sources(uow, order.id, amount, ref, actor)


async def order_terms(uow: UnitOfWork, order: Order) -> Params:
    """The governed parameters an order is paid by: those in force when it was started (a fee or
    share change passed later applies to later orders; the delivery fee itself is on the order)."""
    return await uow.params.as_of(order.created_at)


async def settle_order(uow: UnitOfWork, order: Order, actor: str) -> int:
    """Pay out a delivered order's escrow exactly as the governed splits in force when it was started say."""
    params = await order_terms(uow, order)
    assert order.restaurant_id is not None and order.worker_id is not None
    tx = settlement(
        order.id, order.restaurant_id, order.worker_id, order.meal_price, order.delivery_fee, order.tip,
        params.fee_shares,
    )  # fmt: skip
    return await uow.ledger.record(tx, actor)


async def settle_failed_delivery(uow: UnitOfWork, order: Order, actor: str) -> int:
    """Pay a failed delivery: the restaurant its meal, the worker the fee (as the governed splits
    say), and return the tip to whoever gave it; return the settlement's transaction id."""
    params = await order_terms(uow, order)
    assert order.restaurant_id is not None and order.worker_id is not None
    tx = settlement(order.id, order.restaurant_id, order.worker_id, order.meal_price, order.delivery_fee, 0, params.fee_shares)
    tx_id = await uow.ledger.record(tx, actor)
    await funding.refund_to_sources(uow, order.id, order.tip, "tip", actor, tips=True)
    return tx_id


def previous_day(at: datetime) -> str:
    """The business day before the one `at` falls in."""
    return local_day(at - timedelta(days=1))


async def daily_minimum_topup(uow: UnitOfWork, day: str) -> dict[int, int]:
    """Top up every worker who earned something on `day` but less than the daily minimum.

    Idempotent per day; never drives the pool negative (pro-rated, shortfall recorded)."""
    if await uow.ledger.existing("topup", day) is not None or not await uow.job_runs.claim("topup", day):
        return {}
    params = await uow.params.current()
    earned = await uow.ledger.credits_on_day("worker:", day, EARNING_KINDS)
    needs = {
        int(acct.split(":")[1]): params.daily_minimum - amount
        for acct, amount in earned.items()
        if 0 < amount < params.daily_minimum
    }
    if not needs:
        return {}
    pool = max(await uow.ledger.balance(POOL), 0)
    paid = {w: v for w, v in pro_rate(needs, pool).items() if v > 0}
    if paid:
        lines = [Posting(worker_account(w), v) for w, v in sorted(paid.items())]
        lines.append(Posting(POOL, -sum(paid.values())))
        await uow.ledger.record(Transaction("topup", day, tuple(lines), "daily minimum"), "scheduler")
    if sum(paid.values()) < sum(needs.values()):
        uow.record(
            TopUpShortfall(
                actor="scheduler", day=day, needed=sum(needs.values()), paid=sum(paid.values()),
                worker_ids=sorted(needs),
            )
        )  # fmt: skip
    return paid

"""Stuck orders time out: a silent restaurant, an unclaimed job, a worker who does not come, a
meal not delivered. Each step acts once per order, stage and round of one stay in a status
(the order's `status_at`), recorded in uow.timeouts; every move is a lifecycle transition and
every ask an OrderTimedOut event that flows/notify.py turns into messages."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.board.base import JobBoard
from core.ledger import service as money
from core.ledger.model import escrow_account, restaurant_account, transfer
from core.members.model import Person, Worker
from core.orders import capacity
from core.orders.funding import refund_to_sources
from core.orders.lifecycle import Status
from core.orders.model import Order
from core.orders.service import OrderError, _owned_order, _send_elsewhere_or_decline, load
from core.ports import UnitOfWork
from core.shared.events import OrderTimedOut

ACTOR = "scheduler"
# A worker asked whether still coming has this long to answer before the job goes back.
PICKUP_ANSWER_MIN = 10


def waited_min(uow: UnitOfWork, order: Order) -> int:
    """Whole minutes the order has been in its status, by the store's clock."""
    return int((uow.at - datetime.fromisoformat(order.status_at)).total_seconds() // 60)


async def _current(uow: UnitOfWork, order_id: int, status: Status, since: str) -> Order | None:
    """The order, locked, if it is still in the stay the job saw (same status, same since)."""
    order = await uow.orders.get(order_id, lock=True)
    return order if order and order.status is status and order.status_at == since else None


def _timed_out(order: Order, stage: str, minutes: int, **extra: int | None) -> OrderTimedOut:
    return OrderTimedOut(actor=ACTOR, order_id=order.id, stage=stage, minutes=minutes, **extra)  # type: ignore[arg-type]


async def restaurant_silent(uow: UnitOfWork, order_id: int, since: str) -> bool:
    """No answer from the restaurant: as a rejection, the next nearest is tried, else refund."""
    order = await _current(uow, order_id, Status.AT_RESTAURANT, since)
    if order is None or not await uow.timeouts.mark(order.id, "restaurant", since):
        return False
    version, silent = order.version, order.restaurant_id
    assert silent is not None and order.capacity_day is not None
    uow.record(_timed_out(order, "restaurant", waited_min(uow, order), restaurant_id=silent))
    await capacity.release(uow, silent, order.capacity_day, order.id, ACTOR)
    await _send_elsewhere_or_decline(uow, order, ACTOR, first=False)
    await uow.orders.save(order, version)
    return True


async def unclaimed(uow: UnitOfWork, order_id: int, since: str) -> list[str]:
    """Nobody claimed the job: widen the offer once; ask the donor every claim_give_up_min."""
    order = await _current(uow, order_id, Status.ON_BOARD, since)
    if order is None:
        return []
    params, waited, done = await uow.params.current(), waited_min(uow, order), []
    if waited >= params.claim_wait_min and await uow.timeouts.mark(order.id, "widen", since):
        uow.record(_timed_out(order, "widen", waited))
        done.append("widen")
    due = waited // params.claim_give_up_min if params.claim_give_up_min else 0
    asked = len(await uow.timeouts.done(order.id, "give_up", since))
    if due > asked and await uow.timeouts.mark(order.id, "give_up", since, asked + 1):
        uow.record(_timed_out(order, "give_up", waited, round=asked + 1))
        done.append("give_up")
    return done


async def donor_was_asked(uow: UnitOfWork, order: Order) -> bool:
    """Whether the donor of this unclaimed job was asked to wait or cancel (and told that cancelling
    pays the restaurant) during its present stay on the board."""
    return order.status is Status.ON_BOARD and bool(await uow.timeouts.done(order.id, "give_up", order.status_at))


async def keep_waiting(uow: UnitOfWork, order_id: int, donor: Person) -> Order:
    """The donor will wait longer for a worker (the question comes again later)."""
    order = await _donors_job(uow, order_id, donor)
    uow.record(OrderTimedOut(actor=donor.actor, order_id=order.id, stage="kept_waiting", minutes=waited_min(uow, order)))
    return order


async def _donors_job(uow: UnitOfWork, order_id: int, donor: Person) -> Order:
    order = await load(uow, order_id)
    if order.donor_id != donor.id and not donor.is_admin:
        raise OrderError("not_yours", order_id)
    if order.status is not Status.ON_BOARD:
        raise OrderError(f"already_{order.status.value}", order_id)
    return order


async def abandon(uow: UnitOfWork, order_id: int, donor: Person, board: JobBoard) -> tuple[Order, int, int]:
    """Stop an unclaimed order: the restaurant, which cooked, is paid the meal from the escrow;
    the rest (fee and tip) goes back to who paid; return (order, paid to restaurant, refunded)."""
    order = await _donors_job(uow, order_id, donor)
    version = order.version
    assert order.restaurant_id is not None and order.capacity_day is not None
    paid = order.meal_price
    if paid:
        tx = transfer("abandon", f"order:{order.id}:abandon", escrow_account(order.id),
                      restaurant_account(order.restaurant_id), paid, "cooked, no worker came")  # fmt: skip
        await uow.ledger.record(tx, donor.actor)
    refund = await refund_rest(uow, order, "abandon", donor.actor)
    await capacity.complete(uow, order.restaurant_id, order.capacity_day, order.id, donor.actor)
    order.abandon(donor.actor, paid, refund)
    await uow.orders.save(order, version)
    uow.later(lambda: board.remove(order_id))
    return order, paid, refund


async def refund_rest(uow: UnitOfWork, order: Order, why: str, actor: str) -> int:
    """Return what is left in the escrow to the order's contributions (by what each still holds),
    or to the donor for an order paid from one balance without contribution records."""
    refunded = await refund_to_sources(uow, order.id, None, why, actor)
    if await uow.ledger.balance(escrow_account(order.id)) > 0:
        refunded += await money.refund_escrow(uow, order, f"{why}:rest", actor)
    return refunded


async def pickup_overdue(uow: UnitOfWork, order_id: int, since: str, board: JobBoard) -> str | None:
    """Claimed, not picked up: ask the worker once; no answer in PICKUP_ANSWER_MIN, job back."""
    order = await _current(uow, order_id, Status.CLAIMED, since)
    if order is None:
        return None
    asked = await uow.timeouts.done(order.id, "pickup_ask", since)
    waited = waited_min(uow, order)
    if not asked:
        if await uow.timeouts.mark(order.id, "pickup_ask", since):
            uow.record(_timed_out(order, "pickup_ask", waited, worker_id=order.worker_id))
            return "pickup_ask"
        return None
    if await uow.timeouts.done(order.id, "coming", since):
        return None
    if uow.at < datetime.fromisoformat(asked[0]) + timedelta(minutes=PICKUP_ANSWER_MIN):
        return None
    if not await uow.timeouts.mark(order.id, "pickup_release", since):
        return None
    uow.record(_timed_out(order, "pickup_release", waited, worker_id=order.worker_id))
    await _release(uow, order, board, ACTOR, "no answer")
    return "pickup_release"


async def _release(uow: UnitOfWork, order: Order, board: JobBoard, actor: str, reason: str) -> None:
    version = order.version
    order.release(actor, reason)
    await uow.orders.save(order, version)
    uow.later(lambda: board.release(order.id))


async def give_back(uow: UnitOfWork, order_id: int, worker: Worker, board: JobBoard, actor: str) -> Order:
    """The claiming worker will not come: the job goes back on the board, no penalty."""
    order = await _owned_order(uow, order_id, (Status.CLAIMED,), worker_id=worker.id)
    await _release(uow, order, board, actor, "given back")
    return order


async def still_coming(uow: UnitOfWork, order_id: int, worker: Worker, actor: str) -> Order:
    """The claiming worker is on the way: the job stays theirs."""
    order = await _owned_order(uow, order_id, (Status.CLAIMED,), worker_id=worker.id)
    if await uow.timeouts.mark(order.id, "coming", order.status_at):
        uow.record(OrderTimedOut(actor=actor, order_id=order.id, stage="coming", minutes=waited_min(uow, order),
                                 worker_id=worker.id))  # fmt: skip
    return order


async def delivery_overdue(uow: UnitOfWork, order_id: int, since: str) -> bool:
    """Picked up, not delivered: the worker is nudged and the admins told, once."""
    order = await _current(uow, order_id, Status.PICKED_UP, since)
    if order is None or not await uow.timeouts.mark(order.id, "delivery", since):
        return False
    uow.record(_timed_out(order, "delivery", waited_min(uow, order), worker_id=order.worker_id))
    return True

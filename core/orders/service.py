"""Order handlers: each moves one order through the lifecycle inside a unit of work."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from core.board.base import ClaimResult, Job, JobBoard
from core.funding import pledges
from core.ledger import service as money
from core.ledger.model import InsufficientFunds, donor_account, worker_pay
from core.ledger.params import Params
from core.members.model import Person, Restaurant, Worker
from core.orders import capacity, funding
from core.orders.funding import Share, Source
from core.orders.lifecycle import CAPACITY_HELD, Status, target
from core.orders.model import Order
from core.ports import UnitOfWork
from core.seekers.screening import Screener, ScreeningRequest, ScreeningResult, Verdict
from core.shared import geo
from core.shared.clock import LOCAL_TZ
from core.shared.events import FaceChecked

log = logging.getLogger(__name__)


class OrderError(Exception):
    """A command about an order that cannot be carried out; `code` names why."""

    def __init__(self, code: str, order_id: int | None = None) -> None:
        super().__init__(f"{code} (order {order_id})")
        self.code, self.order_id = code, order_id


@dataclass(frozen=True)
class MealOption:
    """A meal a donor can pick: which restaurant, which item, what it costs, how far."""

    restaurant_id: int
    restaurant_name: str
    item_id: int
    item_name: str
    price: int
    distance_m: int


def _minute_of_day(uow: UnitOfWork) -> int:
    local = uow.at.astimezone(LOCAL_TZ)
    return local.hour * 60 + local.minute


async def meal_options(
    uow: UnitOfWork, lat: float, lng: float, *, exclude: tuple[int, ...] = (), max_price: int | None = None
) -> list[MealOption]:
    """Meals of open, approved restaurants in range with capacity left, nearest first."""
    params = await uow.params.current()
    minute = _minute_of_day(uow)
    options: list[MealOption] = []
    for r in await uow.restaurants.approved():
        distance = geo.distance_m(lat, lng, r.lat, r.lng)
        if r.id in exclude or distance > params.restaurant_radius_m or not r.is_open_at(minute):
            continue
        if await uow.restaurants.remaining(r.id, uow.day) <= 0:
            continue
        for item in r.menu:
            if max_price is None or item.price <= max_price:
                options.append(MealOption(r.id, r.name, item.id, item.name, item.price, round(distance)))
    options.sort(key=lambda o: (o.distance_m, o.restaurant_id, o.price))
    return options


async def start_order(
    uow: UnitOfWork, donor: Person, lat: float, lng: float, photo_id: str | None, screener: Screener,
    *, busy: str = "unknown", lit: str = "unknown", review: str | None = None,
) -> Order:
    """Create a draft from the donor's photo, location and scene answers and screen it at once
    (`review`: the face comparison is left to people, see core.orders.second_look)."""
    order = Order(
        id=0, donor_id=donor.id, status=Status.DRAFT, seeker_lat=lat, seeker_lng=lng,
        zone=geo.encode(lat, lng, 5), created_at=uow.now, seeker_photo=photo_id,
    )  # fmt: skip
    await uow.orders.add(order)
    request = ScreeningRequest(donor.id, lat, lng, uow.at, photo_id, order.id, busy, lit, review=review)
    await apply_screening(uow, order, donor, await screener.screen(uow, request), 0)
    return order


async def apply_screening(uow: UnitOfWork, order: Order, donor: Person, result: ScreeningResult, version: int) -> None:
    """Move a draft by its screening verdict; an uncertain one keeps it a draft (a second photo is
    asked for) and records that in the chain."""
    if result.verdict is Verdict.UNCERTAIN:
        order.screening = result.as_dict()  # the draft waits for the donor's second photo
        if result.details.get("reason") == "lookalike":
            uow.record(FaceChecked(
                actor=donor.actor, order_id=order.id, outcome="second_photo_asked",
                duplicate_of_order=result.details.get("duplicate_of_order"), similarity_bp=result.details.get("similarity_bp"),
            ))  # fmt: skip
    else:
        verdict = {
            Verdict.PASS: order.screen, Verdict.DUPLICATE: order.reject_duplicate,
            Verdict.UNSAFE: order.reject_unsafe, Verdict.RETAKE: order.ask_retake,
        }  # fmt: skip
        verdict[result.verdict](result.as_dict(), donor.actor)
    await uow.orders.save(order, version)


async def load(uow: UnitOfWork, order_id: int) -> Order:
    """Load an order for change (row-locked on PostgreSQL) or raise OrderError('not_found')."""
    order = await uow.orders.get(order_id, lock=True)
    if order is None:
        raise OrderError("not_found", order_id)
    return order


async def fund_and_send(uow: UnitOfWork, order_id: int, donor: Person, item_id: int, tip: int, *,
                        card: tuple[str, int] | None = None, use_pledges: bool = False,
                        from_balance: int | None = None, co_funders: Sequence[Share] = ()) -> Order:  # fmt: skip
    """Price the chosen meal, move the money into escrow and send it to a restaurant.

    With `card` (hold account, total authorised for the escrow) the money comes from a card
    hold instead of the donor's balance; a price that changed since the link was made is refused.
    With `use_pledges`, matching pledges pay the meal and delivery first and the donor the rest —
    at most `from_balance` (what they were told they would pay; None: what pledges leave now),
    else PledgesTaken before anything is written.
    Co-funders' shares (their consent is the caller's to have, e.g. a campaign they joined) are
    paid from their balances, the rest from the donor's; each must cover its part or nothing moves."""
    order = await load(uow, order_id)
    if order.donor_id != donor.id:
        raise OrderError("not_yours", order_id)
    version = order.version
    chosen = next((o for o in await meal_options(uow, order.seeker_lat, order.seeker_lng) if o.item_id == item_id), None)
    if chosen is None:
        raise OrderError("meal_unavailable", order_id)
    params = await uow.params.current()
    order.choose_meal(chosen.restaurant_id, chosen.item_id, chosen.item_name, chosen.price, params.delivery_fee, max(tip, 0))
    if order.status is not Status.SCREENED:
        raise OrderError("not_screened", order_id)
    if card is not None:
        if order.total != card[1]:
            raise OrderError("price_changed", order_id)
        await money.fund_escrow(uow, order, donor.actor, card[0], Source.CARD)
        source = "card"
    elif use_pledges:
        source = await _fund_with_pledges(uow, order, donor, from_balance)
    else:
        await money.fund_escrow(uow, order, donor.actor, co_funders=co_funders)  # raises InsufficientFunds
        source = "balance"
    order.fund(donor.actor, source=source)
    if await capacity.reserve(uow, chosen.restaurant_id, order.id, donor.actor):
        order.send(uow.day, donor.actor)
    else:
        order.tried_restaurants.append(chosen.restaurant_id)
        await _send_elsewhere_or_decline(uow, order, donor.actor, first=True)
    await uow.orders.save(order, version)
    return order


class PledgesTaken(Exception):
    """Other orders took the pledged money this order counted on, between the look and the draw:
    pledges can now pay only `pledged`, leaving `left` (more than the donor agreed to) to pay.
    Raised before anything is written; the donor is asked whether to pay `left` from their balance."""

    def __init__(self, order_id: int, pledged: int, left: int) -> None:
        super().__init__(f"order {order_id}: pledges can pay {pledged} now, {left} is left to pay")
        self.order_id, self.pledged, self.left = order_id, pledged, left


async def _fund_with_pledges(uow: UnitOfWork, order: Order, donor: Person, from_balance: int | None) -> str:
    """Pledges pay what they can of the meal and delivery (never the tip), the donor the rest;
    refuse (InsufficientFunds) before anything is written when even all matching pledges would
    leave the donor short, and (PledgesTaken) when pledges were used up between the look and the
    draw so that the donor would pay more than `from_balance`. Return the funding's source label."""
    covered = order.meal_price + order.delivery_fee
    have = await uow.ledger.balance(donor_account(donor.id))
    could = await pledges.available_for(uow, order.seeker_lat, order.seeker_lng, enough=covered, requester_id=donor.id)
    could = min(covered, could)
    agreed = order.total - could if from_balance is None else from_balance
    if have < order.total - could:
        raise InsufficientFunds(donor_account(donor.id), have, order.total - could)
    planned = await pledges.plan(uow, order, covered)
    if order.total - planned.total > agreed:
        # Taken between the look and the draw. Look once more: a refund, or an order that rolled
        # back, may have put money back (the pledges planned so far stay locked for this order).
        planned = await pledges.plan(uow, order, covered)
    rest = order.total - planned.total
    if rest > agreed:
        raise PledgesTaken(order.id, planned.total, rest)
    if rest > have:
        raise InsufficientFunds(donor_account(donor.id), have, rest)
    drawn = (await pledges.draw(uow, order, planned, donor.actor)).total
    if rest:
        await funding.contribute(uow, order.id, donor.id, donor_account(donor.id), funding.Source.BALANCE, rest,
                                 order.tip, donor.actor)  # fmt: skip
    return "pledge" if rest == 0 else "pledge+balance" if drawn else "balance"


async def _send_elsewhere_or_decline(uow: UnitOfWork, order: Order, actor: str, *, first: bool) -> None:
    """Try the next nearest restaurant with a meal within the price paid; else refund all."""
    options = await meal_options(
        uow, order.seeker_lat, order.seeker_lng, exclude=tuple(order.tried_restaurants), max_price=order.meal_price
    )
    # Per restaurant, the meal closest to what was paid (nearest restaurant first).
    best: dict[int, MealOption] = {}
    for o in options:
        if o.restaurant_id not in best or o.price > best[o.restaurant_id].price:
            best[o.restaurant_id] = o
    for option in sorted(best.values(), key=lambda o: o.distance_m):
        if not await capacity.reserve(uow, option.restaurant_id, order.id, actor):
            continue
        if first:
            refund = order.meal_price - option.price
            order.choose_meal(option.restaurant_id, option.item_id, option.item_name, option.price,
                              order.delivery_fee, order.tip)  # fmt: skip
            order.send(uow.day, actor)
        else:
            refund = order.reroute(option.restaurant_id, option.item_id, option.item_name, option.price, uow.day, actor)
        if refund:
            await money.refund_escrow(uow, order, f"reroute:{option.restaurant_id}", actor, refund)
        return
    await money.refund_escrow(uow, order, "declined", actor)
    order.decline(actor, reason="no restaurant could take it")


async def send_funded(uow: UnitOfWork, order: Order, actor: str) -> None:
    """Send an order already priced and funded by others (a campaign) to its restaurant, or the
    next one with a meal within the price, else decline and refund (the caller saves it)."""
    assert order.restaurant_id is not None
    if await capacity.reserve(uow, order.restaurant_id, order.id, actor):
        order.send(uow.day, actor)
    else:
        order.tried_restaurants.append(order.restaurant_id)
        await _send_elsewhere_or_decline(uow, order, actor, first=True)


async def reject(uow: UnitOfWork, order_id: int, restaurant: Restaurant, actor: str) -> Order:
    """The restaurant says no: release its capacity and pass the order on, or refund."""
    order = await _owned_order(uow, order_id, (Status.AT_RESTAURANT,), restaurant_id=restaurant.id)
    version = order.version
    assert order.capacity_day is not None
    await capacity.release(uow, restaurant.id, order.capacity_day, order.id, actor)
    await _send_elsewhere_or_decline(uow, order, actor, first=False)
    await uow.orders.save(order, version)
    return order


async def _owned_order(
    uow: UnitOfWork, order_id: int, statuses: tuple[Status, ...], *, restaurant_id: int | None = None,
    worker_id: int | None = None,
) -> Order:
    """Load an order that belongs to this restaurant or worker and is in one of `statuses`."""
    order = await load(uow, order_id)
    if restaurant_id is not None and restaurant_id in order.tried_restaurants and (
        order.restaurant_id != restaurant_id or order.status is Status.DECLINED
    ):
        raise OrderError("moved_on", order_id)  # it went on without this restaurant's answer
    if (restaurant_id is not None and order.restaurant_id != restaurant_id) or (
        worker_id is not None and order.worker_id != worker_id
    ):
        raise OrderError("not_yours", order_id)
    if order.status not in statuses:
        raise OrderError(f"already_{order.status.value}", order_id)
    return order


def job_for(order: Order, restaurant: Restaurant, params: Params) -> Job:
    """What workers see before claiming: restaurant, approximate drop area, pay."""
    pay = worker_pay(order.delivery_fee, order.tip, params.fee_shares).total
    distance = geo.distance_m(restaurant.lat, restaurant.lng, order.seeker_lat, order.seeker_lng)
    payload = {
        "restaurant": restaurant.name, "restaurant_area": restaurant.address,
        "drop_area": geo.approximate_area(order.seeker_lat, order.seeker_lng),
        "pay": pay, "meal": order.meal_name, "distance_m": round(distance),
    }  # fmt: skip
    return Job(order.id, restaurant.zone, order_posted_at(order), payload)


def order_posted_at(order: Order) -> float:
    """The board's ordering key for an order: when it was created (epoch seconds)."""
    from datetime import datetime

    return datetime.fromisoformat(order.created_at).timestamp()


async def accept(uow: UnitOfWork, order_id: int, restaurant: Restaurant, board: JobBoard, actor: str) -> Order:
    """The restaurant will cook: the delivery job goes on the board."""
    order = await _owned_order(uow, order_id, (Status.AT_RESTAURANT,), restaurant_id=restaurant.id)
    version = order.version
    order.accept(actor)
    order.post(actor)
    await uow.orders.save(order, version)
    job = job_for(order, restaurant, await money.order_terms(uow, order))
    uow.later(lambda: board.post(job))
    return order


async def mark_ready(uow: UnitOfWork, order_id: int, restaurant: Restaurant, actor: str) -> Order:
    """The meal is packed and waiting for the worker."""
    order = await _owned_order(
        uow, order_id, (Status.ACCEPTED, Status.ON_BOARD, Status.CLAIMED), restaurant_id=restaurant.id
    )
    if order.ready_at:
        raise OrderError(f"already_{order.status.value}", order_id)
    version = order.version
    order.mark_ready(uow.at, actor)
    await uow.orders.save(order, version)
    return order


async def claim(uow: UnitOfWork, order_id: int, worker: Worker, board: JobBoard, actor: str) -> ClaimResult:
    """First claim wins on the board (outside this transaction); the order follows in this
    transaction, or the claim is released again."""
    result = await board.claim(order_id, worker.id)
    if not result.won:
        return result
    try:
        order = await load(uow, order_id)
        if order.status is Status.CLAIMED and order.worker_id == worker.id:
            return result  # a double tap after a win
        if order.status is not Status.ON_BOARD:
            uow.later(lambda: board.remove(order_id))
            return ClaimResult(order_id, False, None)
        version = order.version
        order.claim(worker.id, actor)
        await uow.orders.save(order, version)
    except BaseException:
        try:
            await board.release(order_id)
        except Exception:
            # The board is outside this transaction: a claim left behind is rolled forward
            # or released by jobs.reconcile_board.
            log.warning("could not release claim of order %s; reconciliation will", order_id)
        raise
    # The claimed entry stays on the board until pickup, so later taps learn who won.
    return result


async def pickup(uow: UnitOfWork, order_id: int, worker: Worker, board: JobBoard, actor: str) -> Order:
    """The worker has the meal in hand; the job leaves the board."""
    order = await _owned_order(uow, order_id, (Status.CLAIMED,), worker_id=worker.id)
    version = order.version
    order.pickup(actor)
    await uow.orders.save(order, version)
    uow.later(lambda: board.remove(order_id))
    return order


async def deliver(uow: UnitOfWork, order_id: int, worker: Worker, photo_id: str | None, lat: float, lng: float, actor: str) -> Order:
    """The seeker has the meal: record proof, complete capacity; it settles once the dispute
    window (governed `dispute_window_min`) has passed (`settle`, run by the scheduler)."""
    order = await _owned_order(uow, order_id, (Status.PICKED_UP,), worker_id=worker.id)
    version = order.version
    order.deliver(photo_id, lat, lng, actor, await _settle_after(uow))
    await _complete_capacity(uow, order, actor)
    await uow.orders.save(order, version)
    return order


async def fail_delivery(uow: UnitOfWork, order_id: int, worker: Worker, photo_id: str | None, lat: float, lng: float,
                        actor: str) -> Order:  # fmt: skip
    """The worker could not find the person: record the proof of the place; the meal was cooked and
    carried, so restaurant and worker are paid at settlement and the tip goes back."""
    order = await _owned_order(uow, order_id, (Status.PICKED_UP,), worker_id=worker.id)
    version = order.version
    order.fail_delivery(photo_id, lat, lng, actor, await _settle_after(uow))
    await _complete_capacity(uow, order, actor)
    await uow.orders.save(order, version)
    return order


async def _settle_after(uow: UnitOfWork) -> str:
    window = (await uow.params.current()).dispute_window_min
    return (uow.at + timedelta(minutes=window)).isoformat()


async def _complete_capacity(uow: UnitOfWork, order: Order, actor: str) -> None:
    assert order.restaurant_id is not None and order.capacity_day is not None
    await capacity.complete(uow, order.restaurant_id, order.capacity_day, order.id, actor)


async def settle(uow: UnitOfWork, order_id: int, actor: str = "scheduler") -> Order | None:
    """Pay out a delivered or failed order whose dispute window has passed; None when it is not
    (or no longer) due — settling twice is impossible: the row is locked and its status checked."""
    order = await uow.orders.get(order_id, lock=True)
    if order is None or order.status not in (Status.DELIVERED, Status.DELIVERY_FAILED):
        return None
    if order.settle_after is None or order.settle_after > uow.now:
        return None
    version = order.version
    if order.status is Status.DELIVERED:
        tx_id = await money.settle_order(uow, order, actor)
    else:
        tx_id = await money.settle_failed_delivery(uow, order, actor)
    order.settle(actor, tx_id)
    await uow.orders.save(order, version)
    return order


async def cancel(uow: UnitOfWork, order_id: int, donor: Person, board: JobBoard) -> tuple[Order, int]:
    """Stop an order before pickup: refund its escrow, release capacity; return (order, refund)."""
    order = await load(uow, order_id)
    if order.donor_id != donor.id and not donor.is_admin:
        raise OrderError("not_yours", order_id)
    version = order.version
    target(order.id, "cancel", order.status)  # refuse (IllegalTransition) before moving any money
    held_capacity = order.status in CAPACITY_HELD
    refund = await money.refund_escrow(uow, order, "cancel", donor.actor)
    order.cancel(donor.actor, refund)
    if held_capacity and order.restaurant_id and order.capacity_day:
        await capacity.release(uow, order.restaurant_id, order.capacity_day, order.id, donor.actor)
    await uow.orders.save(order, version)
    uow.later(lambda: board.remove(order_id))
    return order, refund

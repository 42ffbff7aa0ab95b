"""Stuck orders, as people hear of them: the notices the timeout job's events send, and the
answers to the questions it asks (the donor: wait or cancel; the worker: still coming?)."""

from __future__ import annotations

from core.members.model import Person
from core.orders import service as orders
from core.orders import timeouts
from core.orders.lifecycle import Status
from core.orders.model import Order
from core.orders.offers import withdraw_job_offers
from core.ports import UnitOfWork
from core.shared import geo
from core.shared.bus import MessageBus
from core.shared.events import DomainEvent, OrderTimedOut, OrderTransitioned
from flows.common import payload_int
from flows.context import FlowContext, deliver_to
from flows.i18n import money, translator
from flows.jobs import offer_job
from flows.messages import Choice, Inbound, Outbound
from flows.steps import Verb

GIVE_UP_REF = "giveup"  # message meta: the donor's wait-or-cancel question about an order


async def _owner(uow: UnitOfWork, restaurant_id: int | None) -> Person | None:
    r = await uow.restaurants.get(restaurant_id or 0)
    return await uow.people.get(r.person_id) if r else None


async def _worker_person(uow: UnitOfWork, worker_id: int | None) -> Person | None:
    w = await uow.workers.get(worker_id or 0)
    return await uow.people.get(w.person_id) if w else None


async def on_order_timed_out(event: DomainEvent, uow: UnitOfWork) -> None:
    """Tell the people concerned that an order waited too long at a stage."""
    assert isinstance(event, OrderTimedOut)
    order = await uow.orders.get(event.order_id)
    handler = _BY_STAGE.get(event.stage)
    if order is not None and handler is not None:
        await handler(uow, order, event)


async def _restaurant_silent(uow: UnitOfWork, order: Order, event: OrderTimedOut) -> None:
    if owner := await _owner(uow, event.restaurant_id):
        _ = translator(owner.language, owner.channel)
        await deliver_to(uow, owner, Outbound(_(
            "Order #{id} had no answer for {minutes} minutes, so it has moved on. Please do not cook it. "
            "Thank you all the same!").format(id=order.id, minutes=event.minutes)))  # fmt: skip


async def _widen(uow: UnitOfWork, order: Order, event: OrderTimedOut) -> None:
    r = await uow.restaurants.get(order.restaurant_id or 0)
    if r is None:
        return
    near = set(geo.neighbourhood(r.zone))
    wider = {cell for z in near for cell in geo.neighbourhood(z)} - near
    # Workers near the restaurant had the offer already (when it was posted).
    offered = {w.id for w in await uow.workers.online_in(sorted(near))}
    await offer_job(uow, order, sorted(wider), skip=offered)


async def _ask_donor(uow: UnitOfWork, order: Order, event: OrderTimedOut) -> None:
    donor = await uow.people.get(order.donor_id)
    r = await uow.restaurants.get(order.restaurant_id or 0)
    if donor is None or r is None:
        return
    _, lang = translator(donor.language, donor.channel), donor.language
    await uow.prompts.withdraw(f"{GIVE_UP_REF}:{order.id}")  # asked again: only the newest question counts
    text = _("Nobody has claimed the delivery of order #{id} for {minutes} minutes. You can wait longer, or cancel: "
             "{restaurant} has already cooked the meal, so it is paid {paid} from the money held, and {amount} "
             "comes back to you.").format(id=order.id, minutes=event.minutes, restaurant=r.name,
                                          paid=money(order.meal_price, lang),
                                          amount=money(order.total - order.meal_price, lang))  # fmt: skip
    choices = (Choice(_("Wait longer"), f"{Verb.WAIT}:{order.id}"), Choice(_("Cancel"), f"{Verb.GIVE_UP}:{order.id}"))
    await deliver_to(uow, donor, Outbound(text, choices, meta={GIVE_UP_REF: order.id}))


async def _ask_worker(uow: UnitOfWork, order: Order, event: OrderTimedOut) -> None:
    if person := await _worker_person(uow, event.worker_id):
        _ = translator(person.language, person.channel)
        await deliver_to(uow, person, Outbound(
            _("Are you still coming for job #{id}?").format(id=order.id),
            (Choice(_("Yes, on my way"), f"{Verb.COMING}:{order.id}"), Choice(_("Give it back"), f"{Verb.GIVE_BACK}:{order.id}")),
        ))  # fmt: skip


async def _delivery_late(uow: UnitOfWork, order: Order, event: OrderTimedOut) -> None:
    worker = await uow.workers.get(event.worker_id or 0)
    if worker and (person := await uow.people.get(worker.person_id)):
        _ = translator(person.language, person.channel)
        await deliver_to(uow, person, Outbound(
            _("Order #{id} was picked up {minutes} minutes ago. Please deliver it now, or report a problem to an admin.").format(
                id=order.id, minutes=event.minutes),
            (Choice(_("Delivered"), f"{Verb.DELIVERED}:{order.id}"),),
        ))  # fmt: skip
    for admin in await uow.people.admins():
        _ = translator(admin.language, admin.channel)
        await deliver_to(uow, admin, Outbound(_(
            "Order #{id} was picked up {minutes} minutes ago by {name} and is not delivered yet. Please check on it.").format(
            id=order.id, minutes=event.minutes, name=worker.name if worker else "-")))  # fmt: skip


_BY_STAGE = {
    "restaurant": _restaurant_silent,
    "widen": _widen,
    "give_up": _ask_donor,
    "pickup_ask": _ask_worker,
    "delivery": _delivery_late,
}


async def on_order_transitioned(event: DomainEvent, uow: UnitOfWork) -> None:
    """The moves that timeouts add: a job given back, an order abandoned; a claim ends the
    donor's wait-or-cancel question."""
    assert isinstance(event, OrderTransitioned)
    order = await uow.orders.get(event.order_id)
    if order is None:
        return
    if event.transition == "claim":
        await uow.prompts.withdraw(f"{GIVE_UP_REF}:{order.id}")
    elif event.transition == "release":
        await _released(uow, order, event)
    elif event.transition == "abandon":
        await _abandoned(uow, order, event)


async def _released(uow: UnitOfWork, order: Order, event: OrderTransitioned) -> None:
    worker_id = int(event.details.get("worker_id") or 0)
    if person := await _worker_person(uow, worker_id):
        _ = translator(person.language, person.channel)
        if event.details.get("reason") == "no answer":
            text = _("No answer came, so job #{id} is back on the board for others. No problem, and no penalty.")
        else:
            text = _("Job #{id} is back on the board. Thank you for telling us.")
        await deliver_to(uow, person, Outbound(text.format(id=order.id)))
    r = await uow.restaurants.get(order.restaurant_id or 0)
    if r is not None:
        await offer_job(uow, order, geo.neighbourhood(r.zone), skip=(worker_id,))


async def _abandoned(uow: UnitOfWork, order: Order, event: OrderTransitioned) -> None:
    await withdraw_job_offers(uow, order.id, event.actor)
    await uow.prompts.withdraw(f"{GIVE_UP_REF}:{order.id}")  # also when the donor typed "cancel" instead
    if owner := await _owner(uow, order.restaurant_id):
        _ = translator(owner.language, owner.channel)
        await deliver_to(uow, owner, Outbound(_(
            "No delivery worker came for order #{id}, so the donor called it off. {amount} for the meal you cooked "
            "is credited to you.").format(id=order.id, amount=money(int(event.details.get("paid_restaurant", 0)),
                                                                   owner.language))))  # fmt: skip


def register(bus: MessageBus) -> None:
    """Subscribe the timeout notices."""
    bus.on(OrderTimedOut, on_order_timed_out)
    bus.on(OrderTransitioned, on_order_transitioned)


async def _order_id(ctx: FlowContext, msg: Inbound) -> int | None:
    if (order_id := payload_int(msg)) is None:
        await ctx.reply(ctx._("That button is no longer active. Send /help to see what you can do."))
    return order_id


async def _not_waiting(ctx: FlowContext, exc: orders.OrderError) -> None:
    _ = ctx._
    if exc.code in (f"already_{Status.CLAIMED}", f"already_{Status.PICKED_UP}", f"already_{Status.DELIVERED}",
                    f"already_{Status.SETTLED}"):  # fmt: skip
        await ctx.reply(_("A worker has claimed order #{id} meanwhile, so it goes ahead.").format(id=exc.order_id))
    else:
        await ctx.reply(_("Order #{id} is no longer waiting for a worker.").format(id=exc.order_id))


async def wait_longer(ctx: FlowContext, msg: Inbound) -> None:
    """The donor waits longer for a worker; the question comes again later."""
    if (order_id := await _order_id(ctx, msg)) is None:
        return
    try:
        await timeouts.keep_waiting(ctx.uow, order_id, ctx.person)
    except orders.OrderError as exc:
        return await _not_waiting(ctx, exc)
    minutes = (await ctx.uow.params.current()).claim_give_up_min
    await ctx.reply(ctx._("We keep looking for a worker for order #{id} and will ask you again in {minutes} minutes.").format(
        id=order_id, minutes=minutes))  # fmt: skip


async def give_up(ctx: FlowContext, msg: Inbound) -> None:
    """The donor stops an order nobody came for: the restaurant is paid, the rest refunded."""
    if (order_id := await _order_id(ctx, msg)) is None:
        return
    await give_up_order(ctx, order_id)


async def give_up_order(ctx: FlowContext, order_id: int) -> None:
    """Abandon the order as the donor was told (the restaurant paid) and say what happened."""
    _, lang = ctx._, ctx.person.language
    try:
        _order, paid, refund = await timeouts.abandon(ctx.uow, order_id, ctx.person, ctx.services.board)
    except orders.OrderError as exc:
        return await _not_waiting(ctx, exc)
    await ctx.reply(_("Order #{id} is cancelled. {paid} paid the restaurant for the meal it cooked; {refund} is back "
                      "in your balance.").format(id=order_id, paid=money(paid, lang), refund=money(refund, lang)))  # fmt: skip


async def coming(ctx: FlowContext, msg: Inbound) -> None:
    """The worker is on the way: the job stays theirs."""
    worker = await ctx.uow.workers.by_person(ctx.person.id)
    if worker is None or (order_id := await _order_id(ctx, msg)) is None:
        return
    try:
        await timeouts.still_coming(ctx.uow, order_id, worker, ctx.person.actor)
    except orders.OrderError:
        await ctx.reply(ctx._("Job #{id} has already moved on; nothing to do.").format(id=order_id))
        return
    await ctx.reply(ctx._("Thank you! Job #{id} stays yours.").format(id=order_id))


async def give_back(ctx: FlowContext, msg: Inbound) -> None:
    """The worker cannot come: the job goes back on the board, no penalty."""
    worker = await ctx.uow.workers.by_person(ctx.person.id)
    if worker is None or (order_id := await _order_id(ctx, msg)) is None:
        return
    try:
        await timeouts.give_back(ctx.uow, order_id, worker, ctx.services.board, ctx.person.actor)
    except orders.OrderError:
        await ctx.reply(ctx._("Job #{id} has already moved on; nothing to do.").format(id=order_id))

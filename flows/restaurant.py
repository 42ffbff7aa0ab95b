"""The restaurant's part: accept or reject each order, then mark it ready."""

from __future__ import annotations

from core.orders import service as orders
from core.people import Approval, Restaurant
from flows.common import payload_int
from flows.context import FlowContext
from flows.messages import Choice, Inbound


async def _own_restaurant(ctx: FlowContext) -> Restaurant | None:
    restaurant = await ctx.uow.restaurants.by_person(ctx.person.id)
    if restaurant is None or restaurant.status is not Approval.APPROVED:
        await ctx.reply(ctx._("Only an approved restaurant can do that."))
        return None
    return restaurant


async def _restaurant_command(ctx: FlowContext, msg: Inbound) -> tuple[Restaurant, int] | None:
    """The approved restaurant of the sender and the order a button names (or a polite reply)."""
    restaurant = await _own_restaurant(ctx)
    if restaurant is None:
        return None
    if (order_id := payload_int(msg)) is None:
        await ctx.reply(ctx._("That button is no longer active. Send /help to see what you can do."))
        return None
    return restaurant, order_id


async def _order_problem(ctx: FlowContext, exc: orders.OrderError) -> None:
    _ = ctx._
    if exc.code == "not_yours":
        await ctx.reply(_("Order #{id} is not for your restaurant.").format(id=exc.order_id))
    elif exc.code == "already_cancelled":
        await ctx.reply(_("Order #{id} was cancelled by the donor.").format(id=exc.order_id))
    elif exc.code.startswith("already_"):
        await ctx.reply(_("Order #{id} was already answered.").format(id=exc.order_id))
    else:
        await ctx.reply(_("Order #{id} no longer exists.").format(id=exc.order_id))


async def accept(ctx: FlowContext, msg: Inbound) -> None:
    """Accept: the delivery job goes on the board; offer the Ready button."""
    _ = ctx._
    if (command := await _restaurant_command(ctx, msg)) is None:
        return
    restaurant, order_id = command
    try:
        order = await orders.accept(ctx.uow, order_id, restaurant, ctx.services.board, ctx.person.actor)
    except orders.OrderError as exc:
        return await _order_problem(ctx, exc)
    await ctx.reply(
        _("Accepted order #{id}: {meal}. A delivery worker will come for it. Tap Ready when it is packed.").format(
            id=order.id, meal=order.meal_name),
        (Choice(_("Ready"), f"ready:{order.id}"),),
    )  # fmt: skip


async def reject(ctx: FlowContext, msg: Inbound) -> None:
    """Reject: the capacity comes back and the order goes to the next restaurant."""
    _ = ctx._
    if (command := await _restaurant_command(ctx, msg)) is None:
        return
    restaurant, order_id = command
    try:
        await orders.reject(ctx.uow, order_id, restaurant, ctx.person.actor)
    except orders.OrderError as exc:
        return await _order_problem(ctx, exc)
    await ctx.reply(_("Rejected order #{id}. It has been passed on. Thank you for answering quickly.").format(id=order_id))


async def ready(ctx: FlowContext, msg: Inbound) -> None:
    """The meal is packed: the worker is told."""
    _ = ctx._
    if (command := await _restaurant_command(ctx, msg)) is None:
        return
    restaurant, order_id = command
    try:
        await orders.mark_ready(ctx.uow, order_id, restaurant, ctx.person.actor)
    except orders.OrderError as exc:
        if exc.code.startswith("already_") and exc.code != "already_cancelled":
            await ctx.reply(_("Order #{id} is already marked ready.").format(id=order_id))
            return
        return await _order_problem(ctx, exc)
    await ctx.reply(_("Order #{id} is marked ready. Thank you!").format(id=order_id))

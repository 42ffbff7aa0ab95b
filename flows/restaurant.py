"""The restaurant's part: accept or reject each order, then mark it ready."""

from __future__ import annotations

from core.ledger.params import MAX_INT32
from core.members import registration
from core.members.model import Approval, Restaurant
from core.orders import service as orders
from flows.common import normalise, payload_int
from flows.context import FlowContext
from flows.i18n import money, plural
from flows.messages import Choice, Inbound
from flows.numbers import read_int
from flows.onboarding import menu_refused, parse_menu
from flows.steps import Step


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
    elif exc.code == "moved_on":
        await ctx.reply(_("Order #{id} has moved on to another restaurant or back to the donor. Please do not cook it.").format(
            id=exc.order_id))  # fmt: skip
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


# --- what the restaurant offers: daily capacity and alms menu ----------------------------------


async def capacity(ctx: FlowContext, msg: Inbound) -> None:
    """/capacity [meals]: change the daily pledge at once, or show today's and ask for one."""
    _ = ctx._
    if (restaurant := await _own_restaurant(ctx)) is None:
        return
    words = normalise(msg.text).split()
    if len(words) > 1:
        return await _set_capacity(ctx, restaurant, words[1])
    remaining = await ctx.uow.restaurants.remaining(restaurant.id, ctx.uow.day)
    ctx.goto(Step.REST_SET_CAPACITY)
    await ctx.reply(_("You pledge {pledged} meals a day; {left} are left today. Send a new number of meals per day (0 pauses orders).")
                    .format(pledged=restaurant.daily_capacity, left=max(remaining, 0)))  # fmt: skip


async def set_capacity_step(ctx: FlowContext, msg: Inbound) -> None:
    """The number asked for by /capacity."""
    if (restaurant := await _own_restaurant(ctx)) is None:
        ctx.goto(None)
        return
    await _set_capacity(ctx, restaurant, normalise(msg.text) if msg.kind == "text" else "")


async def _set_capacity(ctx: FlowContext, restaurant: Restaurant, said: str) -> None:
    _ = ctx._
    try:
        pledged = read_int(said, 0, MAX_INT32)
        if pledged is None:
            raise registration.RegistrationError("bad_capacity")
        used = await registration.set_daily_capacity(ctx.uow, restaurant, pledged, ctx.person.actor)
    except registration.RegistrationError:
        ctx.goto(Step.REST_SET_CAPACITY)
        await ctx.reply(_("Please send a number of meals per day from 0 to {max}, for example 20.").format(
            max=(await ctx.uow.params.current()).max_capacity))  # fmt: skip
        return
    ctx.goto(None)
    if pledged == 0:
        await ctx.reply(_("New orders are paused. Orders you already have stay. Send /capacity to open again."))
    else:
        await ctx.reply(_("You now pledge {pledged} meals a day; {left} are left today.").format(
            pledged=pledged, left=max(pledged - used, 0)))  # fmt: skip


async def menu(ctx: FlowContext, msg: Inbound) -> None:
    """/menu: show the alms menu and ask for a new one."""
    _ = ctx._
    if (restaurant := await _own_restaurant(ctx)) is None:
        return
    current = "\n".join(f"{item.name} {money(item.price, ctx.person.language)}" for item in restaurant.menu)
    ctx.goto(Step.REST_SET_MENU)
    await ctx.reply(_("Your alms menu:\n{menu}\nTo change it, send the whole new menu, one meal and price per line.").format(
        menu=current))  # fmt: skip


async def set_menu_step(ctx: FlowContext, msg: Inbound) -> None:
    """The new menu asked for by /menu: it replaces the old one whole."""
    _ = ctx._
    if (restaurant := await _own_restaurant(ctx)) is None:
        ctx.goto(None)
        return
    text = msg.text if msg.kind == "text" else ""
    items = parse_menu(text)
    if await menu_refused(ctx, text, items) or items is None:
        return
    await registration.replace_menu(ctx.uow, restaurant, items, ctx.person.actor)
    ctx.goto(None)
    meals = plural(ctx.person.language, "Your alms menu now has {count} meal.", "Your alms menu now has {count} meals.", len(items))
    await ctx.reply(meals.format(count=len(items)) + " " + _("Orders already placed keep theirs."))


STEPS = {Step.REST_SET_CAPACITY: set_capacity_step, Step.REST_SET_MENU: set_menu_step}

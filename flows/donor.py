"""The donor's path: photo, location, screening, meal, tip, payment from balance."""

from __future__ import annotations

import asyncio

from core.ledger.model import InsufficientFunds, donor_account
from core.orders import service as orders
from core.orders.lifecycle import Status
from core.photos import PhotoRejected, clean_photo
from flows.common import cancel_one, payload_int
from flows.context import FlowContext
from flows.i18n import distance, money
from flows.messages import Choice, Inbound
from flows.onboarding import require_location

MAX_MEAL_BUTTONS = 8
TIP_OPTIONS = (0, 1_000, 2_000)  # paise


def photo_problem(ctx: FlowContext, reason: str) -> str:
    """A polite explanation of why a photo could not be used."""
    _ = ctx._
    return {
        "too_big": _("That photo is too large. Please send a smaller photo (under 10 MB)."),
        "not_image": _("That file is not a photo I can use. Please send a JPEG, PNG or WebP photo."),
    }.get(reason, _("I could not read that photo. Please take it again and send it."))


async def store_photo(ctx: FlowContext, msg: Inbound, kind: str) -> str | None:
    """Clean and store a photo; reply and return None when it cannot be used."""
    try:
        cleaned = await asyncio.to_thread(clean_photo, msg.photo or b"")  # CPU work off the event loop
    except PhotoRejected as exc:
        await ctx.reply(photo_problem(ctx, exc.reason))
        return None
    photo_id = await ctx.services.photos.put(cleaned)
    await ctx.uow.photos.add(photo_id, kind, ctx.person.id, "image/jpeg")
    return photo_id


async def photo_received(ctx: FlowContext, msg: Inbound) -> None:
    """A seeker's photo starts a request: ask where the person is."""
    _ = ctx._
    photo_id = await store_photo(ctx, msg, "seeker")
    if photo_id is None:
        return
    ctx.goto("donor_location", photo=photo_id)
    await ctx.reply(_("Thank you. Now share the location where the person is (attach → Location)."))


async def donor_location(ctx: FlowContext, msg: Inbound) -> None:
    """Screen the request and offer meals nearby."""
    _ = ctx._
    if msg.kind == "photo":
        return await photo_received(ctx, msg)  # a better photo replaces the first
    if not await require_location(ctx, msg):
        return
    assert msg.lat is not None and msg.lng is not None
    order = await orders.start_order(ctx.uow, ctx.person, msg.lat, msg.lng, ctx.data.get("photo"), ctx.services.screener)
    if order.status is Status.REJECTED_DUPLICATE:
        ctx.goto(None)
        await ctx.reply(_("This person was already given a meal recently near here, so this order will not go ahead. Thank you for caring."))
        return
    if order.status is Status.REJECTED_UNSAFE:
        ctx.goto(None)
        await ctx.reply(_("This place does not look safe for a delivery right now. A busier or better-lit spot, or daylight, would help."))
        return
    await offer_meals(ctx, order.id, msg.lat, msg.lng)


async def offer_meals(ctx: FlowContext, order_id: int, lat: float, lng: float) -> None:
    """List nearby meals as buttons, or say none is available and close the draft."""
    _, lang = ctx._, ctx.person.language
    options = await orders.meal_options(ctx.uow, lat, lng)
    if not options:
        await orders.cancel(ctx.uow, order_id, ctx.person, ctx.services.board)
        ctx.goto(None)
        await ctx.reply(_("Sorry, no restaurant near there can take an order right now. Please try again later."))
        return
    buttons = tuple(
        Choice(f"{o.item_name} {money(o.price, lang)} · {o.restaurant_name} ({distance(o.distance_m, lang)})",
               f"meal:{order_id}:{o.item_id}")  # fmt: skip
        for o in options[:MAX_MEAL_BUTTONS]
    )
    ctx.goto("donor_meal", order=order_id)
    await ctx.reply(_("Meals near this person — choose one:"), buttons + (Choice(_("Cancel"), f"cancel:{order_id}"),))


async def choose_meal(ctx: FlowContext, msg: Inbound) -> None:
    """Remember the meal and offer a tip for the worker."""
    _, lang = ctx._, ctx.person.language
    order_id, item_id = payload_int(msg, 0), payload_int(msg, 1)
    order = await ctx.uow.orders.get(order_id or 0)
    if order is None or item_id is None or order.donor_id != ctx.person.id or order.status is not Status.SCREENED:
        await ctx.reply(_("That choice is no longer open. Send a new photo to start again."))
        return
    ctx.goto("donor_tip", order=order.id, item=item_id)
    tips = tuple(
        Choice(_("No tip") if t == 0 else _("Tip {amount}").format(amount=money(t, lang)), f"tip:{order.id}:{item_id}:{t}")
        for t in TIP_OPTIONS
    )
    await ctx.reply(_("Would you like to add a tip for the delivery worker? All of it goes to them."), tips)


async def choose_tip(ctx: FlowContext, msg: Inbound) -> None:
    """Show the price breakdown and ask for confirmation."""
    _, lang = ctx._, ctx.person.language
    order_id, item_id, tip = payload_int(msg, 0), payload_int(msg, 1), payload_int(msg, 2)
    order = await ctx.uow.orders.get(order_id or 0)
    if order is None or order.donor_id != ctx.person.id or order.status is not Status.SCREENED or tip not in TIP_OPTIONS:
        await ctx.reply(_("That choice is no longer open. Send a new photo to start again."))
        return
    options = {o.item_id: o for o in await orders.meal_options(ctx.uow, order.seeker_lat, order.seeker_lng)}
    meal = options.get(item_id or 0)
    if meal is None:
        await ctx.reply(_("Sorry, that meal was just taken. Please choose another."))
        return await offer_meals(ctx, order.id, order.seeker_lat, order.seeker_lng)
    fee = (await ctx.uow.params.current()).delivery_fee
    total = meal.price + fee + tip
    have = await ctx.uow.ledger.balance(donor_account(ctx.person.id))
    text = _("{meal} from {restaurant}\nMeal {price} + delivery {fee} + tip {tip} = {total}\nYour balance: {balance}").format(
        meal=meal.item_name, restaurant=meal.restaurant_name, price=money(meal.price, lang), fee=money(fee, lang),
        tip=money(tip, lang), total=money(total, lang), balance=money(have, lang),
    )  # fmt: skip
    ctx.goto("donor_confirm", order=order.id)
    await ctx.reply(
        text,
        (Choice(_("Pay {total}").format(total=money(total, lang)), f"pay:{order.id}:{meal.item_id}:{tip}"),
         Choice(_("Cancel"), f"cancel:{order.id}")),
    )  # fmt: skip


async def pay(ctx: FlowContext, msg: Inbound) -> None:
    """Fund the order from the donor's balance and send it to the restaurant."""
    _, lang = ctx._, ctx.person.language
    order_id, item_id, tip = payload_int(msg, 0), payload_int(msg, 1), payload_int(msg, 2)
    if order_id is None or item_id is None or tip not in TIP_OPTIONS:
        await ctx.reply(_("That choice is no longer open. Send a new photo to start again."))
        return
    existing = await ctx.uow.orders.get(order_id)
    if existing is not None and existing.status is not Status.SCREENED:
        await ctx.reply(_("Order #{id} is already paid.").format(id=order_id))  # a double tap
        return
    try:
        order = await orders.fund_and_send(ctx.uow, order_id, ctx.person, item_id, tip or 0)
    except InsufficientFunds as exc:
        await ctx.reply(_("Your balance is {balance}, which is not enough for {total}. Ask a cooperative admin to record a deposit, then tap Pay again.").format(
            balance=money(exc.balance, lang), total=money(exc.needed, lang)))  # fmt: skip
        return
    except orders.OrderError as exc:
        if exc.code == "meal_unavailable" and existing is not None:
            await ctx.reply(_("Sorry, that meal was just taken. Please choose another."))
            return await offer_meals(ctx, existing.id, existing.seeker_lat, existing.seeker_lng)
        await ctx.reply(_("That choice is no longer open. Send a new photo to start again."))
        return
    ctx.goto(None)
    if order.status is Status.DECLINED:
        return  # the decline notification already told the donor about the refund
    restaurant = await ctx.uow.restaurants.get(order.restaurant_id or 0)
    await ctx.reply(
        _("Paid {total}. Order #{id} for {meal} is with {restaurant}. I will tell you when it is accepted.").format(
            total=money(order.total, lang), id=order.id, meal=order.meal_name,
            restaurant=restaurant.name if restaurant else "",
        ),  # fmt: skip
        (Choice(_("Cancel order"), f"cancel:{order.id}"),),
    )


async def cancel_order(ctx: FlowContext, msg: Inbound) -> None:
    """A Cancel button on a donor's order."""
    order_id = payload_int(msg)
    if order_id is None:
        await ctx.reply(ctx._("That button is no longer active. Send /help to see what you can do."))
        return
    await cancel_one(ctx, order_id)


async def list_orders(ctx: FlowContext, msg: Inbound) -> None:
    """The donor's recent orders and where each stands."""
    _, lang = ctx._, ctx.person.language
    recent = await ctx.uow.orders.find(donor_id=ctx.person.id, limit=5)
    recent = [o for o in recent if o.status not in (Status.DRAFT,)]
    if not recent:
        await ctx.reply(_("You have no orders yet. Send a photo of a person in need to start."))
        return
    lines = [
        _("#{id} {meal} {total}: {status}").format(
            id=o.id, meal=o.meal_name or "-", total=money(o.total, lang), status=status_text(ctx, o.status))
        for o in recent
    ]  # fmt: skip
    await ctx.reply("\n".join(lines))


def status_text(ctx: FlowContext, status: Status) -> str:
    """A status in words."""
    _ = ctx._
    words = {
        Status.SCREENED: _("waiting for your choice"), Status.FUNDED: _("paid"),
        Status.AT_RESTAURANT: _("with the restaurant"), Status.ACCEPTED: _("being cooked"),
        Status.ON_BOARD: _("waiting for a worker"), Status.CLAIMED: _("worker on the way to the restaurant"),
        Status.PICKED_UP: _("on the way to the person"), Status.DELIVERED: _("delivered"),
        Status.DELIVERY_FAILED: _("person not found"), Status.SETTLED: _("delivered"),
        Status.CANCELLED: _("cancelled"), Status.DECLINED: _("no restaurant could take it; refunded"),
        Status.REFUNDED: _("refunded"), Status.DISPUTED: _("under review"),
        Status.REJECTED_DUPLICATE: _("already fed recently"), Status.REJECTED_UNSAFE: _("unsafe place"),
    }  # fmt: skip
    return words.get(status, status.value)


STEPS = {"donor_location": donor_location}

"""The donor's path: photo, location, screening, meal, tip, payment from balance (or by card: flows/cards.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from core.funding import pledges
from core.ledger.model import InsufficientFunds, donor_account
from core.orders import service as orders
from core.orders.funding import Source
from core.orders.lifecycle import Status
from core.seekers.photo_records import keep_photo
from core.seekers.photos import PhotoRejected, clean_photo
from flows import campaigns
from flows.cards import card_choice
from flows.common import cancel_one, discard_photo, payload_args, payload_int
from flows.context import FlowContext
from flows.i18n import distance, money, plural
from flows.messages import Choice, Inbound
from flows.onboarding import location_by_sms, require_location
from flows.steps import Step, Verb

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
    return await keep_photo(ctx.uow, ctx.services.photos, cleaned, kind, ctx.person)


async def photo_received(ctx: FlowContext, msg: Inbound) -> None:
    """A seeker's photo starts a request: first ask whether the person agreed to it."""
    _ = ctx._
    if (old := ctx.data.get("photo")) and ctx.step in (Step.DONOR_CONSENT, Step.DONOR_LOCATION):
        await discard_photo(ctx, old, "replaced")  # a better photo replaces the first
    photo_id = await store_photo(ctx, msg, "seeker")
    if photo_id is None:
        return
    await close_role_question(ctx)
    ctx.goto(Step.DONOR_CONSENT, photo=photo_id)
    await ctx.reply(
        _("Did the person agree to be photographed so they can receive a meal?"),
        (Choice(_("Yes, they agreed"), "consent:yes"), Choice(_("No"), "consent:no")),
    )


async def close_role_question(ctx: FlowContext) -> None:
    """A seeker photo answers "what would you like to do?" (feed someone): close that question,
    so its numbers 1-3 stop meaning a role and a typed "1" answers the consent question."""
    for prompt in await ctx.uow.prompts.open_for(ctx.person.id):
        if prompt.kind == Verb.ROLE:
            await ctx.uow.prompts.answer(prompt.id)


async def consent(ctx: FlowContext, msg: Inbound) -> None:
    """Go on only with the person's consent; otherwise delete the photo and stop politely."""
    _ = ctx._
    photo_id = ctx.data.get("photo") if ctx.step == Step.DONOR_CONSENT else None
    if photo_id is None:
        await ctx.reply(_("That choice is no longer open. Send a new photo to start again."))
        return
    if payload_args(msg)[:1] != ["yes"]:
        await discard_photo(ctx, photo_id, "no_consent")
        ctx.goto(None)
        await ctx.reply(_("Thank you for asking them. The photo has been deleted. Without their agreement we cannot go ahead."))
        return
    ctx.uow.later(_async(ctx.services.screener.prefetch, photo_id))  # start the face embedding while the donor types
    ctx.goto(Step.DONOR_LOCATION, photo=photo_id)
    await ctx.reply(location_by_sms(ctx) or _("Thank you. Now share the location where the person is (attach → Location)."))


def _async(fn: Callable[[str], object], arg: str) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        fn(arg)

    return run


SCENES = {"busy_lit": ("yes", "yes"), "busy_dark": ("yes", "no"), "quiet_lit": ("no", "yes"),
          "quiet_dark": ("no", "no"), "unsure": ("unknown", "unknown")}  # fmt: skip


async def donor_location(ctx: FlowContext, msg: Inbound) -> None:
    """Take the location, then ask what the place is like (one tap)."""
    _ = ctx._
    if msg.kind == "photo":
        return await photo_received(ctx, msg)
    if not await require_location(ctx, msg):
        return
    ctx.goto(Step.DONOR_SCENE, lat=msg.lat, lng=msg.lng)
    await ctx.reply(
        _("What is the place like right now?"),
        (Choice(_("Busy and well lit"), "scene:busy_lit"), Choice(_("Busy but dark"), "scene:busy_dark"),
         Choice(_("Quiet but lit"), "scene:quiet_lit"), Choice(_("Quiet and dark"), "scene:quiet_dark"),
         Choice(_("Not sure"), "scene:unsure")),
    )  # fmt: skip


async def scene(ctx: FlowContext, msg: Inbound) -> None:
    """Screen the request (duplicate seeker, safety) and offer meals nearby."""
    _ = ctx._
    answer = (payload_args(msg) or [""])[0]
    if ctx.step != Step.DONOR_SCENE or answer not in SCENES:
        await ctx.reply(_("That choice is no longer open. Send a new photo to start again."))
        return
    busy, lit = SCENES[answer]
    lat, lng = float(ctx.data["lat"]), float(ctx.data["lng"])
    order = await orders.start_order(
        ctx.uow, ctx.person, lat, lng, ctx.data.get("photo"), ctx.services.screener, busy=busy, lit=lit
    )
    from flows.second_look import after_screening  # flows.second_look imports this module

    await after_screening(ctx, order, busy, lit)


def duplicate_text(ctx: FlowContext, screening: dict[str, Any]) -> str:
    """Tell the donor plainly when and where this person was already given a meal."""
    _ = ctx._
    minutes = int(screening.get("minutes_ago", 0))
    ago = plural(ctx.person.language, "{n} minute ago", "{n} minutes ago", minutes).format(n=minutes)
    return _("This person was given a meal {ago}, {distance} from here, so this order will not go ahead. Thank you for caring.").format(
        ago=ago, distance=distance(int(screening.get("distance_m", 0)), ctx.person.language))  # fmt: skip


def unsafe_text(ctx: FlowContext, reasons: list[str]) -> str:
    """Why the place is not safe enough, in plain words, and what would help."""
    _ = ctx._
    words = {
        "dark": _("it is dark now"), "not_busy": _("the place is quiet"), "busy_unknown": _("we do not know if the place is busy"),
        "not_lit": _("the place is not lit"), "lit_unknown": _("we do not know if the place is lit"),
        "past_failures": _("deliveries near here have failed before"), "safety_reports": _("workers reported safety problems near here"),
    }  # fmt: skip
    why = "; ".join(words[r] for r in reasons if r in words) or _("the safety score is low")
    return _(
        "This place does not look safe for a delivery right now ({why}). A busier or better-lit spot, or daylight, would help."
    ).format(why=why)


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
    ctx.goto(Step.DONOR_MEAL, order=order_id)
    await ctx.reply(_("Meals near this person — choose one:"), buttons + (Choice(_("Cancel"), f"cancel:{order_id}"),))


async def choose_meal(ctx: FlowContext, msg: Inbound) -> None:
    """Remember the meal and offer a tip for the worker."""
    _, lang = ctx._, ctx.person.language
    order_id, item_id = payload_int(msg, 0), payload_int(msg, 1)
    order = await ctx.uow.orders.get(order_id or 0)
    if order is None or item_id is None or order.donor_id != ctx.person.id or order.status is not Status.SCREENED:
        await ctx.reply(_("That choice is no longer open. Send a new photo to start again."))
        return
    ctx.goto(Step.DONOR_TIP, order=order.id, item=item_id)
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
    buttons = [Choice(_("Pay {total}").format(total=money(total, lang)), f"pay:{order.id}:{meal.item_id}:{tip}")]
    # Pledges are offered when they can pay some of the meal and delivery (never the tip).
    pledged = min(meal.price + fee, await pledges.available_for(ctx.uow, order.seeker_lat, order.seeker_lng,
                                                                enough=meal.price + fee, requester_id=ctx.person.id))  # fmt: skip
    if pledged > 0:
        text += "\n" + _("Pledges from other donors can pay {amount} of it.").format(amount=money(pledged, lang))
        # The button carries what the donor then pays themselves: never more without asking again.
        buttons.append(Choice(_("Use pledges"), f"pay:{order.id}:{meal.item_id}:{tip}:pledges:{total - pledged}"))
    ctx.goto(Step.DONOR_CONFIRM, order=order.id)
    choices: tuple[Choice, ...] = (*buttons, *card_choice(ctx, order.id, meal.item_id, tip), Choice(_("Cancel"), f"cancel:{order.id}"))
    if ctx.state.get("campaign") or have < total:  # others can fund it together (flows/campaigns.py)
        choices = (campaigns.campaign_button(ctx, order.id, meal.item_id, tip or 0), *choices)
    await ctx.reply(text, choices)


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
    use_pledges = payload_args(msg)[3:4] == ["pledges"]
    agreed = payload_int(msg, 4) if use_pledges else None  # what the donor agreed to pay beside the pledges
    try:
        order = await orders.fund_and_send(ctx.uow, order_id, ctx.person, item_id, tip or 0, use_pledges=use_pledges,
                                           from_balance=agreed)  # fmt: skip
    except orders.PledgesTaken as exc:  # others' orders used them between the look and the draw
        left = money(exc.left, lang)
        # "Pay ₹X" pays X from the balance, no more (a button label has 20 characters on WhatsApp).
        await ctx.reply(_("Pledges near you were just used up; {left} left to pay from your balance.").format(left=left),
                        (Choice(_("Pay {total}").format(total=left),
                                f"pay:{order_id}:{item_id}:{tip}:pledges:{exc.left}"),
                         Choice(_("Cancel"), f"cancel:{order_id}")))  # fmt: skip
        return
    except InsufficientFunds as exc:
        if use_pledges:
            await ctx.reply(_("Pledges nearby and your balance of {balance} together are not enough now: {total} more is "
                              "needed from your balance.").format(
                balance=money(exc.balance, lang), total=money(exc.needed, lang)))  # fmt: skip
            return
        # Offer Pay and Cancel again: pressing Pay closed its prompt, and "tap Pay again" must
        # work by SMS too ("1", "ஆம்", "pay" once the balance has been topped up).
        await ctx.reply(_("Your balance is {balance}, which is not enough for {total}. "
                          "Ask a cooperative admin to record a deposit, then tap Pay again.").format(
            balance=money(exc.balance, lang), total=money(exc.needed, lang)),
            (Choice(_("Pay {total}").format(total=money(exc.needed, lang)), msg.choice or ""),
             Choice(_("Cancel"), f"cancel:{order_id}")))  # fmt: skip
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
    from_pledges = sum(c.amount for c in await ctx.uow.contributions.for_order(order.id) if c.source is Source.PLEDGE)
    text = _("Paid {total}. Order #{id} for {meal} is with {restaurant}. I will tell you when it is accepted.").format(
        total=money(order.total, lang), id=order.id, meal=order.meal_name, restaurant=restaurant.name if restaurant else "")
    if from_pledges:
        text += " " + _("Pledges paid {amount} of it.").format(amount=money(from_pledges, lang))
    await ctx.reply(text, (Choice(_("Cancel order"), f"cancel:{order.id}"),))


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
        Status.CANCELLED: _("cancelled"), Status.ABANDONED: _("no worker came; the restaurant was paid, the rest refunded"),
        Status.RETAKE: _("a photo of just one person was needed"),
        Status.DECLINED: _("no restaurant could take it; refunded"),
        Status.REFUNDED: _("refunded"), Status.DISPUTED: _("under review"),
        Status.REJECTED_DUPLICATE: _("already fed recently"), Status.REJECTED_UNSAFE: _("unsafe place"),
    }  # fmt: skip
    return words.get(status, status.value)


async def consent_step(ctx: FlowContext, msg: Inbound) -> None:
    """While consent is pending: a new photo replaces the old one; anything else re-asks."""
    if msg.kind == "photo":
        return await photo_received(ctx, msg)
    await ctx.reply(
        ctx._("Did the person agree to be photographed so they can receive a meal?"),
        (Choice(ctx._("Yes, they agreed"), "consent:yes"), Choice(ctx._("No"), "consent:no")),
    )


STEPS = {Step.DONOR_LOCATION: donor_location, Step.DONOR_CONSENT: consent_step}

"""The donor's side of the two-stage duplicate check: a second photo, "I can't", "someone else".

A lookalike in the uncertain band is never refused on one photo (core/orders/second_look.py):
the donor is asked, kindly, for one more photo from another angle or in better light. A donor
who cannot take one, or who is refused but sure the person is someone else, is believed: the
order goes on, marked for an admin to look at, and the donor is told so.
"""

from __future__ import annotations

from typing import Any

from core.orders import second_look as check
from core.orders.lifecycle import Status
from core.orders.model import Order
from core.orders.service import OrderError
from flows import donor as intake  # imported as a module: flows.donor imports this one too
from flows.common import discard_photo, payload_args, payload_int
from flows.context import FlowContext
from flows.messages import Choice, Inbound
from flows.steps import Step

# (busy, lit) answers -> the scene key of flows.donor.SCENES, for a button that carries them
SCENE_OF = {answers: key for key, answers in intake.SCENES.items()}


def scene_key(busy: str, lit: str) -> str:
    """The scene button key for the donor's two answers ("unsure" when unknown)."""
    return SCENE_OF.get((busy, lit), "unsure")


async def ask_second_photo(ctx: FlowContext, order_id: int, busy: str, lit: str) -> None:
    """Ask kindly for one more photo of the person; say that not being able to is fine."""
    _ = ctx._
    ctx.goto(Step.DONOR_SECOND_PHOTO, order=order_id, busy=busy, lit=lit)
    await ctx.reply(
        _("This person looks a little like someone given a meal near here recently, but I am not sure. "
          "Could you send one more photo of them, from another angle or in better light? "
          "If you cannot, that is fine: the order will go on."),
        (Choice(_("I can't take another"), f"nophoto:{order_id}"), Choice(_("Cancel"), f"cancel:{order_id}")),
    )  # fmt: skip


async def refused(ctx: FlowContext, order: Order, busy: str, lit: str) -> None:
    """The duplicate refusal, with the way out for a donor sure it is someone else."""
    _ = ctx._
    text = intake.duplicate_text(ctx, order.screening) + "\n" + _(
        "If you are sure this is someone else, tap the button: the order will go on and a cooperative admin will look at this check."
    )
    await ctx.reply(text, (Choice(_("It's someone else"), f"notsame:{order.id}:{scene_key(busy, lit)}"),))


async def after_screening(ctx: FlowContext, order: Order, busy: str, lit: str, went_on: str | None = None) -> None:
    """Tell the donor what the screening decided and go on from there (`went_on`: said first when it passed)."""
    _ = ctx._
    ctx.goto(None)
    if check.awaits_second_photo(order):
        if order.screening.get("reason") == "second_photo_unusable":
            await ctx.reply(_("I could not see one face clearly in that photo."))
        return await ask_second_photo(ctx, order.id, busy, lit)
    if order.status is Status.RETAKE:
        await ctx.reply(_("I can see more than one person in the photo. Please send a photo of just the person who needs the meal."))
        return None
    if order.status is Status.REJECTED_DUPLICATE:
        return await refused(ctx, order, busy, lit)
    if order.status is Status.REJECTED_UNSAFE:
        await ctx.reply(intake.unsafe_text(ctx, order.screening.get("reasons", [])))
        return None
    if went_on:
        await ctx.reply(went_on)
    await intake.offer_meals(ctx, order.id, order.seeker_lat, order.seeker_lng)


def _answers(ctx: FlowContext) -> tuple[str, str]:
    return str(ctx.data.get("busy", "unknown")), str(ctx.data.get("lit", "unknown"))


async def second_photo_step(ctx: FlowContext, msg: Inbound) -> None:
    """While a second photo is asked for: a photo is compared; anything else asks again."""
    _ = ctx._
    order_id = int(ctx.data.get("order", 0))
    busy, lit = _answers(ctx)
    waiting = await ctx.uow.orders.get(order_id)
    if waiting is None or not check.awaits_second_photo(waiting):
        # Cancelled (by the donor's Cancel, or the stale-draft job): a photo starts afresh.
        ctx.goto(None)
        if msg.kind == "photo":
            return await intake.photo_received(ctx, msg)
        await ctx.reply(_("That choice is no longer open. Send a new photo to start again."))
        return None
    if msg.kind != "photo":
        return await ask_second_photo(ctx, order_id, busy, lit)
    photo_id = await intake.store_photo(ctx, msg, "seeker")
    if photo_id is None:
        return None  # store_photo said why (too large, not a photo)
    try:
        order = await check.second_photo(ctx.uow, order_id, ctx.person, photo_id, ctx.services.screener, busy=busy, lit=lit)
    except OrderError:
        order = None
    # The second photo has done its work (or cannot): it is not kept with the order.
    await discard_photo(ctx, photo_id, "second_photo_compared")
    if order is None:
        ctx.goto(None)
        await ctx.reply(_("That choice is no longer open. Send a new photo to start again."))
        return None
    await after_screening(ctx, order, busy, lit, went_on=_(
        "Thank you. The second photo does not show the person given a meal nearby, so the order goes on."))


async def no_photo(ctx: FlowContext, msg: Inbound) -> None:
    """'I can't take another': the order goes on, marked for review."""
    _ = ctx._
    order_id = payload_int(msg)
    busy, lit = _answers(ctx) if ctx.step == Step.DONOR_SECOND_PHOTO else ("unknown", "unknown")
    try:
        order = await check.no_second_photo(ctx.uow, order_id or 0, ctx.person, ctx.services.screener, busy=busy, lit=lit)
    except OrderError:
        await ctx.reply(_("That choice is no longer open. Send a new photo to start again."))
        return None
    await after_screening(ctx, order, busy, lit, went_on=_(
        "That is fine, thank you. The order goes on, and a cooperative admin will look at this check later."))


async def not_same(ctx: FlowContext, msg: Inbound) -> None:
    """'It's someone else' after a duplicate refusal: a new order goes on, marked for admin review."""
    _ = ctx._
    refused_id, args = payload_int(msg), payload_args(msg)
    busy, lit = intake.SCENES.get(args[1] if len(args) > 1 else "", ("unknown", "unknown"))
    try:
        order = await check.someone_else(ctx.uow, refused_id or 0, ctx.person, ctx.services.screener, busy=busy, lit=lit)
    except OrderError as exc:
        await ctx.reply(_not_same_problem(ctx, exc.code))
        return None
    await after_screening(ctx, order, busy, lit, went_on=_(
        "Thank you for telling us. The order goes on, and a cooperative admin will look at this check. "
        "No photo is shown to anyone new."))  # fmt: skip


def _not_same_problem(ctx: FlowContext, code: str) -> str:
    _ = ctx._
    words: dict[str, Any] = {
        "already_contested": _("You have already told us that this was someone else. That order went on."),
        "too_late": _("That refusal is too old to change now. If the person still needs a meal, send a new photo."),
    }
    return str(words.get(code, _("That choice is no longer open. Send a new photo to start again.")))


STEPS = {Step.DONOR_SECOND_PHOTO: second_photo_step}

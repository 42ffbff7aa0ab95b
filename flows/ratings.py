"""Ratings by chat: /rate <order> after settlement (one tap per aspect), /ratings for the rated
(averages only, never who gave which), an appeal with a reason, decided by an admin who is no party."""

from __future__ import annotations

from core.members.model import Person
from core.ratings import service as ratings
from core.ratings.model import SUBJECT, Aspect, Rating, RatingStatus
from core.ratings.service import RatingError
from flows import prompts
from flows.common import payload_args, payload_int
from flows.context import FlowContext
from flows.i18n import Translator, translator
from flows.messages import Choice, Inbound, Outbound
from flows.numbers import MAX_ID, read_int
from flows.steps import Step, Verb
from flows.understand import is_skip


def refused(_: Translator, code: str) -> str:
    """Why a rating step was refused, in words."""
    return {
        "not_found": _("There is no such order."),
        "not_settled": _("You can rate an order once it is settled."),
        "not_yours": _("Only the people of an order can rate it, and only what they saw."),
        "already_rated": _("You have already rated that."),
        "not_rated": _("Only the person rated can appeal a rating."),
        "already_appealed": _("That rating was already appealed."),
        "not_admin": _("Only an admin can decide an appeal."),
        "party_admin": _("You are part of this order, so another admin must decide."),
        "already_decided": _("That appeal was already decided."),
        "bad_text": _("Please write between 1 and 500 characters."),
        "not_rater": _("Only the person who gave a rating can comment on it."),
        "already_commented": _("That rating already has a comment."),
        "bad_comment": _("Please write up to 280 characters, or send skip."),
    }.get(code, _("That cannot be done now."))  # fmt: skip


def aspect_label(_: Translator, aspect: str) -> str:
    """What was rated, in words."""
    labels: dict[str, str] = {Aspect.MEAL: _("the meal"), Aspect.DELIVERY: _("the delivery"),
                              Aspect.PICKUP: _("the pickup")}  # fmt: skip
    return labels.get(aspect, aspect)


def stars_text(tenths: int) -> str:
    """An average in tenths of a star: 45 → "4.5/5" (no ★: it would make an English SMS UCS-2)."""
    return f"{tenths // 10}.{tenths % 10}/5"


def _ask(_: Translator, order_id: int, aspect: Aspect) -> tuple[str, tuple[Choice, ...]]:
    text = _("Order #{id}: how was {what}? One tap, 1 (poor) to 5 (very good).").format(id=order_id, what=aspect_label(_, aspect))
    return text, tuple(Choice(f"{n}/5", f"rate:{order_id}:{aspect.value}:{n}") for n in range(1, 6))


async def command(ctx: FlowContext, msg: Inbound) -> None:
    """/rate <order>: ask for the first aspect this person may rate."""
    _ = ctx._
    words = msg.text.split()
    order_id = read_int(words[1].lstrip("#"), 1, MAX_ID) if len(words) == 2 else None
    if order_id is None:
        await ctx.reply(_("Usage: /rate <order number>, for example /rate 12"))
        return
    order = await ctx.uow.orders.get(order_id)
    if order is None:
        await ctx.reply(refused(_, "not_found"))
        return
    aspects = await ratings.aspects_for(ctx.uow, ctx.person, order)
    if not aspects:
        await ctx.reply(refused(_, "not_settled" if ctx.person.id == order.donor_id else "not_yours"))
        return
    await ctx.reply(*_ask(_, order_id, aspects[0]))


async def tapped(ctx: FlowContext, msg: Inbound) -> None:
    """A star tapped: record it; the donor is then asked about the delivery."""
    _ = ctx._
    args, order_id = payload_args(msg), payload_int(msg)
    stars = read_int(args[2], 1, 5) if len(args) == 3 else None
    if order_id is None or stars is None or args[1] not in set(Aspect):
        await ctx.reply(_("That button is no longer active. Send /help to see what you can do."))
        return
    try:
        rating = await ratings.rate(ctx.uow, ctx.person, order_id, Aspect(args[1]), stars)
    except RatingError as exc:
        await ctx.reply(refused(_, exc.code))
        return
    await ctx.reply(_("Thank you: {stars}/5 for {what} of order #{id}.").format(stars=stars, what=aspect_label(_, args[1]), id=order_id))
    ctx.goto(Step.RATING_COMMENT, rating=rating.id)
    await ctx.reply(_("Add a comment (up to 280 characters) for the person rated and the admins, or skip."),
                    (Choice(_("Skip"), f"{Verb.RATING_COMMENT}:{rating.id}:skip"),))


async def _next(ctx: FlowContext, rating: Rating) -> None:
    """After the comment (or none): the donor who rated the meal is asked about the delivery."""
    if rating.aspect is not Aspect.MEAL:
        return
    order = await ctx.uow.orders.get(rating.order_id)
    if order is not None and Aspect.DELIVERY in await ratings.aspects_for(ctx.uow, ctx.person, order):
        await ctx.reply(*_ask(ctx._, order.id, Aspect.DELIVERY))


async def comment_typed(ctx: FlowContext, msg: Inbound) -> None:
    """The rater's comment (or a typed skip word): store it as theirs, then go on."""
    _ = ctx._
    rating = await ctx.uow.ratings.get(int(ctx.data.get("rating", 0)))
    if rating is None or rating.rater_id != ctx.person.id:  # a state from before a merge or a forged one
        ctx.goto(None)
        await ctx.reply(refused(_, "not_rater"))
        return
    skip = f"{Verb.RATING_COMMENT}:{rating.id}:skip"
    if msg.kind == "text" and read_int(msg.text, 0, MAX_ID) is not None:
        # A bare number is an SMS option: Skip's own number skips; any other (a star count typed
        # again) is no comment.
        answer = await prompts.typed(ctx.uow, ctx.person.id, msg.text)
        if answer is None or answer[1].payload != skip:
            await ctx.reply(refused(_, "bad_comment"))
            return
    elif msg.kind != "text":
        await ctx.reply(refused(_, "bad_comment"))
        return
    await _close(ctx, skip)
    if is_skip(msg.text) or read_int(msg.text, 0, MAX_ID) is not None:
        ctx.goto(None)
        await ctx.reply(_("No comment, then."))
        return await _next(ctx, rating)
    try:
        rating = await ratings.comment(ctx.uow, ctx.person, rating.id, msg.text)
    except RatingError as exc:
        if exc.code == "bad_comment":  # too long: they may shorten it, the step stays open
            await ctx.reply(refused(_, exc.code))
            return
        ctx.goto(None)
        await ctx.reply(refused(_, exc.code))
        return
    ctx.goto(None)
    await ctx.reply(_("Comment saved for rating #{id}.").format(id=rating.id))
    await _next(ctx, rating)


async def _close(ctx: FlowContext, payload: str) -> None:
    """The Skip button is answered once the comment step ends (a later tap says so)."""
    if (answer := await prompts.pressed(ctx.uow, ctx.person.id, payload)) is not None:
        await ctx.uow.prompts.answer(answer[0].id)


async def skip_pressed(ctx: FlowContext, msg: Inbound) -> None:
    """Skip tapped: no comment; go on (only the rater's own, open question counts)."""
    rating_id = payload_int(msg)
    rating = await ctx.uow.ratings.get(rating_id) if rating_id is not None else None
    if rating is None or rating.rater_id != ctx.person.id or ctx.step != Step.RATING_COMMENT \
            or int(ctx.data.get("rating", 0)) != rating.id:
        await ctx.reply(ctx._("That button is no longer active. Send /help to see what you can do."))
        return
    ctx.goto(None)
    await ctx.reply(ctx._("No comment, then."))
    await _next(ctx, rating)


async def mine(ctx: FlowContext, msg: Inbound) -> None:
    """/ratings: the person's average and count per role, and a button to appeal each rating that counts."""
    _ = ctx._
    subjects = await ratings.subjects_of(ctx.uow, ctx.person)
    if not subjects:
        await ctx.reply(_("Ratings are given to restaurants and delivery workers; you have none."))
        return
    lines, buttons = [], []
    for subject, subject_id in subjects:
        given = await ctx.uow.ratings.about(subject, subject_id)
        tenths, count = ratings.summary(given)
        lines.append(_("Your ratings: {average} from {count} ratings.").format(average=stars_text(tenths), count=count)
                     if count else _("No ratings yet."))  # fmt: skip
        for r in given:
            if r.status is RatingStatus.ACTIVE:
                lines.append(f"#{r.id}: {r.stars}/5 ({aspect_label(_, r.aspect)})" + (f" “{r.comment}”" if r.comment else ""))
                buttons.append(Choice(f"{_('Appeal')} #{r.id}", f"rappeal:{r.id}"))
    await ctx.reply("\n".join(lines), tuple(buttons[:10]))


async def appeal_pressed(ctx: FlowContext, msg: Inbound) -> None:
    """Appeal #N: ask for the reason."""
    rating_id = payload_int(msg)
    if rating_id is None:
        await ctx.reply(ctx._("That button is no longer active. Send /help to see what you can do."))
        return
    ctx.goto(Step.RATING_APPEAL, rating=rating_id)
    await ctx.reply(ctx._("Why should rating #{id} not count? One message, up to 500 characters.").format(id=rating_id))


async def appeal_reason(ctx: FlowContext, msg: Inbound) -> None:
    """The appeal's reason: record it and send it to every admin who is no party."""
    _ = ctx._
    rating_id = int(ctx.data.get("rating", 0))
    if msg.kind != "text":
        await ctx.reply(refused(_, "bad_text"))
        return
    ctx.goto(None)
    try:
        rating = await ratings.appeal(ctx.uow, ctx.person, rating_id, msg.text)
    except RatingError as exc:
        await ctx.reply(refused(_, exc.code))
        return
    admins = await ratings.deciders(ctx.uow, rating)
    for admin in admins:
        await ctx.tell(admin, _case(admin, rating))
    await ctx.reply(_("Appeal recorded. An admin who is no party will decide.") if admins
                    else _("Appeal recorded. It waits for an admin who is no party."))  # fmt: skip


def _case(admin: Person, rating: Rating) -> Outbound:
    t_ = translator(admin.language, admin.channel)
    text = t_("Appeal of rating #{id}: {stars}/5 for {what} of order #{order}. The {subject}'s reason: {reason}").format(
        id=rating.id, stars=rating.stars, what=aspect_label(t_, rating.aspect), order=rating.order_id,
        subject=t_("restaurant") if SUBJECT[rating.aspect] == "restaurant" else t_("worker"), reason=rating.appeal_reason)
    if rating.comment:  # the admin weighs the rater's own words too
        text += "\n" + t_("The rater's comment: {comment}").format(comment=rating.comment)
    return Outbound(text, (Choice(t_("Withdraw it"), f"rdecide:{rating.id}:withdraw"),
                           Choice(t_("Keep it"), f"rdecide:{rating.id}:keep")))  # fmt: skip


async def decided(ctx: FlowContext, msg: Inbound) -> None:
    """An admin's decision: both the rater and the rated person are told."""
    _ = ctx._
    args, rating_id = payload_args(msg), payload_int(msg)
    if rating_id is None or len(args) != 2 or args[1] not in ("withdraw", "keep"):
        await ctx.reply(_("That button is no longer active. Send /help to see what you can do."))
        return
    try:
        rating, rated_id = await ratings.decide(ctx.uow, ctx.person, rating_id, args[1] == "withdraw")
    except RatingError as exc:
        await ctx.reply(refused(_, exc.code))
        return
    withdrawn = args[1] == "withdraw"
    said = _("Decided: rating #{id} is withdrawn.") if withdrawn else _("Decided: rating #{id} stays.")
    await ctx.reply(said.format(id=rating.id))
    for person_id in (rated_id, rating.rater_id):
        person = await ctx.uow.people.get(person_id) if person_id else None
        if person is None:
            continue
        t_ = translator(person.language, person.channel)
        text = (t_("An admin withdrew rating #{id} ({what} of order #{order}) after an appeal: it no longer counts.")
                if withdrawn else t_("An admin kept rating #{id} ({what} of order #{order}) after an appeal."))  # fmt: skip
        await ctx.tell(person, Outbound(text.format(id=rating.id, what=aspect_label(t_, rating.aspect), order=rating.order_id)))


STEPS = {Step.RATING_APPEAL: appeal_reason, Step.RATING_COMMENT: comment_typed}

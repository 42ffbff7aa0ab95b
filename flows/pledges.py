"""/pledge and /pledges: money given ahead for other people's meals, by chat.

/pledge asks the amount, the kind (anyone / near a place / during hours / both), the place and
radius or the hours, whether it renews monthly, and a confirmation; /pledges lists the donor's
pledges with what is left, what they paid for, and Cancel / Pause (or Resume) buttons, and
Every use / Once a day: how often its donor hears what it paid for (also /often and /daily)."""

from __future__ import annotations

from datetime import datetime

from core.funding import pledges
from core.funding.pledge_model import RADII_M, Pledge, PledgeError, PledgeKind, PledgeStatus, PledgeTerms
from core.ledger.model import InsufficientFunds, donor_account
from core.shared.clock import local_day
from flows import donor
from flows.common import payload_args, payload_int
from flows.context import FlowContext
from flows.i18n import Translator, day, distance, money
from flows.messages import Choice, Inbound
from flows.numbers import MAX_ID, normalise, read_int, read_rupees, typed_digits
from flows.onboarding import require_location
from flows.steps import Step, Verb
from flows.understand import typed_command

HOURS = {"breakfast": (7, 10), "lunch": (11, 15), "dinner": (19, 22)}  # local hours [start, end)
ANY_AMOUNT = 10**15  # read any well-formed amount; the governed bounds decide after
MAX_LISTED = 3  # pledges with buttons in /pledges (WhatsApp lists take ten options)
RECENT_USES = 3  # uses listed under each pledge in /pledges


def radius_text(ctx: FlowContext, metres: int) -> str:
    """One of the radii a location pledge may choose, in the person's words."""
    _ = ctx._
    return {500: _("500 m"), 1_000: _("1 km"), 3_000: _("3 km")}.get(metres) or distance(metres, ctx.person.language)


def _gone(ctx: FlowContext) -> str:
    return ctx._("That choice is no longer open. Send /pledge to start again.")


async def start(ctx: FlowContext, msg: Inbound) -> None:
    """/pledge [rupees]: take the amount at once, or ask for it."""
    words = normalise(msg.text).split(maxsplit=1)
    ctx.goto(None)  # a new pledge starts from nothing
    if len(words) > 1:
        return await _amount(ctx, words[1])
    ctx.goto(Step.PLEDGE_AMOUNT)
    params = await ctx.uow.params.current()
    lang = ctx.person.language
    await ctx.reply(ctx._("How much would you like to pledge for other people's meals? Send an amount in rupees "
                          "from {low} to {high}, for example 500.").format(
        low=money(params.min_contribution, lang), high=money(params.max_money_pledge, lang)))  # fmt: skip


async def amount_step(ctx: FlowContext, msg: Inbound) -> None:
    """The amount asked for by /pledge (a seeker's photo instead starts a meal request)."""
    if msg.kind == "photo":
        ctx.goto(None)
        return await donor.photo_received(ctx, msg)
    await _amount(ctx, msg.text if msg.kind == "text" else "")


async def _amount(ctx: FlowContext, said: str) -> None:
    _, lang = ctx._, ctx.person.language
    params = await ctx.uow.params.current()
    paise = read_rupees(said, ANY_AMOUNT)
    ctx.goto(Step.PLEDGE_AMOUNT)
    if paise is None:
        await ctx.reply(_("Please send the amount in rupees as a number, for example 500."))
        return
    if paise < params.min_contribution:
        await ctx.reply(_("The smallest pledge is {low}. Please send a larger amount.").format(low=money(params.min_contribution, lang)))
        return
    if paise > params.max_money_pledge:
        await ctx.reply(_("One pledge can be at most {high}. Please send a smaller amount.").format(
            high=money(params.max_money_pledge, lang)))  # fmt: skip
        return
    ctx.goto(None)
    ctx.goto(Step.PLEDGE_KIND, amount=paise)
    await ctx.reply(
        _("Which meals may your {amount} pay for?").format(amount=money(paise, lang)),
        (Choice(_("Anyone, anywhere"), "pkind:general"), Choice(_("Near a place"), "pkind:location"),
         Choice(_("During some hours"), "pkind:time"), Choice(_("Place and hours"), "pkind:location_time")),
    )  # fmt: skip


def _located(kind: str) -> bool:
    return kind in (PledgeKind.LOCATION, PledgeKind.LOCATION_TIME)


def _timed(kind: str) -> bool:
    return kind in (PledgeKind.TIME, PledgeKind.LOCATION_TIME)


async def choose_kind(ctx: FlowContext, msg: Inbound) -> None:
    """The kind of pledge: go on to the place, the hours, or the renewal question."""
    kind = (payload_args(msg) or [""])[0]
    if ctx.step != Step.PLEDGE_KIND or kind not in set(PledgeKind):
        await ctx.reply(_gone(ctx))
        return
    ctx.data["kind"] = kind
    await _next_question(ctx)


async def _next_question(ctx: FlowContext) -> None:
    """Ask for whatever the chosen kind still needs: place, radius, hours; then renewal."""
    _, data = ctx._, ctx.data
    kind = str(data.get("kind", ""))
    if _located(kind) and "lat" not in data:
        ctx.goto(Step.PLEDGE_PLACE)
        await ctx.reply(_("Share the place your pledge is for (attach → Location), or type it like 13.0827, 80.2707."))
    elif _located(kind) and "radius" not in data:
        ctx.goto(Step.PLEDGE_RADIUS)
        await ctx.reply(_("How far around that place?"), (Choice(_("500 m"), "pradius:500"), Choice(_("1 km"), "pradius:1000"),
                                                          Choice(_("3 km"), "pradius:3000")))  # fmt: skip
    elif _timed(kind) and "start" not in data:
        ctx.goto(Step.PLEDGE_HOURS)
        await ctx.reply(_("During which hours?"), (Choice(_("Breakfast 7–10"), "phours:breakfast"),
                                                   Choice(_("Lunch 11–15"), "phours:lunch"),
                                                   Choice(_("Dinner 19–22"), "phours:dinner")))  # fmt: skip
    elif "renew" not in data:
        ctx.goto(Step.PLEDGE_RENEW)
        await ctx.reply(_("Renew it every month from your balance?"),
                        (Choice(_("Every month"), "prenew:1"), Choice(_("Just once"), "prenew:0")))  # fmt: skip
    else:
        await _ask_confirm(ctx)


async def place_step(ctx: FlowContext, msg: Inbound) -> None:
    """The place of a location pledge (a seeker's photo instead starts a meal request)."""
    if msg.kind == "photo":
        ctx.goto(None)
        return await donor.photo_received(ctx, msg)
    if not await require_location(ctx, msg):
        return
    ctx.data.update(lat=msg.lat, lng=msg.lng)
    await _next_question(ctx)


async def choose_radius(ctx: FlowContext, msg: Inbound) -> None:
    """How far around the place."""
    radius = payload_int(msg)
    if ctx.step != Step.PLEDGE_RADIUS or radius not in RADII_M:
        await ctx.reply(_gone(ctx))
        return
    ctx.data["radius"] = radius
    await _next_question(ctx)


async def choose_hours(ctx: FlowContext, msg: Inbound) -> None:
    """Which hours of the day."""
    hours = HOURS.get((payload_args(msg) or [""])[0])
    if ctx.step != Step.PLEDGE_HOURS or hours is None:
        await ctx.reply(_gone(ctx))
        return
    ctx.data.update(start=hours[0], end=hours[1])
    await _next_question(ctx)


async def choose_renew(ctx: FlowContext, msg: Inbound) -> None:
    """Monthly or once."""
    answer = (payload_args(msg) or [""])[0]
    if ctx.step != Step.PLEDGE_RENEW or answer not in ("0", "1"):
        await ctx.reply(_gone(ctx))
        return
    ctx.data["renew"] = answer == "1"
    await _next_question(ctx)


def _terms(data: dict[str, object]) -> PledgeTerms:
    """The terms collected in the conversation (checked again by the core)."""
    def num(key: str) -> float | None:
        value = data.get(key)
        return float(value) if isinstance(value, int | float) else None

    def whole(key: str) -> int | None:
        value = data.get(key)
        return int(value) if isinstance(value, int) else None

    return PledgeTerms(int(str(data.get("amount", 0))), PledgeKind(str(data.get("kind"))), num("lat"), num("lng"),
                       whole("radius"), whole("start"), whole("end"), bool(data.get("renew")))  # fmt: skip


def describe(ctx: FlowContext, terms: PledgeTerms) -> str:
    """A pledge's terms in a few words: where, when, whether it renews."""
    _ = ctx._
    parts = []
    if terms.radius_m is None:
        parts.append(_("for anyone, anywhere"))
    else:
        parts.append(_("within {radius} of your place").format(radius=radius_text(ctx, terms.radius_m)))
    if terms.start_hour is not None:
        parts.append(_("{start}:00–{end}:00 only").format(start=terms.start_hour, end=terms.end_hour))
    parts.append(_("renews monthly") if terms.auto_renew else _("once"))
    return " · ".join(parts)


async def _ask_confirm(ctx: FlowContext) -> None:
    _, lang = ctx._, ctx.person.language
    terms = _terms(ctx.data)
    have = await ctx.uow.ledger.balance(donor_account(ctx.person.id))
    ctx.goto(Step.PLEDGE_CONFIRM)
    await ctx.reply(_("Pledge {amount} ({terms}). Your balance: {balance}.").format(
        amount=money(terms.amount, lang), terms=describe(ctx, terms), balance=money(have, lang)),
        (Choice(_("Confirm"), "pledgeok"), Choice(_("Cancel"), "pledgeno")))  # fmt: skip


async def confirm(ctx: FlowContext, msg: Inbound) -> None:
    """Make the pledge: the money moves from the balance into it."""
    _, lang = ctx._, ctx.person.language
    if ctx.step != Step.PLEDGE_CONFIRM or "kind" not in ctx.data:
        await ctx.reply(_gone(ctx))
        return
    if msg.choice == "pledgeno":
        ctx.goto(None)
        await ctx.reply(_("Stopped. Nothing was changed."))
        return
    try:
        pledge = await pledges.make_pledge(ctx.uow, ctx.person.id, _terms(ctx.data), ctx.person.actor)
    except InsufficientFunds as exc:
        ctx.goto(None)
        await ctx.reply(_("Your balance is {balance}, not enough for a pledge of {amount}. Ask a cooperative admin "
                          "to add money to your balance, then send /pledge again.").format(
            balance=money(exc.balance, lang), amount=money(exc.needed, lang)))  # fmt: skip
        return
    except (PledgeError, ValueError):
        ctx.goto(None)
        await ctx.reply(_gone(ctx))
        return
    ctx.goto(None)
    await ctx.reply(_("Thank you! Pledge #{id} holds {amount} for other people's meals. I will tell you once a day "
                      "what it paid for. /pledges shows your pledges.").format(
        id=pledge.id, amount=money(pledge.remaining, lang)))  # fmt: skip


async def list_pledges(ctx: FlowContext, msg: Inbound) -> None:
    """/pledges: each pledge with what is left, what it paid for, and its buttons."""
    _ = ctx._
    mine = await ctx.uow.pledges.for_person(ctx.person.id)
    if not mine:
        await ctx.reply(_("You have no pledges yet. Send /pledge to give money ahead for other people's meals."))
        return
    lines: list[str] = []
    buttons: list[Choice] = []
    for pledge in mine[:10]:
        lines.append(await _line(ctx, pledge))
        if pledge.status is not PledgeStatus.CANCELLED and len(buttons) < 3 * MAX_LISTED:
            pause = (Choice(_("Pause") + f" #{pledge.id}", f"ppause:{pledge.id}") if pledge.status is PledgeStatus.ACTIVE
                     else Choice(_("Resume") + f" #{pledge.id}", f"presume:{pledge.id}"))  # fmt: skip
            buttons += [Choice(_("Cancel") + f" #{pledge.id}", f"pstop:{pledge.id}"), pause, how_often_button(ctx._, pledge)]
    await ctx.reply("\n".join(lines), tuple(buttons))


async def _line(ctx: FlowContext, pledge: Pledge) -> str:
    _, lang = ctx._, ctx.person.language
    status = {PledgeStatus.ACTIVE: _("active"), PledgeStatus.PAUSED: _("paused"), PledgeStatus.CANCELLED: _("cancelled")}
    uses = await ctx.uow.pledges.uses(pledge.id, limit=1000)
    line = _("#{id} {left} left of {total} ({terms}), {status}").format(
        id=pledge.id, left=money(pledge.remaining, lang), total=money(pledge.total_in, lang),
        terms=describe(ctx, pledge.terms), status=status[pledge.status])  # fmt: skip
    if uses:
        line += "\n" + _("Meals paid for: {meals} ({amount}); last on {day}.").format(
            meals=len({u.order_id for u in uses}), amount=money(sum(u.amount for u in uses), lang),
            day=day(local_day(datetime.fromisoformat(uses[0].at)), lang))  # fmt: skip
        for use in uses[:RECENT_USES]:  # the newest uses, with the rounded area only
            line += "\n" + _("{day}: {amount} near {area}").format(
                day=day(local_day(datetime.fromisoformat(use.at)), lang), amount=money(use.amount, lang), area=use.area)
    return line


async def stop(ctx: FlowContext, msg: Inbound) -> None:
    """Cancel one of the donor's pledges: what is left goes back to their balance."""
    _, lang = ctx._, ctx.person.language
    pledge_id = payload_int(msg)
    try:
        left = await pledges.cancel_pledge(ctx.uow, pledge_id or 0, ctx.person.id, ctx.person.actor)
    except PledgeError as exc:
        await ctx.reply(_refusal(ctx, exc, pledge_id))
        return
    await ctx.reply(_("Pledge #{id} is cancelled; {amount} is back in your balance.").format(id=pledge_id, amount=money(left, lang)))


async def pause(ctx: FlowContext, msg: Inbound) -> None:
    """Pause or resume one of the donor's pledges (its money stays in it)."""
    _ = ctx._
    pledge_id, paused = payload_int(msg), (msg.choice or "").startswith("ppause:")
    try:
        await pledges.pause_pledge(ctx.uow, pledge_id or 0, ctx.person.id, ctx.person.actor, paused=paused)
    except PledgeError as exc:
        await ctx.reply(_refusal(ctx, exc, pledge_id))
        return
    if paused:
        await ctx.reply(_("Pledge #{id} is paused: it pays for nothing until you resume it.").format(id=pledge_id),
                        (Choice(_("Resume") + f" #{pledge_id}", f"presume:{pledge_id}"),
                         Choice(_("Cancel") + f" #{pledge_id}", f"pstop:{pledge_id}")))  # fmt: skip
    else:
        await ctx.reply(_("Pledge #{id} is active again.").format(id=pledge_id),
                        (Choice(_("Pause") + f" #{pledge_id}", f"ppause:{pledge_id}"),
                         Choice(_("Cancel") + f" #{pledge_id}", f"pstop:{pledge_id}")))  # fmt: skip


def how_often_button(_: Translator, pledge: Pledge) -> Choice:
    """The button that switches how often a pledge's donor hears of its uses."""
    if pledge.often:
        return Choice(_("Once a day") + f" #{pledge.id}", f"{Verb.PLEDGE_TELL}:{pledge.id}:daily")
    return Choice(_("Every use") + f" #{pledge.id}", f"{Verb.PLEDGE_TELL}:{pledge.id}:often")


async def tell_pressed(ctx: FlowContext, msg: Inbound) -> None:
    """Every use / Once a day tapped on /pledges or on a pledge's message."""
    args = payload_args(msg)
    if len(args) != 2 or args[1] not in ("often", "daily"):
        await ctx.reply(ctx._("That button is no longer active. Send /help to see what you can do."))
        return
    await _set_often(ctx, payload_int(msg), args[1] == "often")


async def often_command(ctx: FlowContext, msg: Inbound) -> None:
    """/often [pledge] (typed "often 2", "அடிக்கடி 2"): hear of every use of that pledge."""
    await _typed_often(ctx, msg, True)


async def daily_command(ctx: FlowContext, msg: Inbound) -> None:
    """/daily [pledge] (typed "daily 2", "தினமும் 2"): hear once a day again."""
    await _typed_often(ctx, msg, False)


async def _typed_often(ctx: FlowContext, msg: Inbound, often: bool) -> None:
    _ = ctx._
    words = msg.text.split()
    if typed_command(msg.text):  # the whole text is one spelling of the command ("once a day", "தினமும் ஒருமுறை")
        words = words[:1]
    if len(words) != 2:
        return await _ask_which(ctx, often, one_will_do=True)
    if (pledge_id := read_int(words[1].lstrip("#"), 1, MAX_ID)) is not None:
        return await _set_often(ctx, pledge_id, often)
    if (number := typed_digits(words[1].lstrip("#"))) is not None:
        # 0 or beyond any id (told before the database is asked: its ids are 32-bit): nobody's pledge
        await ctx.reply(_("You have no pledge #{id}. Send /pledges to see yours.").format(id=number))
        return
    await _ask_which(ctx, often, one_will_do=False)  # a word that is no number: which pledge was meant?


async def _ask_which(ctx: FlowContext, often: bool, *, one_will_do: bool) -> None:
    """No pledge number: the one live pledge (when one will do), else ask which, with buttons."""
    _ = ctx._
    live = [p for p in await ctx.uow.pledges.for_person(ctx.person.id) if p.status is not PledgeStatus.CANCELLED]
    if len(live) == 1 and one_will_do:  # the one pledge they have: no number needed
        return await _set_often(ctx, live[0].id, often)
    if not live:
        await ctx.reply(_("You have no pledges yet. Send /pledge to give money ahead for other people's meals."))
        return
    example = f"/often {live[0].id}" if often else f"/daily {live[0].id}"
    await ctx.reply(_("Which pledge? Send its number, for example {example}.").format(example=example),
                    tuple(how_often_button(_, p) for p in live[:MAX_LISTED] if p.often is not often))  # fmt: skip


async def _set_often(ctx: FlowContext, pledge_id: int | None, often: bool) -> None:
    _ = ctx._
    try:
        pledge = await pledges.set_often(ctx.uow, pledge_id or 0, ctx.person.id, often, ctx.person.actor)
    except PledgeError as exc:
        await ctx.reply(_refusal(ctx, exc, pledge_id))
        return
    if often:
        text = _("Pledge #{id}: I will tell you soon after each meal it pays for (several meals close together in "
                 "one message, at most one every {minutes} minutes).").format(id=pledge.id, minutes=pledges.OFTEN_GAP_MIN)
    else:
        text = _("Pledge #{id}: I will tell you once a day what it paid for.").format(id=pledge.id)
    await ctx.reply(text, (how_often_button(_, pledge),))


def _refusal(ctx: FlowContext, exc: PledgeError, pledge_id: int | None) -> str:
    """Why a pledge button did nothing, politely (someone else's and unknown look alike)."""
    _ = ctx._
    if pledge_id is None:  # a malformed or out-of-range number in the button
        return _("That button is no longer active. Send /help to see what you can do.")
    return {
        "cancelled": _("Pledge #{id} is already cancelled.").format(id=pledge_id),
        "already_paused": _("Pledge #{id} is already paused.").format(id=pledge_id),
        "already_active": _("Pledge #{id} is already active.").format(id=pledge_id),
        "already_often": _("Pledge #{id} already tells you of every meal it pays for.").format(id=pledge_id),
        "already_daily": _("Pledge #{id} already tells you once a day.").format(id=pledge_id),
    }.get(exc.code, _("You have no pledge #{id}. Send /pledges to see yours.").format(id=pledge_id))


STEPS = {Step.PLEDGE_AMOUNT: amount_step, Step.PLEDGE_PLACE: place_step}

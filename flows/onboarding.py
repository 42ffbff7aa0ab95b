"""Registration: choose a role; restaurants and workers apply and admins approve by button."""

from __future__ import annotations

import re

from core.ledger.params import MAX_INT32
from core.members import profile
from core.members.registration import (
    MAX_MENU_ITEMS,
    RegistrationError,
    apply_restaurant,
    apply_worker,
    check_capacity,
    check_menu,
)
from core.members.registration import decide as decide_application
from core.shared import geo
from flows.common import parse_rupees, payload_args, payload_int
from flows.context import PHOTOLESS_CHANNELS, FlowContext
from flows.hours import Ambiguous, parse_hours
from flows.i18n import DEFAULT_LANGUAGE, LANGUAGES, money, translator
from flows.messages import Choice, Inbound, Outbound
from flows.numbers import read_int
from flows.steps import Step

LANGUAGE_CHOICES = (Choice("தமிழ்", "lang:ta"), Choice("English", "lang:en"))


async def ask_language(ctx: FlowContext, msg: Inbound) -> None:
    """Offer Tamil or English (asked in both, since we may not know which the person reads)."""
    await ctx.reply("மொழியைத் தேர்ந்தெடுக்கவும் · Choose your language", LANGUAGE_CHOICES)


async def set_language(ctx: FlowContext, msg: Inbound) -> None:
    """Store the chosen language; every later message to this person uses it."""
    await choose(ctx, (payload_args(msg) or ["en"])[0])


async def choose(ctx: FlowContext, language: str) -> None:
    """Store a language (chosen, or the script a first greeting was written in) and welcome."""
    if language not in LANGUAGES:
        language = DEFAULT_LANGUAGE
    ctx.person = await profile.choose_language(ctx.uow, ctx.person, language)
    first_time = not ctx.state.get("language_chosen")
    ctx.state["language_chosen"] = True
    if first_time:
        await welcome(ctx)
    else:
        await ctx.reply(ctx._("Done. I will write to you in English from now on."))


async def start(ctx: FlowContext, msg: Inbound) -> None:
    """Greet and offer the three ways to take part (asking the language the first time)."""
    ctx.goto(None)
    if not ctx.state.get("language_chosen"):
        await ask_language(ctx, msg)
        return
    await welcome(ctx)


async def welcome(ctx: FlowContext) -> None:
    """The welcome message with the three roles."""
    _ = ctx._
    await ctx.reply(
        _("Welcome to Ketpaar. Together we feed people in need. What would you like to do?"),
        (
            Choice(_("Feed someone"), "role:donor"),
            Choice(_("I run a restaurant"), "role:restaurant"),
            Choice(_("I deliver meals"), "role:worker"),
        ),
    )


async def choose_role(ctx: FlowContext, msg: Inbound) -> None:
    """Start the chosen path."""
    _ = ctx._
    role = payload_args(msg)[0] if payload_args(msg) else ""
    if role == "restaurant":
        if await ctx.uow.restaurants.by_person(ctx.person.id):
            await ctx.reply(_("You have already registered a restaurant."))
            return
        ctx.goto(Step.REST_NAME)
        await ctx.reply(_("What is your restaurant's name?"))
    elif role == "worker":
        if await ctx.uow.workers.by_person(ctx.person.id):
            await ctx.reply(_("You are already registered as a delivery worker."))
            return
        ctx.goto(Step.WORKER_NAME)
        await ctx.reply(_("What is your name?"))
    else:
        ctx.goto(None)
        await ctx.reply(_("Send a photo of the person who needs a meal. Please ask them first if they agree."))


def _clean_name(text: str) -> str | None:
    name = " ".join(text.split())
    return name if 2 <= len(name) <= 80 and not name.startswith("/") else None


async def rest_name(ctx: FlowContext, msg: Inbound) -> None:
    """Take the restaurant's name, then ask where it is."""
    _ = ctx._
    name = _clean_name(msg.text) if msg.kind == "text" else None
    if name is None:
        await ctx.reply(_("Please type the restaurant's name (2 to 80 letters)."))
        return
    ctx.goto(Step.REST_LOCATION, name=name)
    await ctx.reply(location_by_sms(ctx) or _("Share the restaurant's location (attach → Location)."))


async def rest_location(ctx: FlowContext, msg: Inbound) -> None:
    """Take the location, then ask for the street address."""
    _ = ctx._
    if not await require_location(ctx, msg):
        return
    ctx.goto(Step.REST_ADDRESS, lat=msg.lat, lng=msg.lng)
    await ctx.reply(_("What is the street address, so workers can find you?"))


async def rest_address(ctx: FlowContext, msg: Inbound) -> None:
    """Take the address, then ask for the alms menu."""
    _ = ctx._
    address = " ".join(msg.text.split()) if msg.kind == "text" else ""
    if not 3 <= len(address) <= 200:
        await ctx.reply(_("Please type the street address."))
        return
    ctx.goto(Step.REST_MENU, address=address)
    await ctx.reply(_("Send your alms meals, one per line with the price in rupees, for example:\nCurd rice 60\nSambar rice 70"))


# "name price", "name - price", "name: ₹price". A dash counts as a separator only with a space
# after it: "Curd rice -60" is a negative number, not ₹60. The price is one token of digits, commas
# and points, read strictly by parse_rupees: "6e1" or "60.005" leave the line unreadable instead
# of turning into "Curd rice 6e" at ₹1 or "Curd rice 60.0" at ₹5.
# The price may be written as people write it: "₹60", "ரூ.60", "Rs 60", "60 ரூபாய்", "60 rupees", "60/-".
_MENU_LINE = re.compile(
    r"(?P<name>.+?)(?:\s+[-–]\s+|\s*:\s*|\s+)(?:₹|ரூ\.?|rs\.?|inr)?\s*(?P<price>[0-9௦-௯][0-9௦-௯.,]*?)"
    r"\.?\s*(?:/-|₹|ரூபாய்|ரூபா|ரூ|rupees|rupee|rs\.?)?", re.IGNORECASE,
)  # fmt: skip


def parse_menu_line(line: str) -> tuple[str, int] | None:
    """One "name price" line as (name, paise), or None when it cannot be read without guessing."""
    match = _MENU_LINE.fullmatch(line.strip())
    if match is None:
        return None
    name, price = match.group("name").strip(), parse_rupees(match.group("price"))
    if price is None or not 2 <= len(name) <= 80 or name[-1] in "-–+:₹":
        return None
    return name, price


def meal_lines(text: str) -> list[str]:
    """The non-empty lines of a menu message."""
    return [ln.strip() for ln in text.splitlines() if ln.strip()]


def parse_menu(text: str) -> list[tuple[str, int]] | None:
    """Read "name price" lines into (name, paise); None if any line is unreadable."""
    items = [parse_menu_line(line) for line in meal_lines(text)]
    if not 0 < len(items) <= MAX_MENU_ITEMS or any(item is None for item in items):
        return None
    return [item for item in items if item is not None]


async def menu_refused(ctx: FlowContext, text: str, menu: list[tuple[str, int]] | None) -> bool:
    """Reply politely (naming the line at fault) when a menu is unreadable or core refuses it."""
    _ = ctx._
    if menu is None:
        bad = next((line for line in meal_lines(text) if parse_menu_line(line) is None), None)
        # Name the line when it has a number we would not guess at ("-60", "6e1", "60.005");
        # a line with no price at all is answered by the general example.
        if bad is not None and re.search(r"[0-9௦-௯]", bad) and len(meal_lines(text)) <= MAX_MENU_ITEMS:
            await ctx.reply(_('I could not read this line: "{line}". Write the name, a space and the price in rupees, '
                              "e.g. Curd rice 60. Please send the whole menu again.").format(line=bad[:80]))  # fmt: skip
        else:
            await ctx.reply(_("I could not read that menu. Send one meal per line, a name and a price, "
                              "e.g. Curd rice 60 (at most 10 meals)."))  # fmt: skip
        return True
    params = await ctx.uow.params.current()
    try:
        check_menu(menu, params)
    except RegistrationError as exc:
        if exc.code != "price_too_high":
            raise
        await ctx.reply(_("The price of {meal} is above {max}, the most an alms meal may cost. Please send the menu again.").format(
            meal=exc.detail, max=money(params.max_price, ctx.person.language)))  # fmt: skip
        return True
    return False


async def rest_menu(ctx: FlowContext, msg: Inbound) -> None:
    """Take the menu, then ask for the daily capacity."""
    _ = ctx._
    text = msg.text if msg.kind == "text" else ""
    menu = parse_menu(text)
    if await menu_refused(ctx, text, menu):
        return
    ctx.goto(Step.REST_CAPACITY, menu=menu)
    await ctx.reply(_("How many alms meals can you cook each day?"))


async def rest_capacity(ctx: FlowContext, msg: Inbound) -> None:
    """Take the capacity, then ask for the opening hours."""
    _ = ctx._
    meals = read_int(msg.text, 1, MAX_INT32) if msg.kind == "text" else None
    if meals is None:
        await ctx.reply(_("Please send a number of meals per day, for example 20."))
        return
    params = await ctx.uow.params.current()
    try:
        check_capacity(meals, params)
    except RegistrationError:
        await ctx.reply(_("Please send a number of meals per day from 1 to {max}, for example 20.").format(max=params.max_capacity))
        return
    ctx.goto(Step.REST_HOURS, capacity=meals)
    await ctx.reply(_("When do you take orders? Send hours like 11-22, or 'all day'."))


async def rest_hours(ctx: FlowContext, msg: Inbound) -> None:
    """Register the restaurant and ask the admins to approve it."""
    _ = ctx._
    hours = parse_hours(msg.text) if msg.kind == "text" else None
    if isinstance(hours, Ambiguous):
        # "11-10" could be 23 hours through the night or 11 am to 10 pm: ask, never guess.
        await ctx.reply(_("Do you mean {start} in the morning to {end} at night? Then send {start}-{end24}. "
                          "For hours through the night, send them as 23-6.").format(
            start=hours.start, end=hours.end, end24=hours.end + 12))  # fmt: skip
        return
    if hours is None:
        await ctx.reply(_("Please send hours like 11-22, or 'all day'."))
        return
    d = ctx.data
    try:
        await apply_restaurant(
            ctx.uow, ctx.person, name=d["name"], lat=d["lat"], lng=d["lng"], address=d["address"],
            menu=[(n, p) for n, p in d["menu"]], daily_capacity=d["capacity"], open_minute=hours[0],
            close_minute=hours[1],
        )  # fmt: skip
    except RegistrationError as exc:
        if exc.code != "already_registered":
            # A ceiling changed by governance since the menu or capacity was typed: start over.
            await ctx.reply(_("Your menu or number of meals is no longer allowed. Please send /start to register again."))
        else:
            await ctx.reply(_("You have already registered a restaurant."))
        ctx.goto(None)
        return
    ctx.person = await profile.set_name(ctx.uow, ctx.person, d["name"])
    ctx.goto(None)
    await ctx.reply(_("Thank you! {name} is registered and waiting for an admin's approval.").format(name=d["name"]))


async def worker_name(ctx: FlowContext, msg: Inbound) -> None:
    """Take the worker's name, then their zone."""
    _ = ctx._
    name = _clean_name(msg.text) if msg.kind == "text" else None
    if name is None:
        await ctx.reply(_("Please type your name (2 to 80 letters)."))
        return
    ctx.goto(Step.WORKER_LOCATION, name=name)
    if ctx.person.channel in PHOTOLESS_CHANNELS:
        await ctx.reply(_("Send your location as numbers, for example 13.0827, 80.2707, or as a Google Maps link: "
                          "you will see delivery jobs around it."))  # fmt: skip
        return
    await ctx.reply(_("Share your location: you will see delivery jobs around it."))


async def worker_location(ctx: FlowContext, msg: Inbound) -> None:
    """Register the worker and ask the admins to approve them."""
    _ = ctx._
    if not await require_location(ctx, msg):
        return
    assert msg.lat is not None and msg.lng is not None
    try:
        await apply_worker(ctx.uow, ctx.person, name=ctx.data["name"], lat=msg.lat, lng=msg.lng)
    except RegistrationError:
        await ctx.reply(_("You are already registered as a delivery worker."))
        ctx.goto(None)
        return
    ctx.person = await profile.set_name(ctx.uow, ctx.person, ctx.data["name"])
    ctx.goto(None)
    await ctx.reply(_("Thank you! You are registered and waiting for an admin's approval."))


def location_by_sms(ctx: FlowContext) -> str:
    """How to send a location from a basic phone (SMS has no attach menu), or "" on other channels."""
    if ctx.person.channel not in PHOTOLESS_CHANNELS:
        return ""
    return ctx._("Send the location as numbers, for example 13.0827, 80.2707, or as a Google Maps link.")


async def require_location(ctx: FlowContext, msg: Inbound) -> bool:
    """Check that a message is a real location; otherwise ask again politely."""
    _ = ctx._
    if msg.kind != "location" or msg.lat is None or msg.lng is None:
        await ctx.reply(location_by_sms(ctx) or _("Please share a location (attach → Location)."))
        return False
    if not geo.valid_coordinates(msg.lat, msg.lng):
        await ctx.reply(_("That location is not a real place on the map. Please share it again."))
        return False
    return True


async def decide(ctx: FlowContext, msg: Inbound) -> None:
    """An admin approves or rejects an application by button."""
    _ = ctx._
    approve = (msg.choice or "").startswith("approve:")
    args = payload_args(msg)
    role, entity_id = (args[0] if args else ""), payload_int(msg, 1)
    if role not in ("restaurant", "worker") or entity_id is None:
        await ctx.reply(_("That button is no longer active. Send /help to see what you can do."))
        return
    try:
        applicant = await decide_application(ctx.uow, ctx.person, role, entity_id, approve)
    except RegistrationError as exc:
        text = {
            "not_admin": _("Only an admin can approve applications."),
            "not_found": _("That application no longer exists."),
        }.get(exc.code, _("That application was already decided."))
        await ctx.reply(text)
        return
    done = _("Approved {name}.") if approve else _("Rejected {name}.")
    await ctx.reply(done.format(name=applicant.display_name))


def application_message(language: str, role: str, entity_id: int, summary: str) -> Outbound:
    """What admins receive for a new application, with Approve / Reject buttons."""
    _ = translator(language)
    title = _("New restaurant to approve:") if role == "restaurant" else _("New delivery worker to approve:")
    return Outbound(
        f"{title}\n{summary}",
        (Choice(_("Approve"), f"approve:{role}:{entity_id}"), Choice(_("Reject"), f"deny:{role}:{entity_id}")),
    )


def restaurant_summary(language: str, name: str, address: str, capacity: int, menu: list[tuple[str, int]]) -> str:
    """One-paragraph description of a restaurant application."""
    _ = translator(language)
    meals = ", ".join(f"{n} {money(p, language)}" for n, p in menu)
    return _("{name}, {address}. {capacity} meals a day: {meals}").format(
        name=name, address=address, capacity=capacity, meals=meals
    )


def decision_message(language: str, role: str, approved: bool, channel: str | None = None) -> Outbound:
    """What the applicant hears after the decision."""
    _ = translator(language, channel)
    if not approved:
        return Outbound(_("Sorry, your application was not approved. Reply /help if you have questions."))
    if role == "restaurant":
        return Outbound(_("Your restaurant is approved. Orders will arrive here with Accept and Reject buttons."))
    return Outbound(
        _("You are approved as a delivery worker and online. Send /jobs to see open jobs, /offline to pause."),
        (Choice(_("Show jobs"), "jobs:"),),
    )


STEPS = {
    Step.REST_NAME: rest_name,
    Step.REST_LOCATION: rest_location,
    Step.REST_ADDRESS: rest_address,
    Step.REST_MENU: rest_menu,
    Step.REST_CAPACITY: rest_capacity,
    Step.REST_HOURS: rest_hours,
    Step.WORKER_NAME: worker_name,
    Step.WORKER_LOCATION: worker_location,
}

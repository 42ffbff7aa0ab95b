"""Entry point of every conversation: who is writing, what they mean, which step answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from core.members.model import Person
from core.ports import UnitOfWork
from flows import admin, common, donor, linking, onboarding, restaurant, worker
from flows.common import normalise
from flows.context import FlowContext, Services
from flows.messages import Inbound
from flows.numbers import MAX_ID, read_int

Step = Callable[[FlowContext, Inbound], Awaitable[None]]

COMMANDS: dict[str, Step] = {
    "/start": onboarding.start,
    "/help": common.help_,
    "/balance": common.balance,
    "/cancel": common.cancel,
    "/deposit": admin.deposit,
    "/link": linking.link,
    "/online": worker.go_online,
    "/offline": worker.go_offline,
    "/jobs": worker.list_jobs,
    "/orders": donor.list_orders,
    "/language": onboarding.ask_language,
    "/menu": restaurant.menu,
    "/capacity": restaurant.capacity,
}

# Typed words people use for the commands, in Tamil, transliterated and plain English.
ALIASES: dict[str, str] = {
    "உதவி": "/help", "udhavi": "/help", "help": "/help",
    "வேலைகள்": "/jobs", "வேலை": "/jobs", "velai": "/jobs", "jobs": "/jobs",
    "மொழி": "/language", "mozhi": "/language", "language": "/language",
    "இருப்பு": "/balance", "balance": "/balance",
    "ரத்து": "/cancel", "நிறுத்து": "/cancel", "cancel": "/cancel", "stop": "/cancel",
    "தொடங்கு": "/start", "start": "/start", "வணக்கம்": "/start", "vanakkam": "/start",
    "ஆன்லைன்": "/online", "online": "/online", "ஆஃப்லைன்": "/offline", "offline": "/offline",
    "ஆர்டர்கள்": "/orders", "orders": "/orders",
    "மெனு": "/menu", "menu": "/menu",
    "அளவு": "/capacity", "எண்ணிக்கை": "/capacity", "capacity": "/capacity",
    "இணை": "/link", "இணைப்பு": "/link", "link": "/link",
}  # fmt: skip

TAKES_A_NUMBER = frozenset({"/capacity", "/link"})

# Button payloads are "verb:arg:arg"; the verb picks the handler.
BUTTONS: dict[str, Step] = {
    "role": onboarding.choose_role,
    "lang": onboarding.set_language,
    "approve": onboarding.decide,
    "deny": onboarding.decide,
    "consent": donor.consent,
    "scene": donor.scene,
    "report": worker.report,
    "meal": donor.choose_meal,
    "tip": donor.choose_tip,
    "pay": donor.pay,
    "cancel": donor.cancel_order,
    "accept": restaurant.accept,
    "reject": restaurant.reject,
    "ready": restaurant.ready,
    "claim": worker.claim,
    "pickup": worker.pickup,
    "delivered": worker.start_delivery,
    "jobs": worker.list_jobs,
    "deposit": admin.deposit_answer,
    "deposit2": admin.second_admin,
}

STEPS: dict[str, Step] = {
    **onboarding.STEPS,
    **donor.STEPS,
    **worker.STEPS,
    **restaurant.STEPS,
}

_YES = {"yes", "y", "ok", "ஆம்", "ஆமாம்", "சரி", "aam", "aama", "aamam", "sari", "seri"}
_NO = {"no", "n", "இல்லை", "வேண்டாம்", "illai", "illa", "venam", "vendam"}


def command_of(text: str) -> str:
    """The command a typed message means ("/jobs", "வேலைகள்", "jobs" → "/jobs"), or ""."""
    words = normalise(text).split(maxsplit=1)
    if not words:
        return ""
    first = words[0]
    if first.startswith("/"):
        return first.split("@", 1)[0]  # Telegram adds @botname in groups
    if command := ALIASES.get(normalise(text)):
        return command
    # A typed word with a number after it ("capacity 15", "அளவு 15") for commands that take one.
    command = ALIASES.get(first, "")
    return command if command in TAKES_A_NUMBER and len(words) == 2 and read_int(words[1], 0, MAX_ID) is not None else ""


def typed_choice(ctx: FlowContext, text: str) -> str | None:
    """Map a typed number, label or yes/no onto the buttons the person was last shown."""
    choices = ctx.state.get("choices") or []
    said = normalise(text)
    if (number := read_int(said, 1, len(choices))) is not None:
        return str(choices[number - 1][1])
    for label, payload in choices:
        if normalise(label) == said:
            return str(payload)
    if len(choices) == 2 and (said in _YES or said in _NO):
        return str(choices[0 if said in _YES else 1][1])
    return None


async def handle(uow: UnitOfWork, msg: Inbound, *, services: Services) -> None:
    """Handle one inbound message completely inside the caller's unit of work."""
    person = await whatsapp_twin(uow, msg)
    if person is None:
        person = await uow.people.get_or_create(msg.channel, msg.address, language=msg.language_hint or "en")
        if (person.channel, person.address) != (msg.channel, msg.address):
            # A linked identity: the answer goes back where the message came from (notifications
            # started by others still go to the home contact).
            person = replace(person, channel=msg.channel, address=msg.address, web_address=None)
    ctx = FlowContext(uow, services, person, await uow.conversations.get(person.id))
    await _route(ctx, msg)
    await uow.conversations.put(person.id, ctx.state)
    if ctx.choices_changed:
        await uow.conversations.set_choices(person.id, ctx.state.get("choices", []))


async def whatsapp_twin(uow: UnitOfWork, msg: Inbound) -> Person | None:
    """An SMS from a number known only on WhatsApp is that WhatsApp person answering a message
    that reached them by SMS (outside WhatsApp's 24-hour window): keep one conversation."""
    if msg.channel != "sms" or await uow.people.find("sms", msg.address):
        return None
    return await uow.people.find("whatsapp", f"whatsapp:{msg.address}")


async def _route(ctx: FlowContext, msg: Inbound) -> None:
    if msg.kind == "text":
        command = command_of(msg.text)
        if command in COMMANDS:
            return await COMMANDS[command](ctx, msg)
        if (payload := typed_choice(ctx, msg.text)) is not None:
            msg = Inbound(msg.channel, msg.address, "choice", choice=payload)
    if msg.kind == "choice" and msg.choice:
        verb = msg.choice.split(":", 1)[0]
        if verb in BUTTONS:
            return await BUTTONS[verb](ctx, msg)
        return await common.unknown(ctx, msg)
    if ctx.step in STEPS:
        return await STEPS[ctx.step](ctx, msg)
    if msg.kind == "photo":
        return await donor.photo_received(ctx, msg)
    if msg.kind == "location":
        return await worker.location_outside_step(ctx, msg)
    return await common.unknown(ctx, msg)

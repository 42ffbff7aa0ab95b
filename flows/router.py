"""Entry point of every conversation: who is writing, what they mean, which step answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from core.members.model import Person
from core.ports import UnitOfWork
from core.prompts.model import Option, Prompt, PromptState
from flows import (
    admin,
    books,
    campaign_list,
    campaigns,
    cards,
    common,
    disputes,
    donor,
    governance,
    linking,
    mydata,
    onboarding,
    payments,
    pledges,
    prompts,
    ratings,
    restaurant,
    second_look,
    timeouts,
    treasurer,
    worker,
)
from flows.common import normalise
from flows.context import FlowContext, Services
from flows.messages import Inbound
from flows.numbers import typed_digits
from flows.steps import FREE_WORDS, TAKES_TYPED_INPUT, Verb
from flows.understand import COMMAND_WORDS, Intent, understand

Handler = Callable[[FlowContext, Inbound], Awaitable[None]]

COMMANDS: dict[str, Handler] = {
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
    "/dispute": disputes.command,
    "/pledge": pledges.start,
    "/pledges": pledges.list_pledges,
    "/topup": payments.topup,
    "/payout": payments.payout_details,
    "/earnings": payments.earnings,
    "/unmatched": treasurer.unmatched,
    "/assign": treasurer.assign,
    "/paid": treasurer.paid,
    "/payfailed": treasurer.payout_failed,
    "/mydata": mydata.mydata,
    "/forget": mydata.forget_command,
    "/pool": books.pool,
    "/books": books.books_,
    "/checkpoint": books.checkpoint_messages,
    "/join": governance.join,
    "/leave": governance.leave,
    "/members": governance.members,
    "/propose": governance.propose,
    "/proposals": governance.proposals,
    "/rules": governance.rules,
    "/rate": ratings.command,
    "/ratings": ratings.mine,
    "/campaign": campaigns.command,
    "/give": campaigns.give_command,
    "/often": pledges.often_command,
    "/daily": pledges.daily_command,
    "/campaigns": campaign_list.list_campaigns,
    "/nearby": campaign_list.nearby_command,
}

# Typed words people use for the commands, in Tamil, transliterated and plain English (more
# spellings, plurals and misspellings: flows/understand.py COMMAND_WORDS; greetings are not
# commands: they resume the conversation, see greet).
ALIASES: dict[str, str] = {
    "உதவி": "/help", "udhavi": "/help", "help": "/help",
    "வேலைகள்": "/jobs", "வேலை": "/jobs", "velai": "/jobs", "jobs": "/jobs",
    "மொழி": "/language", "mozhi": "/language", "language": "/language",
    "இருப்பு": "/balance", "balance": "/balance",
    "ரத்து": "/cancel", "நிறுத்து": "/cancel", "cancel": "/cancel", "stop": "/cancel",
    "தொடங்கு": "/start", "start": "/start",
    "ஆன்லைன்": "/online", "online": "/online", "ஆஃப்லைன்": "/offline", "offline": "/offline",
    "ஆர்டர்கள்": "/orders", "orders": "/orders",
    "மெனு": "/menu", "menu": "/menu",
    "அளவு": "/capacity", "எண்ணிக்கை": "/capacity", "capacity": "/capacity",
    "இணை": "/link", "இணைப்பு": "/link", "link": "/link",
    "புகார்": "/dispute", "dispute": "/dispute",
    "நன்கொடை": "/pledge", "உறுதிமொழி": "/pledge", "pledge": "/pledge",
    "நன்கொடைகள்": "/pledges", "pledges": "/pledges",
    "டாப்அப்": "/topup", "நிரப்பு": "/topup", "topup": "/topup",
    "வருமானம்": "/earnings", "சம்பாத்தியம்": "/earnings", "earnings": "/earnings",
    "பணம்பெற": "/payout", "payout": "/payout",
    "என்தகவல்": "/mydata", "mydata": "/mydata", "my data": "/mydata",
    "என் தகவல்": "/mydata",
    "மறந்துவிடு": "/forget", "மறந்திடு": "/forget", "forget": "/forget", "forget me": "/forget",
    "நிதி": "/pool", "pool": "/pool", "கணக்கு": "/books", "கணக்குகள்": "/books", "books": "/books",
    "கையொப்பம்": "/checkpoint", "checkpoint": "/checkpoint",
    "சேர்": "/join", "join": "/join", "விலகு": "/leave", "leave": "/leave",
    "உறுப்பினர்கள்": "/members", "members": "/members",
    "முன்மொழி": "/propose", "propose": "/propose", "முன்மொழிவுகள்": "/proposals", "proposals": "/proposals",
    "விதிகள்": "/rules", "rules": "/rules",
    "மதிப்பீடு": "/rate", "rate": "/rate", "மதிப்பீடுகள்": "/ratings", "ratings": "/ratings",
    "கூட்டுநிதி": "/campaign", "கூட்டு நிதி": "/campaign", "campaign": "/campaign",
    "கொடு": "/give", "give": "/give",
    "அடிக்கடி": "/often", "often": "/often", "தினமும்": "/daily", "daily": "/daily",
    "கூட்டுநிதிகள்": "/campaigns", "campaigns": "/campaigns",
    "அருகில்": "/nearby", "nearby": "/nearby",
}  # fmt: skip

TAKES_A_NUMBER = frozenset({"/capacity", "/link", "/dispute", "/topup", "/rate", "/pledge", "/often", "/daily"})
# Typed words whose command reads the words after them itself ("கொடு K7QXM 50").
TAKES_WORDS = frozenset({"/give", "/nearby", "/campaigns"})

# Button payloads are "verb:arg:arg"; the verb picks the handler.
BUTTONS: dict[str, Handler] = {
    Verb.ROLE: onboarding.choose_role,
    Verb.LANG: onboarding.set_language,
    Verb.APPROVE: onboarding.decide,
    Verb.DENY: onboarding.decide,
    Verb.CONSENT: donor.consent,
    Verb.SCENE: donor.scene,
    Verb.REPORT: worker.report,
    Verb.MEAL: donor.choose_meal,
    Verb.TIP: donor.choose_tip,
    Verb.PAY: donor.pay,
    Verb.CARD: cards.pay_by_card,
    Verb.POOL_PAY: cards.pay_instead_of_pool,
    Verb.CANCEL: donor.cancel_order,
    Verb.ACCEPT: restaurant.accept,
    Verb.REJECT: restaurant.reject,
    Verb.READY: restaurant.ready,
    Verb.CLAIM: worker.claim,
    Verb.PICKUP: worker.pickup,
    Verb.DELIVERED: worker.start_delivery,
    Verb.NOT_FOUND: worker.not_found,
    Verb.JOBS: worker.list_jobs,
    Verb.DEPOSIT: admin.deposit_answer,
    Verb.DEPOSIT2: admin.second_admin,
    Verb.WAIT: timeouts.wait_longer,
    Verb.GIVE_UP: timeouts.give_up,
    Verb.COMING: timeouts.coming,
    Verb.GIVE_BACK: timeouts.give_back,
    Verb.DISPUTE: disputes.report,
    Verb.DISPUTE_REASON: disputes.reason,
    Verb.RESOLVE: disputes.resolve,
    Verb.APPEAL: disputes.appeal,
    Verb.APPEAL_TO: disputes.appeal_to,
    Verb.PLEDGE_KIND: pledges.choose_kind,
    Verb.PLEDGE_RADIUS: pledges.choose_radius,
    Verb.PLEDGE_HOURS: pledges.choose_hours,
    Verb.PLEDGE_RENEW: pledges.choose_renew,
    Verb.PLEDGE_OK: pledges.confirm,
    Verb.PLEDGE_NO: pledges.confirm,
    Verb.PLEDGE_STOP: pledges.stop,
    Verb.PLEDGE_PAUSE: pledges.pause,
    Verb.PLEDGE_RESUME: pledges.pause,
    Verb.PLEDGE_TELL: pledges.tell_pressed,
    Verb.PAYTO: payments.payout_answer,
    Verb.FORGET: mydata.confirm,
    Verb.JOIN: governance.join_answer,
    Verb.SECOND: governance.second,
    Verb.VOTE: governance.vote_button,
    Verb.RATE: ratings.tapped,
    Verb.RATING_APPEAL: ratings.appeal_pressed,
    Verb.RATING_DECIDE: ratings.decided,
    Verb.RATING_COMMENT: ratings.skip_pressed,
    Verb.CAMPAIGN: campaigns.start,
    Verb.GIVE: campaigns.give_answer,
    Verb.GIVE_CARD: cards.give_by_card,
    Verb.CAMPAIGN_STOP: campaigns.stop,
    Verb.GIVE_ASK: campaign_list.give_tapped,
    Verb.GIVE_AMOUNT: campaign_list.amount_tapped,
    Verb.NEARBY: campaign_list.nearby_tapped,
    Verb.NO_PHOTO: second_look.no_photo,
    Verb.NOT_SAME: second_look.not_same,
}

STEPS: dict[str, Handler] = {
    str(step): handler
    for module in (onboarding, donor, second_look, worker, restaurant, disputes, mydata, governance, ratings, pledges,
                   campaign_list)
    for step, handler in module.STEPS.items()
}


def command_of(text: str, own_words: bool = False) -> str:
    """The command a typed message means ("/jobs", "வேலைகள்", "jobs" → "/jobs"), or "".

    own_words: the step waits for the person's own words, where a sentence's first word is no command."""
    words = normalise(text).split(maxsplit=1)
    if not words:
        return ""
    first = words[0]
    if first.startswith("/"):
        command = first.split("@", 1)[0]  # Telegram adds @botname in groups
        if command in COMMANDS:
            return command
        # A slash before a typed word: "/உதவி", "/velai".
        return ALIASES.get(command[1:]) or COMMAND_WORDS.get(command[1:]) or command
    if alias := ALIASES.get(normalise(text)):
        return alias
    if (meaning := understand(text)).intent is Intent.COMMAND:
        return meaning.value
    if own_words:
        return ""
    # A typed word with a number after it ("capacity 15", "அளவு 15") for commands that take one;
    # any number, however large: the command itself says why it cannot be used.
    command = ALIASES.get(first) or COMMAND_WORDS.get(first, "")
    if command in TAKES_WORDS:
        return command
    return command if command in TAKES_A_NUMBER and len(words) == 2 and typed_digits(words[1]) is not None else ""


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


async def whatsapp_twin(uow: UnitOfWork, msg: Inbound) -> Person | None:
    """An SMS from a number known only on WhatsApp is that WhatsApp person answering a message
    that reached them by SMS (outside WhatsApp's 24-hour window): keep one conversation."""
    if msg.channel != "sms" or await uow.people.find("sms", msg.address):
        return None
    return await uow.people.find("whatsapp", f"whatsapp:{msg.address}")


async def _route(ctx: FlowContext, msg: Inbound) -> None:
    answer: tuple[Prompt, Option] | None = None
    if msg.kind == "text":
        command = command_of(msg.text, own_words=ctx.step in FREE_WORDS)
        if command in COMMANDS:
            return await COMMANDS[command](ctx, msg)
        if ctx.step not in TAKES_TYPED_INPUT and (answer := await prompts.typed(ctx.uow, ctx.person.id, msg.text)):
            msg = Inbound(msg.channel, msg.address, "choice", choice=answer[1].payload)
    if msg.kind == "choice" and msg.choice:
        answer = answer or await prompts.pressed(ctx.uow, ctx.person.id, msg.choice)
        if answer is not None and not await take_answer(ctx, *answer):
            return None
        verb = msg.choice.split(":", 1)[0]
        if verb in BUTTONS:
            return await BUTTONS[verb](ctx, msg)
        return await common.unknown(ctx, msg)
    if msg.kind == "poll_answer":  # a native poll's answer answers that poll, whatever step is open
        return await governance.poll_answer(ctx, msg)
    if msg.kind == "text" and understand(msg.text).intent is Intent.GREETING:
        return await common.greet(ctx, msg)
    if ctx.step in STEPS:
        return await STEPS[ctx.step](ctx, msg)
    if msg.kind == "photo":
        return await donor.photo_received(ctx, msg)
    if msg.kind == "document":
        return await treasurer.statement_file(ctx, msg)
    if msg.kind == "location":
        return await worker.location_outside_step(ctx, msg)
    return await common.unknown(ctx, msg)


async def take_answer(ctx: FlowContext, prompt: Prompt, option: Option) -> bool:
    """Close the prompt an answer is for; False, after a polite reply, if it takes no answers.

    A withdrawn prompt (a job someone else claimed) still goes to its handler, which knows why
    it is gone and says so ("Job #1 was taken by Murugan")."""
    _ = ctx._
    state = prompt.state(ctx.uow.now)
    if prompts.verb_of(option.payload) in prompts.STANDING:
        return True  # the handler knows whether the vote is still open
    if prompts.verb_of(option.payload) in prompts.REUSABLE:
        if state is PromptState.OPEN and all(prompts.verb_of(o.payload) in prompts.REUSABLE for o in prompt.options):
            await ctx.uow.prompts.answer(prompt.id)
        return True
    if state is PromptState.ANSWERED:
        await ctx.reply(_("That question has already been answered."))
        return False
    if state is PromptState.EXPIRED:
        await ctx.reply(_("That offer has expired. Send /help to see what you can do."))
        return False
    if state is PromptState.OPEN:
        await ctx.uow.prompts.answer(prompt.id)
    return True

"""A person's own data by chat: /mydata (a summary and a one-time download link) and /forget
(erase, after a button — and on SMS a typed word — once nothing is open or owed)."""

from __future__ import annotations

from core.ledger.model import donor_account
from core.privacy import FAREWELL_META, export
from core.privacy.forget import Blockers, ForgetRefused, blockers, forget
from core.privacy.links import data_link_token
from flows.common import normalise, payload_args
from flows.context import FlowContext, deliver_to
from flows.i18n import Translator, money
from flows.messages import Choice, Inbound, Outbound
from flows.numbers import MAX_ID, read_int
from flows.steps import Step

CONFIRM_WORDS = frozenset({"erase", "அழி"})
FAREWELL = {FAREWELL_META: True}  # the last message to an erased person: deleted an hour later


async def mydata(ctx: FlowContext, msg: Inbound) -> None:
    """/mydata: what is held about the person, and a one-time link to all of it as a file."""
    _ = ctx._
    held = await export.summary(ctx.uow, ctx.person)
    await ctx.reply(_("Ketpaar holds about you (#{id}): {orders} orders, {messages} messages, {photos} photos, balance "
                      "{balance}.").format(id=ctx.person.id, orders=held.orders, messages=held.messages, photos=held.photos,
                                           balance=money(held.balance, ctx.person.language)))  # fmt: skip
    web = ctx.person.address if ctx.person.channel == "webchat" else None
    token = data_link_token(ctx.services.secret, ctx.person.id, ctx.uow.at.timestamp(), web)
    url = f"{ctx.services.public_url}/mydata?t={token}"
    await ctx.reply(_("Download all of it as a file (works once, for 30 minutes): {url}").format(url=url))


def waiting(_: Translator, found: Blockers, language: str) -> str:
    """Why a person cannot be forgotten yet, and what remains."""
    lines = [_("Your data cannot be erased yet:")]
    if found.open_orders:
        lines.append(_("Open orders: {orders}. When they are finished, send /forget again.").format(
            orders=", ".join(f"#{i}" for i in found.open_orders)))  # fmt: skip
    if found.open_disputes:
        lines.append(_("Open disputes: {disputes}. When they are decided, send /forget again.").format(
            disputes=", ".join(f"#{i}" for i in found.open_disputes)))  # fmt: skip
    if found.owed:
        lines.append(_("We still owe you {amount}: it is paid out first.").format(amount=money(found.owed, language)))
    if found.campaigns:
        lines.append(_("Campaigns you are part of have not ended: {codes}. When they end, send /forget again.").format(
            codes=", ".join(found.campaigns)))  # fmt: skip
    if found.payouts:
        lines.append(_("A payout to you is on its way to the bank. When it is paid, send /forget again."))
    if found.deposits:
        lines.append(_("A deposit for you waits for a second admin. When it is decided, send /forget again."))
    if found.admin:
        lines.append(_("Admins are named in the settings: ask the operator to remove you first."))
    return "\n".join(lines)


async def forget_command(ctx: FlowContext, msg: Inbound) -> None:
    """/forget: say what will go (and where any balance goes), then ask for confirmation."""
    _, lang = ctx._, ctx.person.language
    found = await blockers(ctx.uow, ctx.person)
    if not found.clear:
        await ctx.reply(waiting(_, found, lang))
        return
    balance = await ctx.uow.ledger.balance(donor_account(ctx.person.id))
    text = _("This erases your name, phone and chat ids, messages and photos for good.")
    if balance:
        text += " " + _("The {amount} on your balance goes to the guarantee pool.").format(amount=money(balance, lang))
    if ctx.person.channel == "sms":
        ctx.goto(Step.FORGET_WORD, amount=balance)
        await ctx.reply(text + " " + _("To go ahead, reply ERASE. Anything else keeps your data."))
        return
    await ctx.reply(text, (Choice(_("Erase my data"), f"forget:yes:{balance}"), Choice(_("Keep my data"), "forget:no")))


async def confirm(ctx: FlowContext, msg: Inbound) -> None:
    """The Erase / Keep buttons."""
    _ = ctx._
    args = payload_args(msg)
    # Only a button this person was offered counts: a tap replayed after an erasure comes from a
    # brand-new person, who was never asked.
    offered = msg.choice is not None and await ctx.uow.prompts.with_payload(ctx.person.id, msg.choice) is not None
    consented = read_int(args[1], 0, MAX_ID * 100) if len(args) == 2 and args[0] == "yes" else None
    if not offered or (args[:1] != ["no"] and consented is None):
        await ctx.reply(_("That button is no longer active. Send /help to see what you can do."))
        return
    if consented is None:
        await ctx.reply(_("Nothing was erased."))
        return
    await _erase(ctx, msg, consented)


async def typed_word(ctx: FlowContext, msg: Inbound) -> None:
    """On SMS the erasure needs a typed word; anything else keeps the data."""
    consented = int(ctx.data.get("amount", 0))
    ctx.goto(None)
    if normalise(msg.text) not in CONFIRM_WORDS:
        await ctx.reply(ctx._("Nothing was erased."))
        return
    await _erase(ctx, msg, consented)


async def _erase(ctx: FlowContext, msg: Inbound, consented: int) -> None:
    _ = ctx._
    if await ctx.uow.ledger.balance(donor_account(ctx.person.id)) != consented:
        await ctx.reply(_("Your balance changed since you asked. Send /forget again."))
        return
    try:
        await forget(ctx.uow, ctx.person, ctx.services.photos, (msg.channel, msg.address))
    except ForgetRefused as exc:
        await ctx.reply(waiting(_, exc.blockers, ctx.person.language))
        return
    ctx.state.clear()
    text = _("Done: your data is erased. If you write again, you start as a new person.")
    await deliver_to(ctx.uow, ctx.person, Outbound(text, meta=FAREWELL))


STEPS = {Step.FORGET_WORD: typed_word}

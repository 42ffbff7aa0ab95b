"""/link: use two chats (web page, Telegram, WhatsApp, SMS) as one person, proven by a one-time code."""

from __future__ import annotations

from core.members.identity import LINK_CODE_DIGITS, LINK_CODE_TRIES, LinkError, issue_link_code, redeem_link_code
from flows.common import normalise
from flows.context import FlowContext
from flows.i18n import translator
from flows.messages import Inbound, Outbound

CHANNEL_NAMES = {"telegram": "Telegram", "whatsapp": "WhatsApp", "sms": "SMS"}  # names, not translated


async def link(ctx: FlowContext, msg: Inbound) -> None:
    """/link alone sends a code to this chat; /link <code> typed in the other chat joins the two."""
    _ = ctx._
    words = normalise(msg.text).split()
    if len(words) == 1:
        code = await issue_link_code(ctx.uow, ctx.person, msg.channel, msg.address)
        await ctx.reply(_("Your link code is {code}. Within 10 minutes, send /link {code} from your other chat "
                          "(web page, Telegram, WhatsApp or SMS). Share it with no one.").format(code=code))  # fmt: skip
        return
    code = "".join(words[1:])  # "/link 1234 5678" as read aloud is the same code
    if not (len(code) == LINK_CODE_DIGITS and code.isascii() and code.isdigit()):
        await ctx.reply(_("A link code has 8 digits, e.g. /link 12345678. Send /link alone to get one."))
        return
    try:
        person = await redeem_link_code(ctx.uow, ctx.person, msg.channel, msg.address, code)
    except LinkError as exc:
        await ctx.reply({
            "too_many": _("Too many wrong codes ({tries}). Wait 10 minutes, then get a new code with /link.").format(
                tries=LINK_CODE_TRIES),
            "source_busy": _("Many wrong link codes came from where you are connecting. Please wait 10 minutes, "
                             "then try again."),
            "paused": _("Linking is paused for a few minutes because many wrong codes were tried. "
                        "Please try again in 10 minutes."),
            "same_person": _("These chats are already one person."),
            "both_have_records": _("Both chats already have their own records (money, orders or a role), so I cannot join them. "
                                   "Please ask an admin."),
        }.get(exc.reason, _("That code is not valid or has expired. Send /link in your other chat to get a new one.")))  # fmt: skip
        return
    ctx.goto(None)
    await ctx.reply(_("Linked: this chat is now member #{id}, with one balance and one vote.").format(id=person.id))
    if (person.channel, person.address) != (msg.channel, msg.address):
        t_ = translator(person.language, person.channel)
        channel = t_("the web chat") if msg.channel == "webchat" else CHANNEL_NAMES.get(msg.channel, msg.channel)
        await ctx.tell(person, Outbound(t_("Linked: you can now also use {channel}, as the same member.").format(channel=channel)))

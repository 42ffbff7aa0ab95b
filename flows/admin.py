"""What admins do by chat: record money received for someone (a second admin above the limit)."""

from __future__ import annotations

import secrets

from core.ledger import deposits
from core.ledger.model import donor_account
from core.members.identity import PERSON_NUMBER
from core.members.model import Person
from core.ports import UnitOfWork
from flows.common import parse_rupees, payload_args, payload_int
from flows.context import FlowContext
from flows.i18n import money, translator
from flows.messages import Choice, Inbound, Outbound
from flows.steps import Step

MAX_HANDLE = 140


async def find_person(uow: UnitOfWork, handle: str) -> Person | None:
    """Who an admin means: "#12" (the member number /balance shows), "+9198…" (WhatsApp or SMS),
    "channel:address", or a web-chat name. Never creates anyone."""
    handle = handle.strip()
    if not handle or len(handle) > MAX_HANDLE:
        return None
    if PERSON_NUMBER.fullmatch(handle):
        found = await uow.people.get(int(handle[1:]))
        return found if found is not None and found.channel != "merged" else None
    if handle.startswith("+") and handle[1:].isdigit():
        candidates = [("whatsapp", f"whatsapp:{handle}"), ("sms", handle)]
    elif ":" in handle:
        channel, address = handle.split(":", 1)
        if channel == "whatsapp" and not address.startswith("whatsapp:"):
            address = f"whatsapp:{address}"  # WhatsApp addresses are stored as Twilio writes them
        candidates = [(channel, address)]
    else:
        candidates = [("webchat", handle)]
    for channel, address in candidates:
        if found := await uow.people.find(channel, address):
            return found
    return None


def payee_label(person: Person) -> str:
    """Who a deposit is for, as admins check it: the name, or for someone who gave none the
    chat they use ("sms +9198…"), not the bare number twice ("#8 (member #8)")."""
    return person.name or f"{person.channel} {person.address}"


async def deposit(ctx: FlowContext, msg: Inbound) -> None:
    """/deposit <who> <rupees>: an admin records cash or UPI received, after seeing who gets it."""
    _ = ctx._
    if not ctx.person.is_admin:
        await ctx.reply(_("Only an admin can record deposits."))
        return
    parts = msg.text.split()
    amount = parse_rupees(parts[2]) if len(parts) == 3 else None
    if amount is None:
        await ctx.reply(_("Usage: /deposit <member number or phone> <rupees>, for example /deposit #12 500"))
        return
    ceiling = (await ctx.uow.params.current()).max_deposit
    if amount > ceiling:
        await ctx.reply(_("Nothing was recorded: one deposit can be at most {max}.").format(max=money(ceiling, ctx.person.language)))
        return
    target = await find_person(ctx.uow, parts[1])
    if target is None:
        await ctx.reply(_("No one is registered as {who}. Use their member number (they see it with /balance), "
                          "e.g. /deposit #12 500, or their phone number.").format(who=parts[1][:MAX_HANDLE]))  # fmt: skip
        return
    nonce = secrets.token_hex(4)
    ctx.goto(Step.ADMIN_DEPOSIT, target=target.id, amount=amount, nonce=nonce)
    await ctx.reply(
        _("Record {amount} received for {name} (member #{id})?").format(
            amount=money(amount, ctx.person.language), name=payee_label(target), id=target.id),
        (Choice(_("Confirm"), f"deposit:yes:{nonce}"), Choice(_("Cancel"), f"deposit:no:{nonce}")),
    )  # fmt: skip


async def deposit_answer(ctx: FlowContext, msg: Inbound) -> None:
    """Confirm or cancel the deposit just shown; above the limit it waits for a second admin."""
    _ = ctx._
    args = payload_args(msg)
    data = dict(ctx.data) if ctx.step == Step.ADMIN_DEPOSIT else {}
    if not ctx.person.is_admin or len(args) != 2 or data.get("nonce") != args[1]:
        await ctx.reply(_("That button is no longer active. Send /help to see what you can do."))
        return
    ctx.goto(None)
    target = await ctx.uow.people.get(int(data["target"]))
    if args[0] != "yes" or target is None:
        await ctx.reply(_("Nothing was recorded."))
        return
    amount = int(data["amount"])
    if not await deposits.needs_second_admin(ctx.uow, amount):
        await deposits.record_by_admin(ctx.uow, ctx.person, target, amount, f"deposit:{ctx.person.id}:{data['nonce']}",
                                       "cash/UPI recorded by admin")  # fmt: skip
        await _recorded(ctx, target, amount)
        return
    limit = money((await ctx.uow.params.current()).deposit_second_admin_above, ctx.person.language)
    others = [a for a in await ctx.uow.people.admins() if a.id != ctx.person.id]
    if not others:
        await ctx.reply(_("Deposits above {limit} need a second admin, and you are the only one. Nothing was recorded.").format(
            limit=limit))  # fmt: skip
        return
    request_id = await deposits.request_deposit(ctx.uow, ctx.person, target, amount)
    await ctx.reply(_("Above {limit}, a second admin must confirm. I have asked the other admins.").format(limit=limit))
    for other in others:
        t_ = translator(other.language, other.channel)
        text = t_("{admin} asks to record {amount} received for {name} (member #{id}). Confirm only if the money has arrived.")
        await ctx.tell(other, Outbound(
            text.format(admin=ctx.person.display_name, amount=money(amount, other.language), name=payee_label(target), id=target.id),
            (Choice(t_("Confirm deposit"), f"deposit2:yes:{request_id}"), Choice(t_("Refuse"), f"deposit2:no:{request_id}"))))  # fmt: skip


async def second_admin(ctx: FlowContext, msg: Inbound) -> None:
    """A second admin confirms or refuses a large deposit (once; never the admin who asked)."""
    _ = ctx._
    args, request_id = payload_args(msg), payload_int(msg, 1)
    if request_id is None or len(args) != 2:
        await ctx.reply(_("That button is no longer active. Send /help to see what you can do."))
        return
    try:
        request = await deposits.decide_deposit(ctx.uow, ctx.person, request_id, args[0] == "yes")
    except deposits.DepositError as exc:
        await ctx.reply({
            "not_admin": _("Only an admin can record deposits."),
            "own_request": _("Another admin must confirm the deposit you asked for."),
        }.get(exc.reason, _("That deposit was already decided.")))  # fmt: skip
        return
    requester = await ctx.uow.people.get(request.requested_by)
    target = await ctx.uow.people.get(request.person_id)
    assert requester is not None and target is not None
    t_ = translator(requester.language, requester.channel)
    names = {"admin": ctx.person.display_name, "amount": money(request.amount, requester.language), "name": target.display_name}
    if args[0] != "yes":
        await ctx.reply(_("Refused. Nothing was recorded."))
        await ctx.tell(requester, Outbound(t_("{admin} refused the deposit of {amount} for {name}.").format(**names)))
        return
    await _recorded(ctx, target, request.amount)
    await ctx.tell(requester, Outbound(t_("{admin} confirmed the deposit of {amount} for {name}.").format(**names)))


async def _recorded(ctx: FlowContext, target: Person, amount: int) -> None:
    """Tell the admin the target's new balance and thank the target."""
    _, lang = ctx._, ctx.person.language
    balance_now = await ctx.uow.ledger.balance(donor_account(target.id))
    await ctx.reply(_("Recorded {amount} for {user}. Their balance is now {balance}.").format(
        amount=money(amount, lang), user=f"{payee_label(target)} (#{target.id})", balance=money(balance_now, lang)))  # fmt: skip
    t_ = translator(target.language, target.channel)
    await ctx.tell(target, Outbound(t_("{amount} was added to your balance. Thank you!").format(amount=money(amount, target.language))))

"""Money by chat for donors and payees: /topup by UPI, payout details, /earnings."""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime, timedelta

from core.ledger.model import restaurant_account, worker_account
from core.ledger.service import EARNING_KINDS
from core.orders.lifecycle import Status
from core.payments import connect, payouts, topups
from core.payments.model import InvalidDetails, Method, PayoutDetails, parse_details
from core.payments.upi import pay_link, qr_png
from core.shared.clock import LOCAL_TZ, local_day
from flows.common import parse_rupees, payload_args
from flows.context import PHOTOLESS_CHANNELS, POLLED_CHANNELS, FlowContext
from flows.i18n import money, translator
from flows.messages import Choice, Inbound, Outbound
from flows.payments_notify import payout_place
from flows.steps import Step

STRIPE_WORDS = frozenset({"stripe", "ஸ்ட்ரைப்"})  # /payout stripe: payouts by Stripe Connect


def spelled(reference: str) -> str:
    """A reference read out character by character (for SMS and for reading aloud): K P 7 H …"""
    return " ".join(reference)


async def topup(ctx: FlowContext, msg: Inbound) -> None:
    """/topup <rupees>: a UPI link and QR code with a unique reference, credited from the bank statement."""
    _, lang = ctx._, ctx.person.language
    payee = ctx.services.upi
    if payee is None:
        await ctx.reply(_("Top-ups by UPI are not available yet. An admin can record cash with /deposit."))
        return
    params = await ctx.uow.params.current()
    parts = msg.text.split()
    amount = parse_rupees(parts[1]) if len(parts) == 2 else None
    if amount is None or not params.topup_min <= amount <= params.max_deposit:
        await ctx.reply(_("Send /topup and an amount between {low} and {high}, for example /topup 500.").format(
            low=money(params.topup_min, lang), high=money(params.max_deposit, lang)))  # fmt: skip
        return
    request = await topups.request_topup(ctx.uow, ctx.person, amount)
    link = pay_link(payee, amount, request.reference)
    names = {"amount": money(amount, lang), "name": payee.name, "ref": request.reference}
    if ctx.person.channel in PHOTOLESS_CHANNELS:
        await ctx.reply(_("To add {amount}, pay by UPI to {name} with the link below. Reference: {ref} ({words}).").format(
            words=spelled(request.reference), **names))  # fmt: skip
        await ctx.reply(link)
        return
    png = await asyncio.to_thread(qr_png, link)
    photo_id = await ctx.services.photos.put(png)
    await ctx.uow.photos.add(photo_id, "upi_qr", ctx.person.id, "image/png")
    await ctx.reply(_("To add {amount} to your balance, pay by UPI to {name}: tap the link below or scan the QR code. "
                      "Keep the reference {ref} in the payment note.").format(**names), photo_id=photo_id)  # fmt: skip
    await ctx.reply(link)


async def payout_details(ctx: FlowContext, msg: Inbound) -> None:
    """/payout [UPI id | account number and IFSC]: show (masked) or change where a payee is paid."""
    _ = ctx._
    if not await payouts.may_be_paid(ctx.uow, ctx.person):
        await ctx.reply(_("Payout details are for registered restaurants and delivery workers."))
        return
    text = msg.text.split(maxsplit=1)
    current = await ctx.uow.payments.details(ctx.person.id)
    if len(text) < 2:
        if current is None:
            await ctx.reply(_("You have no payout details yet. Send /payout and your UPI id (/payout name@okaxis) "
                              "or your account number and IFSC (/payout 12345678901 SBIN0001234)."))  # fmt: skip
        else:
            await ctx.reply(_("Your payouts go to {where}. To change it, send /payout and the new details.").format(
                where=payout_place(_, current)))  # fmt: skip
        return
    if text[1].strip().lower() in STRIPE_WORDS:
        if ctx.services.transfers is None:
            await ctx.reply(_("Payouts by Stripe are not offered here. Send your UPI id, or your account number and IFSC."))
            return
        if current is not None and current.method is Method.STRIPE:
            await _link_stripe(ctx, msg)  # the same account: nothing changes but a fresh onboarding link
            return
        details = PayoutDetails(ctx.person.id, Method.STRIPE, "")  # the account is made once confirmed
    else:
        try:
            details = parse_details(ctx.person.id, text[1])
        except InvalidDetails as exc:
            await ctx.reply(_details_problem(ctx, exc))
            return
    await _ask_to_confirm(ctx, details, current)


def _details_problem(ctx: FlowContext, exc: InvalidDetails) -> str:
    """What is wrong with typed payout details."""
    _ = ctx._
    return {
        "vpa": _("That is not a UPI id. It looks like name@bank, for example murugan@okaxis."),
        "account": _("An account number has 9 to 18 digits and nothing else."),
        "ifsc": _("That IFSC is not right: 11 characters, 4 letters, a zero, then 6 letters or digits (SBIN0001234)."),
    }.get(exc.reason, _("Send either a UPI id, or an account number and IFSC separated by a space."))  # fmt: skip


async def _ask_to_confirm(ctx: FlowContext, details: PayoutDetails, current: PayoutDetails | None) -> None:
    """Ask the payee to confirm new payout details (a change is never made on one message)."""
    _ = ctx._
    nonce = secrets.token_hex(4)
    ctx.goto(Step.PAYOUT_CONFIRM, method=details.method.value, destination=details.destination, ifsc=details.ifsc,
             nonce=nonce)  # fmt: skip
    if current is None:
        question = _("Pay you at {where}? Check it: money sent to a wrong account is hard to get back.")
    else:
        question = _("Change your payouts from {old} to {where}?")
    await ctx.reply(question.format(where=payout_place(_, details), old=payout_place(_, current) if current else ""),
                    (Choice(_("Confirm"), f"payto:yes:{nonce}"), Choice(_("Cancel"), f"payto:no:{nonce}")))  # fmt: skip


async def payout_answer(ctx: FlowContext, msg: Inbound) -> None:
    """Confirm or cancel the payout details just shown."""
    _ = ctx._
    args = payload_args(msg)
    data = dict(ctx.data) if ctx.step == Step.PAYOUT_CONFIRM else {}
    if len(args) != 2 or data.get("nonce") != args[1]:
        await ctx.reply(_("That button is no longer active. Send /help to see what you can do."))
        return
    ctx.goto(None)
    if args[0] != "yes":
        await ctx.reply(_("Nothing was changed."))
        return
    details = PayoutDetails(ctx.person.id, Method(str(data["method"])), str(data["destination"]), str(data["ifsc"]))
    if details.method is Method.STRIPE:
        await _link_stripe(ctx, msg)
        return
    before = await ctx.uow.payments.details(ctx.person.id)
    try:
        await payouts.set_details(ctx.uow, ctx.person, details)
    except payouts.PayoutError:
        await ctx.reply(_("Payout details are for registered restaurants and delivery workers."))
        return
    await ctx.reply(_("Saved. Your payouts go to {where}.").format(where=payout_place(_, details)))
    await tell_other_identities(ctx, msg, before, details)


async def tell_other_identities(ctx: FlowContext, msg: Inbound, before: PayoutDetails | None, after: PayoutDetails) -> None:
    """Warn the payee on every linked identity but the one the change came from: a borrowed or
    stolen phone must not redirect their pay unseen. Each in their language, with how to undo it."""
    if before == after:
        return
    for channel, address in await ctx.uow.people.identities_of(ctx.person.id):
        if (channel, address) == (msg.channel, msg.address):
            continue
        _ = translator(ctx.person.language, channel)
        if before is None:
            text = _("Payout details were added from another of your chats: your payouts now go to {where}.").format(
                where=payout_place(_, after))  # fmt: skip
        else:
            text = _("Your payout details were changed from another of your chats: payouts now go to {where}, no longer to "
                     "{old}.").format(where=payout_place(_, after), old=payout_place(_, before))  # fmt: skip
        text += "\n" + _("Not you? Send /payout with your own details to change them back, and tell an admin.")
        await ctx.uow.outbox.enqueue(channel, address, Outbound(text).to_payload(), delivered=channel in POLLED_CHANNELS)


async def _link_stripe(ctx: FlowContext, msg: Inbound) -> None:
    """Make (or reuse) the payee's Stripe connected account and send its onboarding link."""
    _ = ctx._
    if ctx.services.transfers is None:
        await ctx.reply(_("Payouts by Stripe are not offered here. Send your UPI id, or your account number and IFSC."))
        return
    before = await ctx.uow.payments.details(ctx.person.id)
    try:
        details, url = await connect.link_account(ctx.uow, ctx.services.transfers, ctx.person)
    except payouts.PayoutError:
        await ctx.reply(_("Payout details are for registered restaurants and delivery workers."))
        return
    await ctx.reply(_("Saved. Your payouts go to {where}.").format(where=payout_place(_, details)) + "\n" +
                    _("Finish setting up your Stripe account here (your bank details stay with Stripe): {url}").format(url=url))
    await tell_other_identities(ctx, msg, before, details)


async def earnings(ctx: FlowContext, msg: Inbound) -> None:
    """/earnings: what settled today and this week, pool top-ups, and the next payout."""
    _, lang, uow = ctx._, ctx.person.language, ctx.uow
    accounts: list[tuple[str, str]] = []
    if w := await uow.workers.by_person(ctx.person.id):
        accounts.append((worker_account(w.id), _("Your earnings")))
    if r := await uow.restaurants.by_person(ctx.person.id):
        accounts.append((restaurant_account(r.id), r.name))
    if not accounts:
        await ctx.reply(_("Earnings are for registered restaurants and delivery workers. Your balance: /balance"))
        return
    params = await uow.params.current()
    today = uow.at.astimezone(LOCAL_TZ).date()
    week = [(today - timedelta(days=n)).isoformat() for n in range(today.weekday() + 1)]  # Monday to today
    lines = []
    for account, title in accounts:
        settled = {d: (await uow.ledger.credits_on_day(account, d, EARNING_KINDS)).get(account, 0) for d in week}
        pool = sum([(await uow.ledger.credits_on_day(account, d, ("topup",))).get(account, 0) for d in week])
        balance = await uow.ledger.balance(account)
        lines.append(_("{title}: settled today {today}, this week {week}, pool top-ups this week {pool}.").format(
            title=title, today=money(settled[today.isoformat()], lang), week=money(sum(settled.values()), lang),
            pool=money(pool, lang)))  # fmt: skip
        if balance >= params.payout_minimum:
            lines.append(_("Next payout: {amount} at {hour}:00.").format(amount=money(balance, lang), hour=params.payout_hour))
        else:
            lines.append(_("Waiting to be paid: {amount} (payouts start from {minimum}).").format(
                amount=money(balance, lang), minimum=money(params.payout_minimum, lang)))  # fmt: skip
    if r is not None:
        settled_orders = await uow.orders.find(restaurant_id=r.id, statuses=[Status.SETTLED], limit=1000)
        days = [local_day(datetime.fromisoformat(o.status_at)) for o in settled_orders if o.status_at]
        lines.append(_("Meals paid today: {today}, this week: {week}.").format(
            today=days.count(today.isoformat()), week=sum(1 for d in days if d in week)))  # fmt: skip
    if await uow.payments.details(ctx.person.id) is None:
        lines.append(_("Add your payout details with /payout to be paid."))
    await ctx.reply("\n".join(lines))


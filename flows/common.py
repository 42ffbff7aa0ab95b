"""Commands for everyone: help, balance, cancel, and polite fallbacks."""

from __future__ import annotations

from core.funding.pledge_model import PledgeStatus
from core.ledger.model import MAX_POSTING, donor_account, restaurant_account, worker_account
from core.members.model import Approval
from core.orders import service as orders
from core.orders import timeouts
from core.orders.funding import Source
from core.orders.lifecycle import CANCELLABLE, IllegalTransition, Status
from core.seekers.photo_records import delete_photos
from flows.context import FlowContext
from flows.i18n import money
from flows.messages import Inbound
from flows.numbers import MAX_ID, read_int, read_rupees
from flows.numbers import normalise as normalise  # re-exported: the flows import it from here
from flows.prompts import options_text
from flows.steps import Step
from flows.understand import is_tamil_script as understand_tamil


def payload_args(msg: Inbound) -> list[str]:
    """The arguments after the verb of a button payload."""
    return (msg.choice or "").split(":")[1:]


def payload_int(msg: Inbound, index: int = 0) -> int | None:
    """One integer argument of a button payload (0 to MAX_ID), or None when it is malformed."""
    args = payload_args(msg)
    return read_int(args[index], 0, MAX_ID) if index < len(args) else None


async def help_(ctx: FlowContext, msg: Inbound) -> None:
    """Explain what this person can do, by role."""
    _ = ctx._
    lines = [_("Ketpaar feeds people in need. Send a photo of a person who needs a meal, then their location.")]
    lines.append(_("/balance – your money · /orders – your meals · /cancel – stop what you are doing"))
    lines.append(_("/pledge – give money ahead for other people's meals · /pledges – yours"))
    live = [p for p in await ctx.uow.pledges.for_person(ctx.person.id) if p.status is not PledgeStatus.CANCELLED]
    if live:  # only pledgers have something to hear of
        lines.append(_("/often {id} – hear of every meal your pledge #{id} pays for · /daily {id} – once a day").format(
            id=live[0].id))  # fmt: skip
    lines.append(_("/topup 500 – add ₹500 to your balance by UPI"))
    lines.append(_("/campaign – fund a meal together with others · /give <code> <rupees> – give to a campaign"))
    lines.append(_("/campaigns – open campaigns near you · /nearby on – hear when one starts near you"))
    lines.append(_("/pool – the guarantee pool · /books – the cooperative's books · /checkpoint – its signed daily checkpoint"))
    if (r := await ctx.uow.restaurants.by_person(ctx.person.id)) and r.status is Approval.APPROVED:
        lines.append(_("Restaurant: new orders arrive with Accept and Reject buttons; tap Ready when packed."))
        lines.append(_("/menu – change your alms menu · /capacity – meals per day"))
    if (w := await ctx.uow.workers.by_person(ctx.person.id)) and w.status is Approval.APPROVED:
        lines.append(_("Worker: /online, /offline, /jobs – open jobs near you; share your location to change zone."))
    if r is not None or w is not None:
        lines.append(_("/earnings – what you earned · /payout – where your money is paid"))
    if ctx.person.is_admin:
        lines.append(_("Admin: /deposit <#member or phone> <rupees> records cash or UPI received."))
        lines.append(_("Treasurer: /unmatched, /assign <txn id> <#member>, /paid <batch> <bank ref>, /payfailed <line>"))
    lines.append(_("/join – become a member · /propose – suggest a rule change · /proposals – votes · /rules – the rules"))
    lines.append(_("/start – register as a restaurant or delivery worker"))
    lines.append(_("/link – use this chat and another one (web, Telegram, WhatsApp, SMS) as one person"))
    await ctx.reply("\n".join(lines))


async def balance(ctx: FlowContext, msg: Inbound) -> None:
    """Show donor balance, worker earnings and restaurant receivables that apply."""
    _, lang, ledger = ctx._, ctx.person.language, ctx.uow.ledger
    lines = [_("Your balance: {amount}").format(amount=money(await ledger.balance(donor_account(ctx.person.id)), lang))]
    if w := await ctx.uow.workers.by_person(ctx.person.id):
        earned = await ledger.balance(worker_account(w.id))
        lines.append(_("Your earnings: {amount}").format(amount=money(earned, lang)))
    if r := await ctx.uow.restaurants.by_person(ctx.person.id):
        owed = await ledger.balance(restaurant_account(r.id))
        lines.append(_("Owed to {name}: {amount}").format(name=r.name, amount=money(owed, lang)))
    lines.append(_("Your member number: #{id}").format(id=ctx.person.id))
    await ctx.reply("\n".join(lines))


async def discard_photo(ctx: FlowContext, photo_id: str, reason: str) -> None:
    """Delete a seeker photo that will not be used; the deletion goes into the event log."""
    await delete_photos(ctx.uow, ctx.services.photos, [photo_id], ctx.person.actor, reason)


async def cancel(ctx: FlowContext, msg: Inbound) -> None:
    """Stop the current step (deleting an unused seeker photo, cancelling an unpaid request),
    or cancel the newest order that can still be cancelled."""
    _ = ctx._
    step, data = ctx.step, dict(ctx.data)
    ctx.goto(None)
    if step in (Step.DONOR_CONSENT, Step.DONOR_LOCATION, Step.DONOR_SCENE) and data.get("photo"):
        await discard_photo(ctx, str(data["photo"]), "cancelled")
        await ctx.reply(_("Stopped. The photo has been deleted."))
        return
    if step in (Step.DONOR_MEAL, Step.DONOR_TIP, Step.DONOR_CONFIRM, Step.DONOR_SECOND_PHOTO) and data.get("order"):
        await cancel_one(ctx, int(data["order"]))
        return
    if step:
        await ctx.reply(_("Stopped. Nothing was changed."))
        return
    # Include picked-up orders so the donor hears why it is too late, rather than "nothing".
    open_orders = await ctx.uow.orders.find(donor_id=ctx.person.id, statuses=(*CANCELLABLE, Status.PICKED_UP), limit=1)
    if not open_orders:
        await ctx.reply(_("There is nothing to cancel."))
        return
    await cancel_one(ctx, open_orders[0].id)


async def cancel_one(ctx: FlowContext, order_id: int) -> None:
    """Cancel one order with refund and say what happened."""
    _ = ctx._
    order = await ctx.uow.orders.get(order_id)
    if order is not None and order.donor_id == ctx.person.id and await timeouts.donor_was_asked(ctx.uow, order):
        # Asked "wait or cancel (the restaurant is paid)", the donor typed cancel or tapped an older
        # Cancel button: cancel as they were told, not with a full refund of a meal already cooked.
        from flows.timeouts import give_up_order  # flows.timeouts imports this module

        await give_up_order(ctx, order_id)
        return
    try:
        order, refund = await orders.cancel(ctx.uow, order_id, ctx.person, ctx.services.board)
    except IllegalTransition:
        await ctx.reply(_("Order #{id} can no longer be cancelled: the meal is already on its way.").format(id=order_id))
        return
    except orders.OrderError:
        await ctx.reply(_("That order is not yours to cancel."))
        return
    ctx.goto(None)
    by_card = any(c.source is Source.CARD for c in await ctx.uow.contributions.for_order(order.id))
    if refund and by_card:
        text = _("Order #{id} cancelled. The hold of {amount} on your card will be released.")
    elif refund:
        text = _("Order #{id} cancelled. {amount} is back in your balance.")
    else:
        text = _("Order #{id} cancelled.")
    await ctx.reply(text.format(id=order.id, amount=money(refund, ctx.person.language)))


def parse_rupees(text: str, ceiling: int = MAX_POSTING) -> int | None:
    """Read an amount typed in rupees ("500", "₹1,000", "60.50") as paise up to `ceiling`; None if
    unreadable (signs, exponents, more than 2 decimals, other scripts' digits) or too large.

    The governed ceilings (max_deposit, max_price) are enforced by core, which knows them."""
    return read_rupees(text, ceiling)


async def unknown(ctx: FlowContext, msg: Inbound) -> None:
    """Anything unexpected gets a helpful answer, never silence: what the person can type now."""
    _ = ctx._
    if msg.kind == "choice":
        text = _("That button is no longer active. Send /help to see what you can do.")
    elif msg.kind == "location":
        text = _("Thanks for the location, but I was not expecting one now. To feed someone, send their photo first.")
    elif options := options_text(await ctx.uow.prompts.open_for(ctx.person.id)):
        text = _("Sorry, I did not understand that. You can reply with a number: {options}").format(options=options)
    else:
        text = _("Sorry, I did not understand that. Send /help to see what you can do.")
    await ctx.reply(text)


async def greet(ctx: FlowContext, msg: Inbound) -> None:
    """A greeting starts the conversation, or resumes it where it stands, in the person's language.

    Someone who has not chosen a language yet and greets in Tamil script is answered in Tamil."""
    from flows import onboarding  # onboarding imports this module

    _ = ctx._
    if not ctx.state.get("language_chosen") and ctx.person.language == "en":  # the default: not chosen
        if understand_tamil(msg.text):
            return await onboarding.choose(ctx, "ta")
        return await onboarding.start(ctx, msg)
    if options := options_text(await ctx.uow.prompts.open_for(ctx.person.id)):
        await ctx.reply(_("Hello! You can reply with a number: {options}").format(options=options))
    elif ctx.step:
        await ctx.reply(_("Hello! Please answer my last question, or send /cancel to stop."))
    else:
        await onboarding.welcome(ctx)

"""Paying for an order by card: the link with the fee shown first, and what the donor (or an
admin) is told as the payment moves: held, declined, taken, released, refunded, ageing."""

from __future__ import annotations

from core.campaigns.model import Campaign
from core.campaigns.service import card_gift_key
from core.ledger.model import InsufficientFunds
from core.orders.service import OrderError
from core.payments import card_lost, cards
from core.payments.card_model import CardPayment, hold_account
from core.ports import UnitOfWork
from core.shared.bus import MessageBus
from core.shared.events import CardPaymentChanged, DisputeShortfallCovered, DomainEvent
from flows.campaigns import amount_problem, closed_text
from flows.common import payload_args, payload_int
from flows.context import FlowContext, deliver_to
from flows.i18n import Translator, money, translator
from flows.messages import Choice, Inbound, Outbound
from flows.steps import Step


def card_choice(ctx: FlowContext, order_id: int, item_id: int, tip: int) -> tuple[Choice, ...]:
    """The "Pay by card" button, offered only when cards are configured."""
    if ctx.services.payments is None:
        return ()
    return (Choice(ctx._("Pay by card"), f"card:{order_id}:{item_id}:{tip}"),)


def link_text(ctx: FlowContext, payment: CardPayment) -> str:
    """The payment link with what it costs, the card fee as its own line, before anything is paid."""
    _, lang = ctx._, ctx.person.language
    if payment.fee:
        head = _("Order #{id} by card: {total} + card fee {fee} = {charge}.").format(
            id=payment.order_id, total=money(payment.order_total, lang), fee=money(payment.fee, lang),
            charge=money(payment.charge, lang))  # fmt: skip
    else:
        head = _("Order #{id} by card: {charge}.").format(id=payment.order_id, charge=money(payment.charge, lang))
    return head + "\n" + _("Your card is only held now and charged after the meal is delivered. Pay here: {url}").format(
        url=payment.url)


async def pay_by_card(ctx: FlowContext, msg: Inbound) -> None:
    """Make the card payment link for the chosen meal and tip (the same link on a double tap)."""
    _ = ctx._
    order_id, item_id, tip = payload_int(msg, 0), payload_int(msg, 1), payload_int(msg, 2)
    gateway = ctx.services.payments
    if order_id is None or item_id is None or tip is None or tip < 0 or gateway is None:
        await ctx.reply(_("That choice is no longer open. Send a new photo to start again."))
        return
    try:
        payment = await cards.start(ctx.uow, gateway, order_id, ctx.person, item_id, tip)
    except cards.CardError as exc:
        if exc.code == "already_paid":
            await ctx.reply(_("Order #{id} is already paid.").format(id=order_id))
        elif exc.code == "meal_unavailable":
            await ctx.reply(_("Sorry, that meal was just taken. Please choose another."))
        else:
            await ctx.reply(_("That choice is no longer open. Send a new photo to start again."))
        return
    except OrderError:
        await ctx.reply(_("That choice is no longer open. Send a new photo to start again."))
        return
    ctx.goto(Step.DONOR_CONFIRM, order=order_id)
    await ctx.reply(link_text(ctx, payment), (Choice(_("Cancel"), f"cancel:{order_id}"),))


def gift_link_text(ctx: FlowContext, payment: CardPayment, code: str) -> str:
    """A campaign gift's payment link with the card fee as its own line, before anything is paid."""
    _, lang = ctx._, ctx.person.language
    if payment.fee:
        head = _("Gift to campaign {code} by card: {total} + card fee {fee} = {charge}.").format(
            code=code, total=money(payment.order_total, lang), fee=money(payment.fee, lang),
            charge=money(payment.charge, lang))  # fmt: skip
    else:
        head = _("Gift to campaign {code} by card: {charge}.").format(code=code, charge=money(payment.charge, lang))
    return head + "\n" + _("Your card is only held now and charged after the meal is delivered. Pay here: {url}").format(
        url=payment.url)


async def give_by_card(ctx: FlowContext, msg: Inbound) -> None:
    """A giver chose to give to a campaign by card: the link (the same one on a double tap)."""
    _ = ctx._
    campaign_id, amount = payload_int(msg, 0), payload_int(msg, 1)
    anonymous = payload_args(msg)[2:3] == ["1"]
    campaign = await ctx.uow.campaigns.get(campaign_id) if campaign_id is not None else None
    gateway = ctx.services.payments
    if campaign is None or amount is None or gateway is None:
        await ctx.reply(_("That button is no longer active. Send /help to see what you can do."))
        return
    try:
        payment = await cards.start_gift(ctx.uow, gateway, campaign.id, ctx.person, amount, anonymous=anonymous)
    except cards.CardError:
        least = min((await ctx.uow.params.current()).min_contribution, campaign.remaining)
        text = closed_text(ctx, campaign) or amount_problem(ctx, campaign, amount, least)
        await ctx.reply(text or _("That button is no longer active. Send /help to see what you can do."))
        return
    await ctx.reply(gift_link_text(ctx, payment, campaign.code))


async def on_card_payment(event: DomainEvent, uow: UnitOfWork) -> None:
    """Tell the donor what happened to their card payment (or the admins about an ageing hold)."""
    assert isinstance(event, CardPaymentChanged)
    if event.state == "flagged":
        for admin in await uow.people.admins():
            _, lang = translator(admin.language, admin.channel), admin.language
            if event.reason == "provider_cancelled":
                text = _("Stripe released the card hold of {amount} for order #{id} before it was captured. "
                         "Please look at the order.")  # fmt: skip
            else:
                text = _("The card hold of {amount} for order #{id} is not captured yet and will soon expire at the bank. "
                         "Please look at the order.")  # fmt: skip
            await deliver_to(uow, admin, Outbound(text.format(amount=money(event.amount, lang), id=event.order_id)))
        return
    if event.state == "lost":
        await _tell_lost(event, uow)
        return
    payment = await uow.cards.get(event.payment_id)
    donor = await uow.people.get(payment.person_id) if payment else None
    order = await uow.orders.get(event.order_id)
    if donor is None or order is None:
        return
    _, lang = translator(donor.language, donor.channel), donor.language
    amount, oid = money(event.amount, lang), event.order_id
    choices: tuple[Choice, ...] = ()
    if payment is not None and payment.campaign_id is not None:
        campaign = await uow.campaigns.get(payment.campaign_id)
        counted = campaign is not None and await uow.campaigns.gift_by_key(campaign.id, card_gift_key(payment.id)) is not None
        gift = _gift_text(_, lang, event, campaign, counted) if campaign is not None else None
        if gift is not None:
            await deliver_to(uow, donor, Outbound(gift))
        return
    if event.state == "authorised":
        funded = any(c.account == hold_account(event.payment_id) for c in await uow.contributions.for_order(oid))
        if not funded or order.status.value != "at_restaurant":
            return  # not used (the "unused" event explains), or already declined (the decline notice does)
        restaurant = await uow.restaurants.get(order.restaurant_id or 0)
        text = _("Your card holds {amount}; it is charged only after delivery. Order #{id} for {meal} is with {restaurant}. "
                 "I will tell you when it is accepted.").format(amount=amount, id=oid, meal=order.meal_name,
                                                                 restaurant=restaurant.name if restaurant else "")  # fmt: skip
        choices = (Choice(_("Cancel order"), f"cancel:{oid}"),)
    elif event.state == "unused" and event.reason == "order_cancelled":
        text = _("Order #{id} was cancelled before your card payment arrived, so nothing will be taken: the hold on your "
                 "card is released. Sorry for the trouble.").format(id=oid)  # fmt: skip
    elif event.state == "unused":
        text = _("Order #{id} could not go ahead with this card payment, so nothing will be taken: the hold is released.").format(
            id=oid)
    elif event.state == "failed":
        text = _("The card payment for order #{id} did not go through. Try again on the same page, pay from your "
                 "balance, or cancel.").format(id=oid)  # fmt: skip
        assert payment is not None
        args = f"{oid}:{payment.item_id}:{payment.tip}"
        choices = (Choice(_("Pay by card"), f"card:{args}"),
                   Choice(_("Pay {total}").format(total=money(payment.order_total, lang)), f"pay:{args}"),
                   Choice(_("Cancel"), f"cancel:{oid}"))  # fmt: skip
    elif event.state == "cancelled":
        text = _("The card payment page for order #{id} closed without a payment. Nothing was taken.").format(id=oid)
    elif event.state == "captured":
        text = _("Order #{id} is settled: {amount} was taken from your card. Thank you!").format(id=oid, amount=amount)
    elif event.state == "released":
        text = _("The hold on your card for order #{id} is released: nothing was taken.").format(id=oid)
    elif event.state == "refunded":
        text = _("{amount} for order #{id} is refunded to your card.").format(amount=amount, id=oid)
    else:
        return
    await deliver_to(uow, donor, Outbound(text, choices))


def _gift_text(_: Translator, lang: str, event: CardPaymentChanged, campaign: Campaign, counted: bool) -> str | None:
    """What a giver by card hears as their payment moves (in the campaign's words, not the order's)."""
    amount, code = money(event.amount, lang), campaign.code
    if event.state == "authorised":
        if not counted:
            return None  # not counted: the "unused" notice explains
        return _("Your card holds {amount} for campaign {code}; it is charged only after the meal is delivered. "
                 "{raised} of {target} raised.").format(amount=amount, code=code, raised=money(campaign.raised, lang),
                                                         target=money(campaign.target, lang))  # fmt: skip
    texts = {
        "unused": _("Your card gift to campaign {code} could not be counted (the campaign closed or needs less now), "
                    "so nothing will be taken: the hold is released."),
        "failed": _("The card payment for campaign {code} did not go through. Try again on the same page, or give from "
                    "your balance with /give {code} <rupees>."),
        "cancelled": _("The card payment page for campaign {code} closed without a payment. Nothing was taken."),
        "captured": _("The meal of campaign {code} is settled: {amount} was taken from your card. Thank you!"),
        "released": _("The hold on your card for campaign {code} is released: nothing was taken."),
        "refunded": _("{amount} for campaign {code} is refunded to your card."),
    }  # fmt: skip
    text = texts.get(event.state)
    return text.format(amount=amount, code=code) if text is not None else None


async def _tell_lost(event: CardPaymentChanged, uow: UnitOfWork) -> None:
    """A hold the provider cancelled: the payer hears that nothing is taken (and, before the
    restaurant accepted, may pay from the balance instead of the pool, or cancel); admins hear
    what the pool covered."""
    payment = await uow.cards.get(event.payment_id)
    payer = await uow.people.get(payment.person_id) if payment else None
    order = await uow.orders.get(event.order_id)
    if payment is None or payer is None or order is None:
        return
    _, lang = translator(payer.language, payer.channel), payer.language
    amount, oid = money(event.amount, lang), event.order_id
    choices: tuple[Choice, ...] = ()
    if event.reason == "ask":
        text = _("Your bank cancelled the hold on your card for order #{id}, so nothing will be taken from it. The "
                 "cooperative's guarantee pool covers {amount} for now: you can pay it from your balance instead, or "
                 "cancel the order.").format(id=oid, amount=amount)  # fmt: skip
        choices = (Choice(_("Pay {total}").format(total=amount), f"poolpay:{oid}"),)
        if order.donor_id == payer.id:
            choices += (Choice(_("Cancel order"), f"cancel:{oid}"),)
    elif event.reason == "provider_cancelled":
        text = _("Your bank cancelled the hold on your card for order #{id}, so nothing will be taken from it. The meal "
                 "goes ahead: the cooperative's guarantee pool pays {amount}.").format(id=oid, amount=amount)  # fmt: skip
    elif event.reason == "withdrawn" and payment.campaign_id is not None:
        campaign = await uow.campaigns.get(payment.campaign_id)
        code = campaign.code if campaign else ""
        text = _("Your bank cancelled the hold on your card for campaign {code}, so your gift no longer counts and nothing "
                 "will be taken. You can give again: /give {code} <rupees>").format(code=code)  # fmt: skip
    else:
        text = _("The hold on your card for order #{id} is released: nothing was taken.").format(id=oid)
    await deliver_to(uow, payer, Outbound(text, choices))
    if event.amount:
        for admin in await uow.people.admins():
            _, lang = translator(admin.language, admin.channel), admin.language
            await deliver_to(uow, admin, Outbound(_("Stripe cancelled the card hold for order #{id} after it was authorised; "
                                                    "the guarantee pool covered {amount}.").format(
                id=oid, amount=money(event.amount, lang))))  # fmt: skip


async def pay_instead_of_pool(ctx: FlowContext, msg: Inbound) -> None:
    """The donor pays from the balance what the pool covered for a cancelled card hold."""
    _, lang = ctx._, ctx.person.language
    order_id = payload_int(msg, 0)
    if order_id is None:
        await ctx.reply(_("That button is no longer active. Send /help to see what you can do."))
        return
    try:
        paid = await card_lost.pay_instead(ctx.uow, order_id, ctx.person)
    except card_lost.CoverError:
        await ctx.reply(_("That button is no longer active. Send /help to see what you can do."))
        return
    except InsufficientFunds as exc:
        await ctx.reply(_("Your balance is {balance}, which is not enough to pay {amount}. Add money with /topup, then "
                          "try again.").format(balance=money(exc.balance, lang), amount=money(exc.needed, lang)))  # fmt: skip
        return
    await ctx.reply(_("Thank you: you paid {amount} for order #{id} from your balance, and the guarantee pool is "
                      "repaid.").format(amount=money(paid, lang), id=order_id))  # fmt: skip


async def on_shortfall_covered(event: DomainEvent, uow: UnitOfWork) -> None:
    """An appeal took back a refund that had gone back to a card whose hold was then released:
    the card cannot be charged any more, so the guarantee pool covered it (core/orders/
    dispute_reversal.py); the card's payer hears that nothing is taken from their card."""
    assert isinstance(event, DisputeShortfallCovered)
    for account, paise in event.accounts:
        payment_id = str(account).removeprefix("card:")
        if not str(account).startswith("card:") or not payment_id.isdigit():
            continue
        payment = await uow.cards.get(int(payment_id))
        payer = await uow.people.get(payment.person_id) if payment else None
        if payer is None:
            continue
        _, lang = translator(payer.language, payer.channel), payer.language
        text = _("The appeal on order #{id} was decided and the meal is paid. The hold on your card for order #{id} was "
                 "already released, so nothing will be taken from your card: the cooperative's guarantee pool covers "
                 "{amount}.").format(id=event.order_id, amount=money(int(paise), lang))  # fmt: skip
        await deliver_to(uow, payer, Outbound(text))


def register(bus: MessageBus) -> None:
    """Subscribe the card notifications."""
    bus.on(CardPaymentChanged, on_card_payment)
    bus.on(DisputeShortfallCovered, on_shortfall_covered)

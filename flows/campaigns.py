"""Campaigns by chat: start one from a donor's screened request, give to one by its code, cancel."""

from __future__ import annotations

import secrets

from core.campaigns import service as campaigns
from core.campaigns.model import Campaign
from core.ledger.model import InsufficientFunds
from core.shared import geo
from flows.common import payload_args, payload_int
from flows.context import FlowContext
from flows.i18n import clock_time, money
from flows.messages import Choice, Inbound
from flows.numbers import MAX_ID, read_rupees

# Amounts are read up to this ceiling so that a huge typed amount gets "at most …" (not "unreadable").
READ_CEILING = 10**15


async def command(ctx: FlowContext, msg: Inbound) -> None:
    """/campaign: the next request this donor starts ends in a campaign others can give to."""
    ctx.state["campaign"] = True
    await ctx.reply(ctx._("Let's feed someone together. Send a photo of the person who needs a meal, then their location. "
                          "After the checks you choose the meal and get a code others can give with."))  # fmt: skip


def campaign_button(ctx: FlowContext, order_id: int, item_id: int, tip: int) -> Choice:
    """The "Start a campaign" choice at the pay step."""
    return Choice(ctx._("Start a campaign"), f"campaign:{order_id}:{item_id}:{tip}")


async def start(ctx: FlowContext, msg: Inbound) -> None:
    """The donor taps Start a campaign: open it and give them the code to share."""
    _ = ctx._
    order_id, item_id, tip = payload_int(msg, 0), payload_int(msg, 1), payload_int(msg, 2)
    if order_id is None or item_id is None or tip is None or tip > 2_000:
        await ctx.reply(_("That choice is no longer open. Send a new photo to start again."))
        return
    try:
        campaign = await campaigns.start(ctx.uow, ctx.person, order_id, item_id, tip)
    except campaigns.CampaignError:
        await ctx.reply(_("That choice is no longer open. Send a new photo to start again."))
        return
    ctx.state.pop("campaign", None)
    ctx.goto(None)
    await ctx.reply(started_text(ctx, campaign))
    # The line to share, on its own so it can be forwarded as it is.
    share = _("Anyone can give by sending: /give {code} <rupees>").format(code=campaign.code)
    if ctx.services.public_url:
        share += f"\n{ctx.services.public_url.rstrip('/')}/c/{campaign.code}"  # the progress page
    await ctx.reply(share,
                    (Choice(_("Cancel campaign"), f"campaignstop:{campaign.id}"),))  # fmt: skip


def started_text(ctx: FlowContext, campaign: Campaign) -> str:
    """What the creator hears: the code, the meal, the target and when it closes."""
    _, lang = ctx._, ctx.person.language
    text = _("Campaign {code} is open: {meal} for {target}. If the target is not met by {time}, everyone gets their "
             "money back.")  # fmt: skip
    return text.format(code=campaign.code, meal=campaign.meal_name, target=money(campaign.target, lang),
                       time=clock_time(campaign.expires_at, lang))  # fmt: skip


async def give_command(ctx: FlowContext, msg: Inbound) -> None:
    """/give <code> <rupees>: check the campaign and the amount, then ask whether to show the name."""
    _ = ctx._
    words = msg.text.split()[1:]
    if not words:
        await ctx.reply(_("Send /give with the campaign code and an amount in rupees, for example: /give K7QXM 50"))
        return
    code = campaigns.normalise_code(words[0])
    campaign = await ctx.uow.campaigns.by_code(code) if code else None
    if campaign is None:
        await ctx.reply(no_campaign_text(ctx, words[0]))
        return
    if len(words) < 2:
        await ctx.reply(_("How much would you like to give? Send: /give {code} <rupees>").format(code=campaign.code))
        return
    amount = read_rupees(words[1], READ_CEILING)
    if amount is None:
        await ctx.reply(_("Please write the amount in rupees, for example: /give {code} 50").format(code=campaign.code))
        return
    await ask_give(ctx, campaign, amount)


def no_campaign_text(ctx: FlowContext, typed: str) -> str:
    """No campaign has the typed code: say so, repeating only what could be part of a code."""
    _ = ctx._
    if not (code := campaigns.echo_code(typed)):
        return _("There is no campaign with that code. Please check the code and try again.")
    return _("There is no campaign with the code {code}. Please check the code and try again.").format(code=code)


async def ask_give(ctx: FlowContext, campaign: Campaign, amount: int) -> None:
    """Check that the campaign takes gifts and the amount fits, then ask whether to show the name."""
    _, lang = ctx._, ctx.person.language
    if (closed := closed_text(ctx, campaign)) is not None:
        await ctx.reply(closed)
        return
    least = min((await ctx.uow.params.current()).min_contribution, campaign.remaining)
    if (problem := amount_problem(ctx, campaign, amount, least)) is not None:
        await ctx.reply(problem)
        return
    nonce = secrets.token_hex(4)  # one question, one gift: the key of whichever button is tapped
    meal = _("Give {amount} to campaign {code} for {meal} near {area}? Others will see your name unless you choose "
             "anonymous.").format(amount=money(amount, lang), code=campaign.code, meal=campaign.meal_name,
                                  area=await area_of(ctx, campaign))  # fmt: skip
    choices = [Choice(_("Give, show my name"), f"give:{campaign.id}:{amount}:0:{nonce}"),
               Choice(_("Give anonymously"), f"give:{campaign.id}:{amount}:1:{nonce}")]
    if ctx.services.payments is not None:  # cards configured: the same two choices, held on a card
        choices += [Choice(_("Card, show my name"), f"givecard:{campaign.id}:{amount}:0"),
                    Choice(_("Card, anonymously"), f"givecard:{campaign.id}:{amount}:1")]
    await ctx.reply(meal, (*choices, Choice(_("Don't give"), "give:no")))


async def area_of(ctx: FlowContext, campaign: Campaign) -> str:
    """The seeker's area, rounded to about a kilometre (never the exact place)."""
    order = await ctx.uow.orders.get(campaign.order_id)
    return geo.approximate_area(order.seeker_lat, order.seeker_lng) if order else ""


def closed_text(ctx: FlowContext, campaign: Campaign) -> str | None:
    """Why a campaign takes no more gifts, or None while it does."""
    _ = ctx._
    status = campaign.status.value
    if status in ("created", "funding") and campaign.expires_at > ctx.uow.now:
        return None
    if status in ("created", "funding", "expired"):
        return _("Campaign {code} has ended without reaching its target; everyone who gave got their money back.").format(
            code=campaign.code)  # fmt: skip
    if status == "cancelled":
        return _("Campaign {code} was cancelled by the person who started it; everyone who gave got their money back.").format(
            code=campaign.code)  # fmt: skip
    return _("Campaign {code} has already reached its target. Thank you for wanting to help!").format(code=campaign.code)


def amount_problem(ctx: FlowContext, campaign: Campaign, amount: int, least: int) -> str | None:
    """Why an amount cannot be given to the campaign, or None when it can."""
    _, lang = ctx._, ctx.person.language
    if amount > campaign.remaining:
        return _("Campaign {code} needs only {remaining} more. Please give at most that.").format(
            code=campaign.code, remaining=money(campaign.remaining, lang))  # fmt: skip
    if amount < least:
        return _("The least you can give is {least}.").format(least=money(least, lang))
    return None


async def give_answer(ctx: FlowContext, msg: Inbound) -> None:
    """The giver tapped Give (named or anonymous): move the money, once, and say where it stands."""
    _, lang = ctx._, ctx.person.language
    args = payload_args(msg)
    if args[:1] == ["no"]:
        await ctx.reply(_("All right, nothing was given."))
        return
    campaign_id, amount = payload_int(msg, 0), payload_int(msg, 1)
    anonymous = args[2:3] == ["1"]
    nonce = args[3] if len(args) > 3 and args[3].isascii() and args[3].isalnum() and len(args[3]) <= 16 else ""
    campaign = await ctx.uow.campaigns.get(campaign_id) if campaign_id is not None and campaign_id <= MAX_ID else None
    if campaign is None or amount is None or not nonce:
        await ctx.reply(_("That button is no longer active. Send /help to see what you can do."))
        return
    try:
        result = await campaigns.give(ctx.uow, campaign.id, ctx.person, amount, anonymous=anonymous,
                                      key=f"{ctx.person.id}:{nonce}")  # fmt: skip
    except InsufficientFunds as exc:
        await ctx.reply(_("Your balance is {balance}, which is not enough to give {amount}. Add money with /topup, "
                          "then try again.").format(balance=money(exc.balance, lang), amount=money(amount, lang)))  # fmt: skip
        return
    except campaigns.CampaignError as exc:
        now = await ctx.uow.campaigns.get(campaign.id) or campaign
        text = closed_text(ctx, now) if exc.code.startswith("closed_") else None
        text = text or amount_problem(ctx, now, amount, exc.least) or _("That button is no longer active. Send /help to see "
                                                                        "what you can do.")  # fmt: skip
        await ctx.reply(text)
        return
    if result.repeated:
        await ctx.reply(_("Your gift of {amount} to campaign {code} is already counted. Thank you!").format(
            amount=money(amount, lang), code=campaign.code))  # fmt: skip
        return
    c = result.campaign
    if c.remaining == 0:
        text = _("Thank you! Your {amount} completed campaign {code}: the meal is ordered. I will tell you when it is "
                 "delivered.")  # fmt: skip
    else:
        text = _("Thank you! {amount} given to campaign {code}. {raised} of {target} raised; {remaining} to go.")
    await ctx.reply(text.format(amount=money(amount, lang), code=c.code, raised=money(c.raised, lang),
                                target=money(c.target, lang), remaining=money(c.remaining, lang)),
                    await nearby_offer(ctx, c))  # fmt: skip


async def nearby_offer(ctx: FlowContext, campaign: Campaign) -> tuple[Choice, ...]:
    """After a person's first gift (once): a button to hear of new campaigns near the place they
    gave to, unless they already do."""
    if ctx.state.get("nearby_offered") or await ctx.uow.campaigns.nearby_place(ctx.person.id) is not None:
        return ()
    ctx.state["nearby_offered"] = True
    return (Choice(ctx._("Campaigns near me"), f"nearby:on:{campaign.id}"),)


async def stop(ctx: FlowContext, msg: Inbound) -> None:
    """The creator's Cancel campaign button: refund everyone (anyone else is told politely no)."""
    _ = ctx._
    campaign_id = payload_int(msg)
    campaign = await ctx.uow.campaigns.get(campaign_id) if campaign_id is not None else None
    if campaign is None:
        await ctx.reply(_("That button is no longer active. Send /help to see what you can do."))
        return
    try:
        await campaigns.close(ctx.uow, campaign.id, "cancel", ctx.person, ctx.services.board)
    except campaigns.CampaignError as exc:
        if exc.code == "not_yours":
            await ctx.reply(_("Only the person who started campaign {code} can cancel it.").format(code=campaign.code))
        else:
            await ctx.reply(closed_text(ctx, campaign) or _("Campaign {code} can no longer be cancelled.").format(
                code=campaign.code))  # fmt: skip
        return
    await ctx.reply(_("Campaign {code} is cancelled. Everyone who gave gets their money back now.").format(code=campaign.code))

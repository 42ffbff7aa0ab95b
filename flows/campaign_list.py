"""/campaigns (open campaigns: one's own and those near one) and /nearby (hear of new ones nearby)."""

from __future__ import annotations

from datetime import datetime

from core.campaigns import nearby
from core.campaigns.model import Campaign, Place
from core.shared import geo
from flows import donor
from flows.campaigns import area_of, ask_give, closed_text
from flows.common import normalise, payload_args, payload_int
from flows.context import FlowContext
from flows.governance_text import value_text
from flows.i18n import money, plural
from flows.messages import Choice, Inbound
from flows.numbers import MAX_ID
from flows.onboarding import require_location
from flows.steps import Step
from flows.understand import NO_WORDS, YES_WORDS

MAX_LISTED = 5  # a chat message, not a catalogue: the newest five
# Typed words after /nearby (any case; Tamil too): on, off, and any clear yes or no ("ஆமாம்", "venam").
ON_WORDS = frozenset({"on", "start", "ஆன்", "தொடங்கு", "வேண்டும்", "வேணும்", "venum", "vendum"}) | YES_WORDS
OFF_WORDS = frozenset({"off", "stop", "ஆஃப்", "நிறுத்து"}) | NO_WORDS


async def list_campaigns(ctx: FlowContext, msg: Inbound) -> None:
    """/campaigns: open campaigns the person started or gave to, then open ones near them, each
    with its progress and a Give button (anything typed after the command is ignored)."""
    _ = ctx._
    mine = {c.id for c in await ctx.uow.campaigns.of_person(ctx.person.id, limit=50)}
    place = await ctx.uow.campaigns.nearby_place(ctx.person.id) or await nearby.last_place(ctx.uow, ctx.person.id)
    radius = (await ctx.uow.params.current()).campaign_nearby_radius_m
    shown: list[Campaign] = []
    for campaign, at in await ctx.uow.campaigns.open_with_places():
        near = place is not None and geo.distance_m(place.lat, place.lng, at.lat, at.lng) <= radius
        if campaign.id in mine or near:
            shown.append(campaign)
    shown.sort(key=lambda c: (c.id not in mine, -c.id))  # one's own first
    if not shown:
        await ctx.reply(_("No campaign is open for you or near you right now. Start one with /campaign, or send "
                          "/nearby on to hear when one opens near you."))  # fmt: skip
        return
    lines = [_("Open campaigns:")] + [await _line(ctx, c) for c in shown[:MAX_LISTED]]
    lines.append(_("To give, tap Give or send: /give <code> <rupees>"))
    await ctx.reply("\n".join(lines), tuple(Choice(_("Give") + " " + c.code, f"giveask:{c.id}")
                                            for c in shown[:MAX_LISTED]))  # fmt: skip


async def _line(ctx: FlowContext, campaign: Campaign) -> str:
    """One campaign: code, meal, area, raised of target, givers, time left."""
    lang = ctx.person.language
    givers = len({g.person_id for g in await ctx.uow.campaigns.gifts(campaign.id)})
    left = max(0, int((datetime.fromisoformat(campaign.expires_at) - ctx.uow.at).total_seconds() // 60))
    where = ctx._("{code}: {meal} near {area}.").format(code=campaign.code, meal=campaign.meal_name,
                                                         area=await area_of(ctx, campaign))  # fmt: skip
    return where + " " + ctx._("{raised} of {target} from {givers}; {left}.").format(
        raised=money(campaign.raised, lang), target=money(campaign.target, lang),
        givers=plural(lang, "{n} giver", "{n} givers", givers).format(n=givers),
        left=plural(lang, "{n} minute left", "{n} minutes left", left).format(n=left))  # fmt: skip


async def give_tapped(ctx: FlowContext, msg: Inbound) -> None:
    """A Give button (on the list or a "campaign near you" message): offer amounts to tap."""
    _, lang = ctx._, ctx.person.language
    campaign_id = payload_int(msg)
    campaign = await ctx.uow.campaigns.get(campaign_id) if campaign_id is not None else None
    if campaign is None:
        await ctx.reply(_("That button is no longer active. Send /help to see what you can do."))
        return
    if (closed := closed_text(ctx, campaign)) is not None:
        await ctx.reply(closed)
        return
    least = min((await ctx.uow.params.current()).min_contribution, campaign.remaining)
    amounts = sorted({a for a in (least, 5_000, campaign.remaining) if least <= a <= campaign.remaining})[:3]
    await ctx.reply(_("How much would you like to give to campaign {code}? Tap an amount or send: /give {code} <rupees>").format(
        code=campaign.code), tuple(Choice(money(a, lang), f"giveamt:{campaign.id}:{a}") for a in amounts))  # fmt: skip


async def amount_tapped(ctx: FlowContext, msg: Inbound) -> None:
    """An amount tapped after Give: the usual question, named or anonymous."""
    campaign_id, amount = payload_int(msg, 0), payload_int(msg, 1)
    campaign = await ctx.uow.campaigns.get(campaign_id) if campaign_id is not None else None
    if campaign is None or amount is None or amount <= 0:
        await ctx.reply(ctx._("That button is no longer active. Send /help to see what you can do."))
        return
    await ask_give(ctx, campaign, amount)


async def nearby_command(ctx: FlowContext, msg: Inbound) -> None:
    """/nearby on | off: hear, or stop hearing, of new campaigns near one's place."""
    words = normalise(msg.text).split()[1:]
    word = words[0] if words else ""
    if word in OFF_WORDS:
        return await _off(ctx)
    if word in ON_WORDS:
        return await _on(ctx, None)
    _ = ctx._
    if await ctx.uow.campaigns.nearby_place(ctx.person.id) is not None:
        await ctx.reply(_("You hear of new campaigns near you. Send /nearby off to stop."),
                        (Choice(_("Stop these messages"), "nearby:off"),))  # fmt: skip
        return
    await ctx.reply(_("Would you like a short message when someone starts a campaign near you?"),
                    (Choice(_("Campaigns near me"), "nearby:on"),))  # fmt: skip


async def nearby_tapped(ctx: FlowContext, msg: Inbound) -> None:
    """The on/off buttons; "on" after a gift carries the campaign, whose area is the fallback place."""
    args = payload_args(msg)
    if args[:1] == ["off"]:
        return await _off(ctx)
    if args[:1] != ["on"]:
        await ctx.reply(ctx._("That button is no longer active. Send /help to see what you can do."))
        return
    hint: Place | None = None
    campaign_id = payload_int(msg, 1)
    if campaign_id is not None and campaign_id <= MAX_ID and (campaign := await ctx.uow.campaigns.get(campaign_id)):
        order = await ctx.uow.orders.get(campaign.order_id)
        if order is not None:
            hint = Place(*geo.coarse_point(order.seeker_lat, order.seeker_lng))  # about a kilometre: enough for a radius
    await _on(ctx, hint)


async def _on(ctx: FlowContext, hint: Place | None) -> None:
    _ = ctx._
    if await ctx.uow.campaigns.nearby_place(ctx.person.id) is not None:
        await ctx.reply(_("You already hear of new campaigns near you. Send /nearby off to stop."))
        return
    place = await nearby.opt_in(ctx.uow, ctx.person.id, hint)
    if place is None:
        ctx.goto(Step.NEARBY_PLACE)
        await ctx.reply(_("Share a location (the area where you would like to help) and I will tell you when a campaign "
                          "opens near it."))  # fmt: skip
        return
    await _confirm_on(ctx)


async def _confirm_on(ctx: FlowContext) -> None:
    _, lang = ctx._, ctx.person.language
    params = await ctx.uow.params.current()
    await ctx.reply(_("Done: when a campaign opens within {distance} of that area I will tell you (at most {cap} a day). "
                      "Send /nearby off to stop.").format(
        distance=value_text(_, "campaign_nearby_radius_m", params.campaign_nearby_radius_m, lang),
        cap=params.campaign_nearby_daily_cap))  # fmt: skip


async def _off(ctx: FlowContext) -> None:
    _ = ctx._
    if ctx.step == Step.NEARBY_PLACE:
        ctx.goto(None)  # no longer waiting for a place to hear of campaigns around
    if await ctx.uow.campaigns.clear_nearby(ctx.person.id):
        await ctx.reply(_("Done: no more messages about campaigns near you. Send /nearby on to hear of them again."))
    else:
        await ctx.reply(_("You were not getting messages about campaigns near you. Send /nearby on to start."))


async def place_step(ctx: FlowContext, msg: Inbound) -> None:
    """The place to hear of campaigns around (a seeker's photo instead starts a meal request)."""
    if msg.kind == "photo":
        ctx.goto(None)
        return await donor.photo_received(ctx, msg)
    if not await require_location(ctx, msg):
        return
    assert msg.lat is not None and msg.lng is not None
    ctx.goto(None)
    await nearby.opt_in(ctx.uow, ctx.person.id, Place(msg.lat, msg.lng))
    await _confirm_on(ctx)


STEPS = {Step.NEARBY_PLACE: place_step}


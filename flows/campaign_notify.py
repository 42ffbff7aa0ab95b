"""Tell a campaign's creator and givers how it stands: each gift, the order placed, the meal
delivered (the photo goes only to the creator, with the order's own messages), the refunds."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from core.campaigns import nearby
from core.campaigns import service as campaigns
from core.campaigns.model import Campaign, Gift, Place
from core.members.model import Person
from core.ports import UnitOfWork
from core.shared import geo
from core.shared.bus import MessageBus
from core.shared.events import CampaignGiven, CampaignTransitioned, DomainEvent, OrderTransitioned
from flows.context import deliver_to
from flows.i18n import clock_time, money, plural, translator
from flows.messages import REPLACES, Choice, Outbound

# Progress by channel: Telegram edits one message per follower; SMS and WhatsApp are batched,
# at most one summary per BATCH_EVERY (a fixed courtesy, not a rule of the cooperative: each SMS
# costs money and a campaign lasts two hours, so at most eight summaries; milestones go at once).
EDITED = frozenset({"telegram"})
BATCHED = frozenset({"sms", "whatsapp"})
BATCH_EVERY = timedelta(minutes=15)
PROGRESS = "progress"  # the notice kind of a batched summary


async def _people(uow: UnitOfWork, campaign: Campaign, *, creator: bool = True, but: int | None = None) -> list[Person]:
    """The creator (unless not wanted) and every giver, once each, except `but`."""
    ids = ([campaign.creator_id] if creator else []) + [g.person_id for g in await uow.campaigns.gifts(campaign.id)]
    out: list[Person] = []
    for pid in dict.fromkeys(ids):
        if pid != but and (p := await uow.people.get(pid)) is not None:
            out.append(p)
    return out


async def on_given(event: DomainEvent, uow: UnitOfWork) -> None:
    """Progress for everyone else in the campaign, the name only if not anonymous. On Telegram one
    message per follower is edited in place; SMS and WhatsApp get a batched summary later
    (`flush_progress`); other channels (the web chat) a short message now."""
    assert isinstance(event, CampaignGiven)
    campaign = await uow.campaigns.get(event.campaign_id)
    giver = await uow.people.get(event.person_id)
    if campaign is None or event.raised >= event.target:
        return  # the gift that meets the target: everyone hears that the order is placed instead
    for person in await _people(uow, campaign, but=event.person_id):
        if person.channel in BATCHED:
            continue
        _, lang = translator(person.language, person.channel), person.language
        who = _("Someone") if event.anonymous or giver is None or not giver.name else giver.name
        text = _("Campaign {code}: {who} gave {amount}. {raised} of {target} raised.").format(
            code=campaign.code, who=who, amount=money(event.amount, lang), raised=money(event.raised, lang),
            target=money(event.target, lang))  # fmt: skip
        meta: dict[str, Any] = {}
        if person.channel in EDITED:
            key = progress_key(campaign.id, person.id)
            await uow.outbox.withdraw_unsent(REPLACES, key)  # the newer figures say it all
            meta = {REPLACES: key}
        await deliver_to(uow, person, Outbound(text, meta=meta))


def progress_key(campaign_id: int, person_id: int) -> str:
    """The one progress message a follower has per campaign (edited on each gift)."""
    return f"campaign:{campaign_id}:p{person_id}"


async def flush_progress(uow: UnitOfWork) -> int:
    """Scheduled (every minute; idempotent): each SMS and WhatsApp follower of an open campaign
    with gifts they have not heard of gets one summary, at most once per BATCH_EVERY. What was
    told is written in the same transaction as the message, so a crash repeats nothing and loses
    nothing (the gifts themselves are the state). Return how many summaries were queued."""
    queued = 0
    for campaign, _place in await uow.campaigns.open_with_places():
        gifts = await uow.campaigns.gifts(campaign.id)
        if not gifts:
            continue
        for person in await _people(uow, campaign):
            if person.channel not in BATCHED:
                continue
            was = await uow.campaigns.notice(campaign.id, person.id, PROGRESS)
            # Since what they were last told, or their own latest gift (its thank-you had the figures).
            since = max([was[0] if was else 0] + [g.seq for g in gifts if g.person_id == person.id])
            new = [g for g in gifts if g.seq > since and g.person_id != person.id]
            if not new or (was is not None and datetime.fromisoformat(was[1]) + BATCH_EVERY > uow.at):
                continue
            if not await uow.campaigns.tell(campaign.id, person.id, PROGRESS, uow.day, gifts[-1].seq, was):
                continue  # another run told them
            await deliver_to(uow, person, Outbound(_summary(person, campaign, new)))
            queued += 1
    return queued


def _summary(person: Person, campaign: Campaign, new: list[Gift]) -> str:
    _, lang = translator(person.language, person.channel), person.language
    gifts = plural(lang, "{n} new gift", "{n} new gifts", len(new)).format(n=len(new))
    return _("Campaign {code}: {gifts} ({amount}). {raised} of {target} raised; {remaining} to go.").format(
        code=campaign.code, gifts=gifts, amount=money(sum(g.amount for g in new), lang), raised=money(campaign.raised, lang),
        target=money(campaign.target, lang), remaining=money(campaign.remaining, lang))  # fmt: skip


async def on_transitioned(event: DomainEvent, uow: UnitOfWork) -> None:
    """Tell the people of a campaign what its move means for them."""
    assert isinstance(event, CampaignTransitioned)
    campaign = await uow.campaigns.get(event.campaign_id)
    if campaign is None:
        return
    refunds = {int(k): int(v) for k, v in dict(event.details.get("refunds", {})).items()}
    if event.transition == "start":
        await tell_nearby(uow, campaign)
    elif event.transition == "place":
        for person in await _people(uow, campaign):
            if person.actor == event.actor:
                continue  # the giver who met the target was just told so
            _ = translator(person.language, person.channel)
            await deliver_to(uow, person, Outbound(_("Campaign {code} reached its target! Order #{id} for {meal} is placed; "
                                                     "I will tell you when it is delivered.").format(
                code=campaign.code, id=campaign.order_id, meal=campaign.meal_name)))  # fmt: skip
    elif event.transition == "deliver":
        # The creator gets the order's own message with the photo; givers get words only.
        for person in await _people(uow, campaign, creator=False, but=campaign.creator_id):
            _ = translator(person.language, person.channel)
            await deliver_to(uow, person, Outbound(_("The meal of campaign {code} was delivered. Thank you for giving!").format(
                code=campaign.code)))  # fmt: skip
    elif event.transition in ("expire", "cancel", "fail"):
        await _tell_refunds(uow, campaign, event.transition, refunds)
    elif event.transition == "complete" and refunds:
        await _tell_refunds(uow, campaign, "complete", refunds)


async def _tell_refunds(uow: UnitOfWork, campaign: Campaign, why: str, refunds: dict[int, int]) -> None:
    for person in await _people(uow, campaign):
        _, lang = translator(person.language, person.channel), person.language
        text = {
            "expire": _("Campaign {code} did not reach its target in time ({raised} of {target}), so it has ended."),
            "cancel": _("Campaign {code} was cancelled."),
            "fail": _("The order of campaign {code} could not go ahead."),
            "complete": _("Campaign {code} is complete."),
        }[why].format(code=campaign.code, raised=money(campaign.raised, lang), target=money(campaign.target, lang))
        if back := refunds.get(person.id):
            text += " " + _("{amount} is back in your balance.").format(amount=money(back, lang))
        await deliver_to(uow, person, Outbound(text))


async def tell_nearby(uow: UnitOfWork, campaign: Campaign) -> None:
    """A new campaign: opted-in people near it hear of it once (governed radius and daily cap),
    with its rough area only: never the exact place, never the photo."""
    order = await uow.orders.get(campaign.order_id)
    if order is None:
        return
    for person_id in await nearby.people_to_tell(uow, campaign, Place(order.seeker_lat, order.seeker_lng)):
        person = await uow.people.get(person_id)
        if person is None:
            continue
        _, lang = translator(person.language, person.channel), person.language
        text = _("A campaign near you: {meal} for someone near {area}, {target} needed by {time}.").format(
            meal=campaign.meal_name, area=geo.approximate_area(*geo.coarse_point(order.seeker_lat, order.seeker_lng)),
            target=money(campaign.target, lang), time=clock_time(campaign.expires_at, lang))  # fmt: skip
        if person.channel != "sms":  # SMS: the numbered Give option says it; two segments is the budget
            text += "\n" + _("Anyone can give by sending: /give {code} <rupees>").format(code=campaign.code)
        await deliver_to(uow, person, Outbound(text, (Choice(_("Give") + " " + campaign.code, f"giveask:{campaign.id}"),
                                                      Choice(_("Stop these messages"), "nearby:off"))))  # fmt: skip


def register(bus: MessageBus) -> None:
    """Subscribe the campaign's own follow-up of its order and the notifications."""
    bus.on(OrderTransitioned, campaigns.follow_order)
    bus.on(CampaignGiven, on_given)
    bus.on(CampaignTransitioned, on_transitioned)

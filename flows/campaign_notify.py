"""Tell a campaign's creator and givers how it stands: each gift, the order placed, the meal
delivered (the photo goes only to the creator, with the order's own messages), the refunds."""

from __future__ import annotations

from core.campaigns import service as campaigns
from core.campaigns.model import Campaign
from core.members.model import Person
from core.ports import UnitOfWork
from core.shared.bus import MessageBus
from core.shared.events import CampaignGiven, CampaignTransitioned, DomainEvent, OrderTransitioned
from flows.context import deliver_to
from flows.i18n import money, translator
from flows.messages import Outbound


async def _people(uow: UnitOfWork, campaign: Campaign, *, creator: bool = True, but: int | None = None) -> list[Person]:
    """The creator (unless not wanted) and every giver, once each, except `but`."""
    ids = ([campaign.creator_id] if creator else []) + [g.person_id for g in await uow.campaigns.gifts(campaign.id)]
    out: list[Person] = []
    for pid in dict.fromkeys(ids):
        if pid != but and (p := await uow.people.get(pid)) is not None:
            out.append(p)
    return out


async def on_given(event: DomainEvent, uow: UnitOfWork) -> None:
    """A short progress update to everyone else in the campaign; the name only if not anonymous."""
    assert isinstance(event, CampaignGiven)
    campaign = await uow.campaigns.get(event.campaign_id)
    giver = await uow.people.get(event.person_id)
    if campaign is None or event.raised >= event.target:
        return  # the gift that meets the target: everyone hears that the order is placed instead
    for person in await _people(uow, campaign, but=event.person_id):
        _, lang = translator(person.language, person.channel), person.language
        who = _("Someone") if event.anonymous or giver is None or not giver.name else giver.name
        await deliver_to(uow, person, Outbound(_("Campaign {code}: {who} gave {amount}. {raised} of {target} raised.").format(
            code=campaign.code, who=who, amount=money(event.amount, lang), raised=money(event.raised, lang),
            target=money(event.target, lang))))  # fmt: skip


async def on_transitioned(event: DomainEvent, uow: UnitOfWork) -> None:
    """Tell the people of a campaign what its move means for them."""
    assert isinstance(event, CampaignTransitioned)
    campaign = await uow.campaigns.get(event.campaign_id)
    if campaign is None:
        return
    refunds = {int(k): int(v) for k, v in dict(event.details.get("refunds", {})).items()}
    if event.transition == "place":
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


def register(bus: MessageBus) -> None:
    """Subscribe the campaign's own follow-up of its order and the notifications."""
    bus.on(OrderTransitioned, campaigns.follow_order)
    bus.on(CampaignGiven, on_given)
    bus.on(CampaignTransitioned, on_transitioned)

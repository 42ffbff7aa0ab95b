"""Tell the other people involved when something happens: bus handlers, one per event kind."""

from __future__ import annotations

from core.ledger.model import worker_pay
from core.members.model import Approval, Person
from core.orders.funding import Source
from core.orders.lifecycle import Status
from core.orders.model import Order
from core.orders.offers import withdraw_job_offers
from core.ports import UnitOfWork
from core.shared import geo
from core.shared.bus import MessageBus
from core.shared.events import (
    CheckpointSigned,
    DomainEvent,
    LedgerTransactionRecorded,
    OrderReady,
    OrderTransitioned,
    PledgeChanged,
    PledgeDigest,
    PledgeNews,
    RoleApplied,
    RoleDecided,
    TopUpShortfall,
)
from flows import appeal_notify, books, campaign_notify, cards, governance_notify, payments_notify, timeouts
from flows.context import deliver_to
from flows.i18n import Translator, clock_time, day, money, p_, translator
from flows.jobs import offer_job
from flows.messages import Choice, Outbound
from flows.onboarding import application_message, decision_message, restaurant_summary


async def _person(uow: UnitOfWork, person_id: int | None) -> Person | None:
    return await uow.people.get(person_id) if person_id else None


async def _restaurant_owner(uow: UnitOfWork, restaurant_id: int | None) -> Person | None:
    r = await uow.restaurants.get(restaurant_id or 0)
    return await _person(uow, r.person_id) if r else None


async def _worker_person(uow: UnitOfWork, worker_id: int | None) -> Person | None:
    w = await uow.workers.get(worker_id or 0)
    return await _person(uow, w.person_id) if w else None


def order_for_restaurant(lang: str, order: Order) -> Outbound:
    """A new order as the restaurant sees it, with Accept / Reject."""
    _ = translator(lang)
    text = _("New order #{id}: {meal} ({price}) for a person near {area}. Can you cook it?").format(
        id=order.id, meal=order.meal_name, price=money(order.meal_price, lang),
        area=geo.approximate_area(order.seeker_lat, order.seeker_lng),
    )  # fmt: skip
    return Outbound(text, (Choice(_("Accept"), f"accept:{order.id}"), Choice(p_(lang, "restaurant", "Reject"), f"reject:{order.id}")))


async def on_order_transitioned(event: DomainEvent, uow: UnitOfWork) -> None:
    """Route an order's transition to the people who need to hear of it."""
    assert isinstance(event, OrderTransitioned)
    order = await uow.orders.get(event.order_id)
    if order is None:
        return
    handler = _BY_TRANSITION.get(event.transition)
    if handler is not None:
        await handler(uow, order, event)


async def _sent(uow: UnitOfWork, order: Order, event: OrderTransitioned) -> None:
    if owner := await _restaurant_owner(uow, order.restaurant_id):
        await deliver_to(uow, owner, order_for_restaurant(owner.language, order))
    if event.transition == "reroute" and (donor := await _person(uow, order.donor_id)):
        _, lang = translator(donor.language, donor.channel), donor.language
        r = await uow.restaurants.get(order.restaurant_id or 0)
        refund = int(event.details.get("refund", 0))
        text = _("The first restaurant could not cook order #{id}, so {restaurant} will make {meal}.").format(
            id=order.id, restaurant=r.name if r else "", meal=order.meal_name)
        if refund and any(c.source is Source.CARD for c in await uow.contributions.for_order(order.id)):
            text += " " + _("{amount} of the difference will not be taken from your card.").format(amount=money(refund, lang))
        elif refund:
            text += " " + _("{amount} of the difference is back in your balance.").format(amount=money(refund, lang))
        await deliver_to(uow, donor, Outbound(text))


async def _declined(uow: UnitOfWork, order: Order, event: OrderTransitioned) -> None:
    if donor := await _person(uow, order.donor_id):
        _ = translator(donor.language, donor.channel)
        if any(c.source is Source.CARD for c in await uow.contributions.for_order(order.id)):
            text = _("Sorry, no restaurant nearby could cook order #{id}. Nothing will be taken from your card: "
                     "the hold of {amount} will be released.")  # fmt: skip
        else:
            text = _("Sorry, no restaurant nearby could cook order #{id}. {amount} is back in your balance.")
        await deliver_to(uow, donor, Outbound(text.format(id=order.id, amount=money(order.total, donor.language))))


async def _posted(uow: UnitOfWork, order: Order, event: OrderTransitioned) -> None:
    r = await uow.restaurants.get(order.restaurant_id or 0)
    if r is None:
        return
    if donor := await _person(uow, order.donor_id):
        _ = translator(donor.language, donor.channel)
        await deliver_to(uow, donor, Outbound(_("{restaurant} accepted order #{id} and is cooking. Now finding a delivery worker.").format(
            restaurant=r.name, id=order.id)))  # fmt: skip
    await offer_job(uow, order, geo.neighbourhood(r.zone))


async def _claimed(uow: UnitOfWork, order: Order, event: OrderTransitioned) -> None:
    # Offers still queued (an SMS backlog, a rate-limited broadcast) would only announce a job
    # that is gone: they are not sent. Offers already delivered are edited where the channel can.
    await withdraw_job_offers(uow, order.id, event.actor)
    w = await uow.workers.get(order.worker_id or 0)
    name = w.name if w else ""
    for person in (await _person(uow, order.donor_id), await _restaurant_owner(uow, order.restaurant_id)):
        if person:
            _ = translator(person.language, person.channel)
            await deliver_to(uow, person, Outbound(_("{name} will deliver order #{id}.").format(name=name, id=order.id)))


async def _picked_up(uow: UnitOfWork, order: Order, event: OrderTransitioned) -> None:
    if donor := await _person(uow, order.donor_id):
        _ = translator(donor.language, donor.channel)
        await deliver_to(uow, donor, Outbound(_("Order #{id} was picked up and is on its way.").format(id=order.id)))


async def _delivered(uow: UnitOfWork, order: Order, event: OrderTransitioned) -> None:
    if donor := await _person(uow, order.donor_id):
        _ = translator(donor.language, donor.channel)
        await deliver_to(uow, donor, Outbound(
            _("Order #{id} was delivered. Thank you for feeding someone today!").format(id=order.id),
            _report_button(_, order), photo_id=order.delivery_photo))  # fmt: skip
    if (owner := await _restaurant_owner(uow, order.restaurant_id)) and order.settle_after:
        _ = translator(owner.language, owner.channel)
        await deliver_to(uow, owner, Outbound(_("Order #{id} was delivered. {amount} will be credited to you at {time}.").format(
            id=order.id, amount=money(order.meal_price, owner.language), time=clock_time(order.settle_after, owner.language)),
            _report_button(_, order)))  # fmt: skip


def _report_button(_: Translator, order: Order) -> tuple[Choice, ...]:
    """The button that opens a dispute (flows/disputes.py) while the order rests."""
    return (Choice(_("Report a problem"), f"dispute:{order.id}"),)


async def _not_found(uow: UnitOfWork, order: Order, event: OrderTransitioned) -> None:
    if donor := await _person(uow, order.donor_id):
        _ = translator(donor.language, donor.channel)
        text = _("The delivery worker could not find the person for order #{id}. The restaurant and the worker are paid "
                 "for their work; the tip of {tip} comes back to you.")  # fmt: skip
        await deliver_to(uow, donor, Outbound(text.format(id=order.id, tip=money(order.tip, donor.language)),
                                              _report_button(_, order), photo_id=order.delivery_photo))  # fmt: skip
    if (owner := await _restaurant_owner(uow, order.restaurant_id)) and order.settle_after:
        _ = translator(owner.language, owner.channel)
        await deliver_to(uow, owner, Outbound(_("Order #{id}: the worker could not find the person. You are still paid {amount} "
                                                "at {time}.").format(id=order.id, amount=money(order.meal_price, owner.language),
                                                                     time=clock_time(order.settle_after, owner.language)),
                                              _report_button(_, order)))  # fmt: skip


async def _settled(uow: UnitOfWork, order: Order, event: OrderTransitioned) -> None:
    if event.from_status == Status.DISPUTED:
        return  # an admin's decision, told to every party by flows/disputes.py
    if owner := await _restaurant_owner(uow, order.restaurant_id):
        _ = translator(owner.language, owner.channel)
        await deliver_to(uow, owner, Outbound(_("Order #{id}: {amount} is now credited to you.").format(
            id=order.id, amount=money(order.meal_price, owner.language))))  # fmt: skip
    if person := await _worker_person(uow, order.worker_id):
        _ = translator(person.language, person.channel)
        params = await uow.params.current()
        tip = order.tip if event.from_status == Status.DELIVERED else 0
        pay = worker_pay(order.delivery_fee, tip, params.fee_shares)
        await deliver_to(uow, person, Outbound(_("Job #{id}: {amount} is now in your earnings.").format(
            id=order.id, amount=money(pay.total, person.language))))  # fmt: skip


async def _cancelled(uow: UnitOfWork, order: Order, event: OrderTransitioned) -> None:
    if event.from_status in (Status.DRAFT, Status.SCREENED):
        return  # nobody but the donor knew of it
    await withdraw_job_offers(uow, order.id, event.actor)
    for person in (await _restaurant_owner(uow, order.restaurant_id), await _worker_person(uow, order.worker_id)):
        if person:
            _ = translator(person.language, person.channel)
            cancelled = _("Order #{id} was cancelled by the donor. No need to continue with it.").format(id=order.id)
            await deliver_to(uow, person, Outbound(cancelled))


_BY_TRANSITION = {
    "send": _sent,
    "reroute": _sent,
    "decline": _declined,
    "post": _posted,
    "claim": _claimed,
    "pickup": _picked_up,
    "deliver": _delivered,
    "fail_delivery": _not_found,
    "settle": _settled,
    "cancel": _cancelled,
}


async def on_order_ready(event: DomainEvent, uow: UnitOfWork) -> None:
    """Tell the claiming worker that the meal is packed."""
    assert isinstance(event, OrderReady)
    order = await uow.orders.get(event.order_id)
    if order and (person := await _worker_person(uow, order.worker_id)):
        _ = translator(person.language, person.channel)
        await deliver_to(uow, person, Outbound(_("Order #{id} is packed and ready for pickup.").format(id=order.id)))


async def on_role_applied(event: DomainEvent, uow: UnitOfWork) -> None:
    """Ask every admin to approve a new restaurant or worker."""
    assert isinstance(event, RoleApplied)
    applicant = await uow.people.get(event.person_id)
    for admin in await uow.people.admins():
        lang = admin.language
        if event.role == "restaurant":
            r = await uow.restaurants.get(event.entity_id)
            if r is None or r.status is not Approval.PENDING:
                continue  # set up already approved (demo, admin setup): nothing to ask
            summary = restaurant_summary(lang, r.name, r.address, r.daily_capacity, [(m.name, m.price) for m in r.menu])
        else:
            w = await uow.workers.get(event.entity_id)
            if w is None or w.status is not Approval.PENDING:
                continue
            summary = f"{w.name} · {geo.approximate_area(w.lat, w.lng)}"
        if applicant:
            summary += f" · {applicant.channel}:{applicant.address}"
        await deliver_to(uow, admin, application_message(lang, event.role, event.entity_id, summary))


async def on_role_decided(event: DomainEvent, uow: UnitOfWork) -> None:
    """Tell the applicant the decision."""
    assert isinstance(event, RoleDecided)
    if event.actor == "setup":
        return
    if applicant := await uow.people.get(event.person_id):
        await deliver_to(uow, applicant, decision_message(applicant.language, event.role, event.approved, applicant.channel))


async def on_ledger_transaction(event: DomainEvent, uow: UnitOfWork) -> None:
    """Tell workers about a daily-minimum top-up they received."""
    assert isinstance(event, LedgerTransactionRecorded)
    if event.kind != "topup":
        return
    for account, amount in event.postings:
        if str(account).startswith("worker:") and (person := await _worker_person(uow, int(str(account).split(":")[1]))):
            _ = translator(person.language, person.channel)
            await deliver_to(uow, person, Outbound(_("Your earnings for {day} were topped up by {amount} from the guarantee pool.").format(
                day=day(event.ref, person.language), amount=money(int(amount), person.language))))  # fmt: skip


async def on_topup_shortfall(event: DomainEvent, uow: UnitOfWork) -> None:
    """Announce a pool shortfall to the affected workers and the admins."""
    assert isinstance(event, TopUpShortfall)
    people = [await _worker_person(uow, w) for w in event.worker_ids] + list(await uow.people.admins())
    for person in people:
        if person:
            _, lang = translator(person.language, person.channel), person.language
            await deliver_to(uow, person, Outbound(_(
                "The guarantee pool was short on {day}: {paid} of {needed} in top-ups could be paid, shared fairly.").format(
                day=day(event.day, lang), paid=money(event.paid, lang), needed=money(event.needed, lang))))  # fmt: skip


async def on_pledge_changed(event: DomainEvent, uow: UnitOfWork) -> None:
    """Tell a donor their pledge renewed itself, or could not and is paused (the other changes
    are their own taps, answered in the chat)."""
    assert isinstance(event, PledgeChanged)
    if event.change not in ("renewed", "renewal_failed") or not (person := await _person(uow, event.person_id)):
        return
    _, lang = translator(person.language, person.channel), person.language
    pledge = await uow.pledges.get(event.pledge_id)
    left = money(pledge.remaining if pledge else 0, lang)
    if event.change == "renewed":
        text = _("Pledge #{id} was renewed with {amount} from your balance; it now holds {left}.").format(
            id=event.pledge_id, amount=money(event.amount, lang), left=left)  # fmt: skip
        await deliver_to(uow, person, Outbound(text))
        return
    text = _("Pledge #{id} could not be renewed: your balance is short of {amount}, so nothing was taken and the pledge "
             "is paused ({left} left in it). Add money to your balance, then tap Resume.").format(
        id=event.pledge_id, amount=money(event.amount, lang), left=left)  # fmt: skip
    await deliver_to(uow, person, Outbound(text, (Choice(_("Resume") + f" #{event.pledge_id}", f"presume:{event.pledge_id}"),)))


async def on_pledge_digest(event: DomainEvent, uow: UnitOfWork) -> None:
    """Once a day per pledge: what it paid for, where (about a kilometre), and what is left."""
    assert isinstance(event, PledgeDigest)
    if person := await _person(uow, event.person_id):
        _, lang = translator(person.language, person.channel), person.language
        text = _("Meals your pledge #{id} paid for today near {area}: {n} ({amount}). {left} left.").format(
            id=event.pledge_id, n=event.meals, area=event.area, amount=money(event.amount, lang),
            left=money(event.remaining, lang))  # fmt: skip
        # One tap to hear of every meal instead (flows/pledges.py; /daily goes back).
        every = Choice(_("Every use") + f" #{event.pledge_id}", f"ptell:{event.pledge_id}:often")
        await deliver_to(uow, person, Outbound(text, (every,)))


async def on_pledge_news(event: DomainEvent, uow: UnitOfWork) -> None:
    """Soon after a pledge's uses, to a donor who asked to hear of every use (batched)."""
    assert isinstance(event, PledgeNews)
    if person := await _person(uow, event.person_id):
        _, lang = translator(person.language, person.channel), person.language
        text = _("Your pledge #{id} just paid for meals near {area}: {n} ({amount}). {left} left.").format(
            id=event.pledge_id, n=event.meals, area=event.area, amount=money(event.amount, lang),
            left=money(event.remaining, lang))  # fmt: skip
        daily = Choice(_("Once a day") + f" #{event.pledge_id}", f"ptell:{event.pledge_id}:daily")
        await deliver_to(uow, person, Outbound(text, (daily,)))


def register(bus: MessageBus) -> None:
    """Subscribe every notification handler."""
    bus.on(OrderTransitioned, on_order_transitioned)
    bus.on(OrderReady, on_order_ready)
    bus.on(RoleApplied, on_role_applied)
    bus.on(RoleDecided, on_role_decided)
    bus.on(LedgerTransactionRecorded, on_ledger_transaction)
    bus.on(TopUpShortfall, on_topup_shortfall)
    bus.on(PledgeChanged, on_pledge_changed)
    bus.on(PledgeDigest, on_pledge_digest)
    bus.on(PledgeNews, on_pledge_news)
    bus.on(CheckpointSigned, books.on_checkpoint_signed)
    timeouts.register(bus)
    payments_notify.register(bus)
    cards.register(bus)
    governance_notify.register(bus)
    appeal_notify.register(bus)  # after the proposal's result, so members read the result first
    campaign_notify.register(bus)

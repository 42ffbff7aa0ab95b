"""Tell every party of an order how the members' vote on its appeal ended, in their language."""

from __future__ import annotations

from core.ports import UnitOfWork
from core.shared.bus import MessageBus
from core.shared.events import AppealVoteWaitsForPool, DisputeResolved, DomainEvent
from flows.context import deliver_to
from flows.dispute_text import resolution_label
from flows.disputes import outcome_amounts, parties_of
from flows.i18n import money, translator
from flows.messages import Outbound


async def on_vote_decided(event: DomainEvent, uow: UnitOfWork) -> None:
    """An appeal decided by the members' vote: the new outcome and its money, or that the decision stands."""
    assert isinstance(event, DisputeResolved)
    if not event.source.startswith("proposal:"):
        return  # an admin's decision: the deciding admin's flow tells the parties
    proposal_id = int(event.source.split(":", 1)[1])
    dispute = await uow.disputes.get(event.dispute_id)
    order = await uow.orders.get(event.order_id)
    assert dispute is not None and order is not None
    changed = dispute.appeal_resolution is not dispute.resolution
    meal, pay, back = await outcome_amounts(uow, order, dispute.tx_ids)
    for person in await parties_of(uow, order):
        _, lang = translator(person.language, person.channel), person.language
        what = resolution_label(_, event.resolution)
        if changed:
            text = " ".join((
                _("Order #{id}: the members' vote (proposal #{p}) changed the decision to {what}.").format(
                    id=order.id, p=proposal_id, what=what),
                _("The restaurant gets {paid}, the delivery worker {pay}, and {amount} goes back to who paid.").format(
                    paid=money(meal, lang), pay=money(pay, lang), amount=money(back, lang)),
            ))  # fmt: skip
        else:
            text = _("Order #{id}: the members' vote (proposal #{p}) did not change the decision; {what} stands.").format(
                id=order.id, p=proposal_id, what=what
            )
        await deliver_to(uow, person, Outbound(text))


async def on_vote_waits_for_pool(event: DomainEvent, uow: UnitOfWork) -> None:
    """The admins hear, once, that a passed appeal vote waits until the guarantee pool can cover it."""
    assert isinstance(event, AppealVoteWaitsForPool)
    dispute = await uow.disputes.get(event.dispute_id)
    order_id = dispute.order_id if dispute is not None else 0
    for admin in await uow.people.admins():
        _ = translator(admin.language, admin.channel)
        text = _("Order #{id}: the members voted to change the decision (proposal #{p}), but the guarantee pool is {amount} "
                 "short of what the change needs. It is applied by itself as soon as the pool can cover it.")  # fmt: skip
        await deliver_to(uow, admin, Outbound(text.format(id=order_id, p=event.proposal_id,
                                                          amount=money(event.short, admin.language))))  # fmt: skip


def register(bus: MessageBus) -> None:
    """Subscribe the appeal-vote notifications."""
    bus.on(DisputeResolved, on_vote_decided)
    bus.on(AppealVoteWaitsForPool, on_vote_waits_for_pool)

"""What workers read about a delivery job: the offer, and what it turns into once taken."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from core.ledger.service import order_terms
from core.orders.model import Order
from core.orders.offers import JOB_META
from core.orders.service import job_for
from core.ports import UnitOfWork
from flows.context import deliver_to
from flows.i18n import distance, money, translator
from flows.messages import Choice, Outbound


def _int(payload: Mapping[str, object], key: str) -> int:
    value = payload.get(key, 0)
    return int(value) if isinstance(value, int | float | str) and value != "" else 0


def offer_text(language: str, channel: str | None, order_id: int, payload: Mapping[str, object], *, new: bool) -> str:
    """A job offer from its board payload (core.orders.service.job_for); `new` when it is pushed."""
    _ = translator(language, channel)
    if new:
        text = _("New job #{id}: pick up at {restaurant} ({address}), drop near {area}. Pay {pay}.")
    else:
        text = _("Job #{id}: pick up at {restaurant} ({address}), drop near {area}, {distance}. Pay {pay}.")
    return text.format(
        id=order_id, restaurant=payload.get("restaurant"), address=payload.get("restaurant_area"),
        area=payload.get("drop_area"), distance=distance(_int(payload, "distance_m"), language),
        pay=money(_int(payload, "pay"), language),
    )  # fmt: skip


def taken_text(language: str, order_id: int, name: str) -> str:
    """What an earlier job offer turns into once someone has claimed it."""
    _ = translator(language)
    return _("Job #{id} was taken by {name}. Send /jobs to see the open ones.").format(id=order_id, name=name)


async def offer_job(uow: UnitOfWork, order: Order, zones: Collection[str], *, skip: Collection[int] = ()) -> int:
    """Push the order's job to the online workers in `zones` (but not the workers in `skip`), each
    with a Claim button; return how many were offered it."""
    r = await uow.restaurants.get(order.restaurant_id or 0)
    if r is None:
        return 0
    job, offered = job_for(order, r, await order_terms(uow, order)), 0
    for w in await uow.workers.online_in(list(zones)):
        if w.id in skip or (person := await uow.people.get(w.person_id)) is None:
            continue
        _ = translator(person.language, person.channel)
        text = offer_text(person.language, person.channel, order.id, job.payload, new=True)
        await deliver_to(uow, person, Outbound(text, (Choice(_("Claim"), f"claim:{order.id}"),), meta={JOB_META: order.id}))
        offered += 1
    return offered

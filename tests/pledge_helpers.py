"""Helpers for pledge tests: donors with money, screened orders at a place, funding with pledges."""

from __future__ import annotations

import uuid

from core.adapters.sql.uow import Store
from core.funding import pledges
from core.funding.pledge_model import Pledge, PledgeTerms
from core.ledger.model import DEPOSITS, donor_account, transfer
from core.members.model import Person
from core.orders import service as orders
from core.orders.model import Order
from core.seekers.screening import PassThroughScreener


async def person_with(store: Store, rupees: int, tag: str = "") -> Person:
    """A new person holding `rupees` on their balance."""
    async with store.uow() as uow:
        person = await uow.people.get_or_create("test", f"p-{tag}{uuid.uuid4().hex[:10]}")
        if rupees:
            await uow.ledger.record(transfer("deposit", f"seed-{person.id}", DEPOSITS, donor_account(person.id), rupees * 100))
    return person


async def pledge(store: Store, person: Person, terms: PledgeTerms) -> Pledge:
    """Make a pledge in its own unit of work."""
    async with store.uow() as uow:
        return await pledges.make_pledge(uow, person.id, terms, person.actor)


async def screened(store: Store, donor: Person, lat: float, lng: float) -> Order:
    """A screened order (photo-less: the pass-through screener) at a place."""
    async with store.uow() as uow:
        return await orders.start_order(uow, donor, lat, lng, None, PassThroughScreener())


async def first_item(store: Store, order: Order) -> int:
    """The nearest meal on offer for an order."""
    async with store.reader() as uow:
        return (await orders.meal_options(uow, order.seeker_lat, order.seeker_lng))[0].item_id


async def order_with_pledges(store: Store, donor: Person, lat: float, lng: float, tip: int = 0) -> Order:
    """A screened order at a place funded with pledges (and the donor's balance for the rest)."""
    order = await screened(store, donor, lat, lng)
    item = await first_item(store, order)
    async with store.uow() as uow:
        return await orders.fund_and_send(uow, order.id, donor, item, tip, use_pledges=True)

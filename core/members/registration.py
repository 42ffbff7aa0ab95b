"""Applications to act as a restaurant or worker, and their approval by an admin."""

from __future__ import annotations

from collections.abc import Sequence

from core.ledger.params import Params
from core.members.model import Approval, Person, Restaurant, Worker
from core.ports import UnitOfWork
from core.shared import geo
from core.shared.events import RestaurantOfferChanged, RoleApplied, RoleDecided

MAX_MENU_ITEMS = 10
MAX_NAME = 120  # characters: the name columns of people, restaurants, workers and menu items


class RegistrationError(Exception):
    """An application that cannot be made or decided; `code` names why."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code, self.detail = code, detail  # detail: e.g. the meal whose price is too high


async def apply_restaurant(
    uow: UnitOfWork,
    person: Person,
    *,
    name: str,
    lat: float,
    lng: float,
    address: str,
    menu: Sequence[tuple[str, int]],
    daily_capacity: int,
    open_minute: int = 0,
    close_minute: int = 1440,
    approved: bool = False,
) -> Restaurant:
    """Register a restaurant, pending approval unless set up by an admin."""
    if await uow.restaurants.by_person(person.id):
        raise RegistrationError("already_registered")
    params = await uow.params.current()
    check_name(name)
    check_menu(menu, params)
    check_capacity(daily_capacity, params)
    restaurant = await uow.restaurants.create(
        person_id=person.id, name=name, address=address, lat=lat, lng=lng, zone=geo.encode(lat, lng, 5),
        daily_capacity=daily_capacity, menu=menu, open_minute=open_minute, close_minute=close_minute,
        status=Approval.APPROVED if approved else Approval.PENDING,
    )  # fmt: skip
    uow.record(RoleApplied(actor=person.actor, person_id=person.id, role="restaurant", entity_id=restaurant.id))
    if approved:
        uow.record(RoleDecided(actor="setup", person_id=person.id, role="restaurant", entity_id=restaurant.id, approved=True))
        await uow.people.set_flags(person.id, is_member=True)  # approved restaurants are members
    return restaurant


async def apply_worker(
    uow: UnitOfWork, person: Person, *, name: str, lat: float, lng: float, approved: bool = False, online: bool = False
) -> Worker:
    """Register a delivery worker in the zone of a shared location."""
    if await uow.workers.by_person(person.id):
        raise RegistrationError("already_registered")
    check_name(name)
    worker = await uow.workers.create(
        person_id=person.id, name=name, lat=lat, lng=lng, zone=geo.encode(lat, lng, 5),
        status=Approval.APPROVED if approved else Approval.PENDING, online=online,
    )  # fmt: skip
    uow.record(RoleApplied(actor=person.actor, person_id=person.id, role="worker", entity_id=worker.id))
    if approved:
        uow.record(RoleDecided(actor="setup", person_id=person.id, role="worker", entity_id=worker.id, approved=True))
        await uow.people.set_flags(person.id, is_member=True)  # approved workers are members
    return worker


async def decide(uow: UnitOfWork, admin: Person, role: str, entity_id: int, approve: bool) -> Person:
    """Approve or reject a pending application; return the applicant."""
    if not admin.is_admin:
        raise RegistrationError("not_admin")
    status = Approval.APPROVED if approve else Approval.REJECTED
    entity: Restaurant | Worker | None
    if role == "restaurant":
        entity = await uow.restaurants.get(entity_id)
        if entity and entity.status is Approval.PENDING:
            await uow.restaurants.set_status(entity_id, status)
    else:
        entity = await uow.workers.get(entity_id)
        if entity and entity.status is Approval.PENDING:
            await uow.workers.set_status(entity_id, status, online=approve)
    if entity is None:
        raise RegistrationError("not_found")
    if entity.status is not Approval.PENDING:
        raise RegistrationError(f"already_{entity.status.value}")
    uow.record(RoleDecided(actor=admin.actor, person_id=entity.person_id, role=role, entity_id=entity_id, approved=approve))
    applicant = await uow.people.get(entity.person_id)
    assert applicant is not None
    if approve:
        await uow.people.set_flags(applicant.id, is_member=True)  # approved restaurants and workers join the cooperative
    return applicant


def check_name(name: str) -> None:
    """Raise RegistrationError("bad_name") unless a name fits its column."""
    if not 0 < len(name) <= MAX_NAME:
        raise RegistrationError("bad_name")


def check_capacity(meals: int, params: Params) -> None:
    """Raise RegistrationError("bad_capacity") unless 0 <= meals <= the governed max_capacity."""
    if not 0 <= meals <= params.max_capacity:
        raise RegistrationError("bad_capacity")


def check_menu(menu: Sequence[tuple[str, int]], params: Params) -> None:
    """Raise RegistrationError unless a menu has 1 to MAX_MENU_ITEMS named meals, each priced
    above 0 and at most the governed max_price ("price_too_high" names that case)."""
    if not 0 < len(menu) <= MAX_MENU_ITEMS or any(price <= 0 for _name, price in menu):
        raise RegistrationError("bad_menu")
    for name, _price in menu:
        check_name(name)
    for name, price in menu:
        if price > params.max_price:
            raise RegistrationError("price_too_high", name)


async def set_daily_capacity(uow: UnitOfWork, restaurant: Restaurant, meals: int, actor: str) -> int:
    """Change an approved restaurant's daily pledge, today's included; return the meals used today.

    0 pauses new orders. Orders already reserved today are kept whatever the new pledge."""
    if restaurant.status is not Approval.APPROVED:
        raise RegistrationError("not_approved")
    check_capacity(meals, await uow.params.current())
    await uow.restaurants.set_daily_capacity(restaurant.id, meals, uow.day)
    uow.record(RestaurantOfferChanged(
        actor=actor, restaurant_id=restaurant.id, what="daily_capacity", before=restaurant.daily_capacity, after=meals,
    ))  # fmt: skip
    return await uow.restaurants.used(restaurant.id, uow.day)


async def replace_menu(uow: UnitOfWork, restaurant: Restaurant, menu: Sequence[tuple[str, int]], actor: str) -> None:
    """Replace an approved restaurant's alms menu (orders already placed keep their meal and price)."""
    if restaurant.status is not Approval.APPROVED:
        raise RegistrationError("not_approved")
    check_menu(menu, await uow.params.current())
    await uow.restaurants.replace_menu(restaurant.id, menu)
    uow.record(RestaurantOfferChanged(
        actor=actor, restaurant_id=restaurant.id, what="menu",
        before=[[m.name, m.price] for m in restaurant.menu], after=[[name, price] for name, price in menu],
    ))  # fmt: skip

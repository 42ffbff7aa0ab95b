"""A restaurant's daily alms capacity as orders use it: every unit taken or given back is an event."""

from __future__ import annotations

from core.ports import UnitOfWork
from core.shared.events import CapacityChanged


async def reserve(uow: UnitOfWork, restaurant_id: int, order_id: int, actor: str) -> bool:
    """Take one of today's meals for an order if any is left; False when the day is full."""
    if not await uow.restaurants.reserve(restaurant_id, uow.day, order_id):
        return False
    await _changed(uow, restaurant_id, uow.day, order_id, "reserve", actor)
    return True


async def release(uow: UnitOfWork, restaurant_id: int, day: str, order_id: int, actor: str) -> None:
    """Give back an order's meal (rejected or cancelled)."""
    await uow.restaurants.release(restaurant_id, day, order_id)
    await _changed(uow, restaurant_id, day, order_id, "release", actor)


async def complete(uow: UnitOfWork, restaurant_id: int, day: str, order_id: int, actor: str) -> None:
    """Count an order's meal as delivered."""
    await uow.restaurants.complete(restaurant_id, day, order_id)
    await _changed(uow, restaurant_id, day, order_id, "complete", actor)


async def _changed(uow: UnitOfWork, restaurant_id: int, day: str, order_id: int, change: str, actor: str) -> None:
    used = await uow.restaurants.used(restaurant_id, day)
    pledged = used + await uow.restaurants.remaining(restaurant_id, day)
    uow.record(CapacityChanged(actor=actor, restaurant_id=restaurant_id, day=day, change=change, order_id=order_id,
                               used=used, pledged=pledged))  # fmt: skip

""""Campaign near you": who opted in, where, and who may be told of a new campaign (radius, cap, once)."""

from __future__ import annotations

import math

from core.campaigns.model import Campaign, Place
from core.ports import UnitOfWork
from core.shared import geo

NEARBY = "nearby"  # the notice kind: one "campaign near you" message
METRES_PER_DEGREE = 111_320.0


async def last_place(uow: UnitOfWork, person_id: int) -> Place | None:
    """Where a person last asked for a meal (their newest request with a location), or None."""
    for order in await uow.orders.find(donor_id=person_id, limit=5):
        lat, lng = order.seeker_lat, order.seeker_lng
        if (lat, lng) != (0.0, 0.0) and geo.valid_coordinates(lat, lng):
            return Place(lat, lng)
    return None


async def opt_in(uow: UnitOfWork, person_id: int, place: Place | None = None) -> Place | None:
    """Opt a person in at a place (else where they last asked for a meal, else the place they
    already gave); None when no place is known yet (the caller asks for a location)."""
    place = place or await uow.campaigns.nearby_place(person_id) or await last_place(uow, person_id)
    if place is None:
        return None
    await uow.campaigns.set_nearby(person_id, place)
    return place


def _box(place: Place, radius_m: int) -> tuple[float, float, float, float]:
    """A south-west/north-east box around a place that holds every point within the radius."""
    dlat = radius_m / METRES_PER_DEGREE
    dlng = radius_m / (METRES_PER_DEGREE * max(math.cos(math.radians(place.lat)), 0.01))
    return place.lat - dlat, place.lng - dlng, place.lat + dlat, place.lng + dlng


async def people_to_tell(uow: UnitOfWork, campaign: Campaign, at: Place) -> list[int]:
    """Opted-in people within the governed radius of a new campaign who have had fewer than the
    daily cap of such messages today, never its creator and never twice for one campaign. Each
    one returned is recorded as told in this transaction, so a rerun tells nobody again."""
    params = await uow.params.current()
    if params.campaign_nearby_daily_cap <= 0:
        return []
    told: list[int] = []
    for person_id, place in await uow.campaigns.nearby_in_box(*_box(at, params.campaign_nearby_radius_m)):
        if person_id == campaign.creator_id:
            continue
        if geo.distance_m(at.lat, at.lng, place.lat, place.lng) > params.campaign_nearby_radius_m:
            continue
        if await uow.campaigns.notices_on(person_id, NEARBY, uow.day) >= params.campaign_nearby_daily_cap:
            continue
        if await uow.campaigns.tell(campaign.id, person_id, NEARBY, uow.day, 0, None):
            told.append(person_id)
    return told

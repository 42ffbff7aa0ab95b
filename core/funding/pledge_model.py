"""A pledge: money a donor puts aside ahead for other people's meals, and where and when it may feed.

Not to be confused with a restaurant's daily capacity (the meals it "pledges" a day) nor with
the governed `max_pledge`, the campaign ceiling: the ceiling of one pledge here is
`max_money_pledge`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.shared import geo

RADII_M = (500, 1_000, 3_000)  # the radii a location pledge may choose
# Allocation order (the Ketpaar seed): the most specific pledges pay first, general ones last.
RANK = {"location_time": 0, "location": 1, "time": 2, "general": 3}
# Located pledges are filed by the geohash cell of their place. A cell of this precision is about
# 4.9 km on a side (at India's latitudes, never less than 3.8 km), wider than the largest radius,
# so every pledge that can cover a point has its place in the point's cell or one of the eight
# around it: nine index lookups instead of a scan of every located pledge.
ZONE_PRECISION = 5
METRES_PER_DEG_LAT = 111_320.0


class PledgeKind(StrEnum):
    """Where and when a pledge may pay for a meal."""

    GENERAL = "general"  # any seeker, anywhere, any time
    LOCATION = "location"  # within a radius of a place
    TIME = "time"  # during some hours of the day (India time)
    LOCATION_TIME = "location_time"  # both


class PledgeStatus(StrEnum):
    """Whether a pledge may be drawn on."""

    ACTIVE = "active"
    PAUSED = "paused"  # by its donor, or because a renewal could not be funded
    CANCELLED = "cancelled"  # what was left went back to the donor; refunds follow it there


class PledgeError(Exception):
    """A pledge command that cannot be carried out; `code` names why."""

    def __init__(self, code: str, pledge_id: int | None = None) -> None:
        super().__init__(f"{code} (pledge {pledge_id})")
        self.code, self.pledge_id = code, pledge_id


@dataclass(frozen=True)
class PledgeTerms:
    """What a donor chose: how much, where, when, and whether it renews monthly."""

    amount: int  # paise put aside now (and again at each monthly renewal)
    kind: PledgeKind = PledgeKind.GENERAL
    lat: float | None = None
    lng: float | None = None
    radius_m: int | None = None
    start_hour: int | None = None  # local hours [start, end); start > end wraps past midnight
    end_hour: int | None = None
    auto_renew: bool = False

    def check(self) -> None:
        """Raise PledgeError when the terms do not fit the kind."""
        located = self.kind in (PledgeKind.LOCATION, PledgeKind.LOCATION_TIME)
        timed = self.kind in (PledgeKind.TIME, PledgeKind.LOCATION_TIME)
        if located != (self.lat is not None and self.lng is not None and self.radius_m is not None):
            raise PledgeError("bad_place")
        if located and (self.radius_m not in RADII_M or not geo.valid_coordinates(self.lat or 0.0, self.lng or 0.0)):
            raise PledgeError("bad_place")
        if timed != (self.start_hour is not None and self.end_hour is not None):
            raise PledgeError("bad_hours")
        if timed and not (0 <= (self.start_hour or 0) < 24 and 0 <= (self.end_hour or 0) < 24 and self.start_hour != self.end_hour):
            raise PledgeError("bad_hours")

    def zone(self) -> str | None:
        """The geohash cell of the place (None for a pledge without one)."""
        if self.lat is None or self.lng is None:
            return None
        return geo.encode(self.lat, self.lng, ZONE_PRECISION)

    def box(self) -> tuple[float, float, float, float] | None:
        """(lat_min, lat_max, lng_min, lng_max) around the place: a cheap first filter for the
        database; the exact distance decides."""
        if self.lat is None or self.lng is None or self.radius_m is None:
            return None
        return bounding_box(self.lat, self.lng, self.radius_m)


def bounding_box(lat: float, lng: float, radius_m: float) -> tuple[float, float, float, float]:
    """A lat/lng box that contains every point within radius_m of a place (a little more)."""
    import math

    dlat = radius_m / METRES_PER_DEG_LAT * 1.01
    dlng = radius_m / (METRES_PER_DEG_LAT * max(math.cos(math.radians(lat)), 0.01)) * 1.01
    return lat - dlat, lat + dlat, lng - dlng, lng + dlng


def in_hours(hour: int, start: int | None, end: int | None) -> bool:
    """Tell whether a local hour falls in [start, end) (wrapping past midnight when start > end)."""
    if start is None or end is None:
        return True
    return start <= hour < end if start < end else hour >= start or hour < end


@dataclass(frozen=True)
class Pledge:
    """A stored pledge; `remaining` always equals the balance of its ledger account."""

    id: int
    person_id: int
    terms: PledgeTerms
    status: PledgeStatus
    remaining: int  # paise left to spend (mirror of the ledger balance of pledge:<id>)
    total_in: int  # paise ever put in: the first amount and every renewal
    returned: int  # paise given back to the donor (a cancel, or a refund after it)
    created_at: str
    renew_on: str | None  # the business day of the next monthly renewal (auto-renew only)
    often: bool = False  # its donor asked to hear of every use (batched), not once a day

    @property
    def account(self) -> str:
        """Its ledger account."""
        return pledge_account(self.id)

    def covers(self, lat: float, lng: float, hour: int) -> bool:
        """Tell whether this pledge may pay for a meal at this place and local hour."""
        t = self.terms
        if not in_hours(hour, t.start_hour, t.end_hour):
            return False
        if t.lat is None or t.lng is None or t.radius_m is None:
            return True
        return geo.distance_m(t.lat, t.lng, lat, lng) <= t.radius_m


def pledge_account(pledge_id: int) -> str:
    """Ledger account of the money left in one pledge."""
    return f"pledge:{pledge_id}"


@dataclass(frozen=True)
class PledgeUse:
    """What one pledge paid towards one order."""

    pledge_id: int
    order_id: int
    amount: int
    at: str
    area: str  # the approximate area (about a kilometre), never the seeker's exact place


@dataclass(frozen=True)
class PledgePick:
    """One pass of allocation's read: what the requester had pledges pay today, the pledges
    picked for the order (row-locked, in allocation order, as they are now), and where a further
    pass would go on — `after` = (rank, id) of the last candidate passed over, `more` whether
    candidates may be left after it."""

    drawn_today: int
    locked: tuple[Pledge, ...]
    after: tuple[int, int] | None
    more: bool
    next_contribution: int | None = None  # the order's next contribution number, when read with them

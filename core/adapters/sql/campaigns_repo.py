"""Campaigns and the gifts people make to them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.adapters.sql.campaigns_schema import campaign_gifts, campaign_nearby, campaign_notices, campaigns
from core.adapters.sql.schema import orders
from core.adapters.sql.sqlhelpers import new_id
from core.campaigns.lifecycle import CampaignStatus
from core.campaigns.model import Campaign, Gift, Place
from core.orders.model import ConcurrentUpdate
from core.shared.events import DomainEvent

_FIELDS = ("code", "creator_id", "order_id", "restaurant_id", "item_id", "meal_name", "meal_price", "delivery_fee", "tip",
           "raised", "expires_at", "created_at", "version")  # fmt: skip


def _campaign(row: Any) -> Campaign:
    return Campaign(id=row.id, status=CampaignStatus(row.status), **{f: getattr(row, f) for f in _FIELDS})


def _gift(row: Any) -> Gift:
    return Gift(row.id, row.campaign_id, row.seq, row.person_id, row.amount, bool(row.anonymous), row.key, row.refunded)


class CampaignRepo:
    """Campaigns by id, share code or order; their gifts in the order they were made."""

    def __init__(self, conn: AsyncConnection, now: str, collect: Callable[[Iterable[DomainEvent]], None]) -> None:
        self.conn, self.now, self._collect = conn, now, collect

    async def add(self, campaign: Campaign) -> Campaign:
        """Store a new campaign; set its id and collect its events."""
        values = {f: getattr(campaign, f) for f in _FIELDS} | {"status": campaign.status.value}
        campaign.id = new_id(await self.conn.execute(campaigns.insert().values(**values)))
        self._collect(campaign.events)
        campaign.events = []
        return campaign

    async def get(self, campaign_id: int, *, lock: bool = False) -> Campaign | None:
        """Load a campaign (row-locked on PostgreSQL when `lock`: gifts to it queue up here)."""
        q = select(campaigns).where(campaigns.c.id == campaign_id)
        if lock and self.conn.dialect.name == "postgresql":
            q = q.with_for_update()
        row = (await self.conn.execute(q)).first()
        return _campaign(row) if row else None

    async def by_code(self, code: str) -> Campaign | None:
        """The campaign with this share code."""
        row = (await self.conn.execute(select(campaigns).where(campaigns.c.code == code))).first()
        return _campaign(row) if row else None

    async def for_order(self, order_id: int) -> Campaign | None:
        """The campaign an order belongs to, if any."""
        row = (await self.conn.execute(select(campaigns).where(campaigns.c.order_id == order_id))).first()
        return _campaign(row) if row else None

    async def save(self, campaign: Campaign, loaded_version: int) -> None:
        """Write the campaign back if nobody changed it meanwhile; collect its events."""
        result = await self.conn.execute(
            update(campaigns).where(campaigns.c.id == campaign.id, campaigns.c.version == loaded_version)
            .values(status=campaign.status.value, raised=campaign.raised, version=campaign.version)
        )  # fmt: skip
        if result.rowcount != 1:
            raise ConcurrentUpdate(f"campaign {campaign.id} changed since version {loaded_version}")
        self._collect(campaign.events)
        campaign.events = []

    async def due_to_expire(self, now: str, limit: int = 500) -> list[int]:
        """Open campaigns whose time is up, oldest first."""
        open_ = [CampaignStatus.CREATED.value, CampaignStatus.FUNDING.value]
        q = select(campaigns.c.id).where(campaigns.c.status.in_(open_), campaigns.c.expires_at <= now)
        return [int(i) for (i,) in await self.conn.execute(q.order_by(campaigns.c.expires_at, campaigns.c.id).limit(limit))]

    async def gifts(self, campaign_id: int) -> list[Gift]:
        """A campaign's gifts in the order they were made."""
        q = select(campaign_gifts).where(campaign_gifts.c.campaign_id == campaign_id).order_by(campaign_gifts.c.seq)
        return [_gift(r) for r in await self.conn.execute(q)]

    async def gift_by_key(self, campaign_id: int, key: str) -> Gift | None:
        """The gift made under an idempotency key, if any."""
        q = select(campaign_gifts).where(campaign_gifts.c.campaign_id == campaign_id, campaign_gifts.c.key == key)
        row = (await self.conn.execute(q)).first()
        return _gift(row) if row else None

    async def add_gift(self, campaign_id: int, seq: int, person_id: int, amount: int, anonymous: bool, key: str) -> Gift:
        """Store one gift (its ledger transaction is already recorded)."""
        result = await self.conn.execute(campaign_gifts.insert().values(
            campaign_id=campaign_id, seq=seq, person_id=person_id, amount=amount, anonymous=anonymous, key=key,
            created_at=self.now))  # fmt: skip
        return Gift(new_id(result), campaign_id, seq, person_id, amount, anonymous, key)

    async def add_gift_refunded(self, gift_id: int, amount: int) -> None:
        """Count paise returned to a giver."""
        await self.conn.execute(
            update(campaign_gifts).where(campaign_gifts.c.id == gift_id).values(refunded=campaign_gifts.c.refunded + amount)
        )

    async def of_person(self, person_id: int, limit: int = 10) -> list[Campaign]:
        """Campaigns a person created or gave to, newest first."""
        gave = select(campaign_gifts.c.campaign_id).where(campaign_gifts.c.person_id == person_id)
        q = select(campaigns).where((campaigns.c.creator_id == person_id) | campaigns.c.id.in_(gave))
        return [_campaign(r) for r in await self.conn.execute(q.order_by(campaigns.c.id.desc()).limit(limit))]

    async def count_open(self) -> int:
        """How many campaigns are collecting now."""
        open_ = [CampaignStatus.CREATED.value, CampaignStatus.FUNDING.value]
        return int((await self.conn.execute(select(func.count()).where(campaigns.c.status.in_(open_)))).scalar_one())

    async def open_with_places(self, limit: int = 500) -> list[tuple[Campaign, Place]]:
        """Campaigns still collecting, newest first, each with its seeker's place (for distances only)."""
        open_ = [CampaignStatus.CREATED.value, CampaignStatus.FUNDING.value]
        q = (select(campaigns, orders.c.seeker_lat, orders.c.seeker_lng).join(orders, orders.c.id == campaigns.c.order_id)
             .where(campaigns.c.status.in_(open_), campaigns.c.expires_at > self.now)
             .order_by(campaigns.c.id.desc()).limit(limit))  # fmt: skip
        return [(_campaign(r), Place(r.seeker_lat, r.seeker_lng)) for r in await self.conn.execute(q)]

    async def set_nearby(self, person_id: int, place: Place) -> bool:
        """Opt a person in to "campaign near you" at a place (or move their place); True if new."""
        result = await self.conn.execute(update(campaign_nearby).where(campaign_nearby.c.person_id == person_id)
                                         .values(lat=place.lat, lng=place.lng))  # fmt: skip
        if result.rowcount:
            return False
        await self.conn.execute(campaign_nearby.insert().values(person_id=person_id, lat=place.lat, lng=place.lng,
                                                                since=self.now))  # fmt: skip
        return True

    async def clear_nearby(self, person_id: int) -> bool:
        """Opt a person out (their place is deleted); True if they were in."""
        return bool((await self.conn.execute(delete(campaign_nearby).where(campaign_nearby.c.person_id == person_id))).rowcount)

    async def nearby_place(self, person_id: int) -> Place | None:
        """Where an opted-in person wants to hear of campaigns, or None when they have not opted in."""
        row = (await self.conn.execute(select(campaign_nearby).where(campaign_nearby.c.person_id == person_id))).first()
        return Place(row.lat, row.lng) if row else None

    async def nearby_in_box(self, south: float, west: float, north: float, east: float, limit: int = 5000) -> list[tuple[int, Place]]:
        """Opted-in people whose place is inside a box (the caller checks the true distance)."""
        c = campaign_nearby.c
        q = select(campaign_nearby).where(c.lat.between(south, north), c.lng.between(west, east)).order_by(c.person_id)
        return [(int(r.person_id), Place(r.lat, r.lng)) for r in await self.conn.execute(q.limit(limit))]

    async def notice(self, campaign_id: int, person_id: int, kind: str) -> tuple[int, str] | None:
        """(told_seq, told_at) of what a person was last told about a campaign, or None."""
        c = campaign_notices.c
        row = (await self.conn.execute(select(c.told_seq, c.told_at).where(
            c.campaign_id == campaign_id, c.person_id == person_id, c.kind == kind))).first()  # fmt: skip
        return (int(row.told_seq), str(row.told_at)) if row else None

    async def notices_on(self, person_id: int, kind: str, day: str) -> int:
        """How many notices of a kind a person got on a day (for the daily cap)."""
        c = campaign_notices.c
        q = select(func.count()).where(c.person_id == person_id, c.kind == kind, c.day == day)
        return int((await self.conn.execute(q)).scalar_one())

    async def tell(self, campaign_id: int, person_id: int, kind: str, day: str, told_seq: int,
                   was: tuple[int, str] | None) -> bool:
        """Record that a person was told (up to gift `told_seq`), if nobody recorded it since `was`
        (read by `notice`); False means another run got there first: tell them nothing."""
        c = campaign_notices.c
        if was is None:
            exists = select(c.campaign_id).where(c.campaign_id == campaign_id, c.person_id == person_id, c.kind == kind)
            if (await self.conn.execute(exists)).first() is not None:
                return False
            await self.conn.execute(campaign_notices.insert().values(campaign_id=campaign_id, person_id=person_id,
                                                                     kind=kind, day=day, told_seq=told_seq,
                                                                     told_at=self.now))  # fmt: skip
            return True
        result = await self.conn.execute(update(campaign_notices).where(
            c.campaign_id == campaign_id, c.person_id == person_id, c.kind == kind, c.told_seq == was[0], c.told_at == was[1],
        ).values(day=day, told_seq=told_seq, told_at=self.now))  # fmt: skip
        return bool(result.rowcount)

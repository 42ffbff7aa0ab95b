"""The Campaign aggregate and its gifts: status changes only through the lifecycle table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.campaigns.lifecycle import CampaignStatus, target
from core.shared.events import CampaignTransitioned, DomainEvent


def campaign_account(campaign_id: int) -> str:
    """The ledger account that holds a campaign's contributions until its order is placed."""
    return f"campaign:{campaign_id}"


@dataclass(frozen=True)
class Place:
    """A point on the map (degrees)."""

    lat: float
    lng: float


@dataclass(frozen=True)
class Gift:
    """One person's contribution to a campaign."""

    id: int
    campaign_id: int
    seq: int  # 1, 2, … within the campaign: its ledger ref is campaign:<id>:g<seq>
    person_id: int  # who gave (recorded even when anonymous to others)
    amount: int  # paise
    anonymous: bool
    key: str  # idempotency key: the same key again is the same gift, never a second charge
    refunded: int = 0  # paise returned to the giver so far

    @property
    def held(self) -> int:
        """What of this gift has not been returned."""
        return self.amount - self.refunded


@dataclass
class Campaign:
    """Several donors funding one seeker's meal, from a share code to the delivered meal."""

    id: int
    code: str  # the share code people type after /give
    creator_id: int
    order_id: int  # the creator's screened order, placed when the target is met
    status: CampaignStatus
    restaurant_id: int
    item_id: int
    meal_name: str
    meal_price: int
    delivery_fee: int
    tip: int
    expires_at: str  # ISO-8601 UTC: created + the governed campaign_max_minutes
    created_at: str
    raised: int = 0  # paise given so far
    version: int = 0
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    @property
    def target(self) -> int:
        """What the campaign must raise in paise: meal + delivery fee + tip."""
        return self.meal_price + self.delivery_fee + self.tip

    @property
    def remaining(self) -> int:
        """What is still needed in paise."""
        return self.target - self.raised

    def move(self, transition: str, actor: str, **details: Any) -> None:
        """Apply a transition from the table, bump the version, record the event."""
        old = self.status
        self.status = target(self.id, transition, old)
        self.version += 1
        self.events.append(CampaignTransitioned(actor=actor, campaign_id=self.id, transition=transition,
                                                from_status=old.value, to_status=self.status.value,
                                                details=details))  # fmt: skip

"""The campaign lifecycle as one table of data: several donors fund one seeker's meal together."""

from __future__ import annotations

from enum import StrEnum


class CampaignStatus(StrEnum):
    """Where a campaign stands; stored as its readable value."""

    CREATED = "created"  # seeker screened, meal and target set, share code issued; nothing given yet
    FUNDING = "funding"  # at least one contribution, target not yet met
    THRESHOLD_MET = "threshold_met"  # the target is reached: the order is being placed
    ORDER_PLACED = "order_placed"  # the order is funded by every contribution and with a restaurant
    DELIVERED = "delivered"  # the seeker has the meal (or the worker could not find them)
    COMPLETED = "completed"  # the order settled; anything left returned to the contributors
    EXPIRED = "expired"  # the governed campaign_max_minutes passed short of the target: all refunded
    CANCELLED = "cancelled"  # the creator (or an admin) stopped it before the target: all refunded
    REFUNDED = "refunded"  # the placed order could not be completed (declined, cancelled, refunded)


INITIAL = CampaignStatus.CREATED

OPEN = (CampaignStatus.CREATED, CampaignStatus.FUNDING)

# transition name -> (allowed source states, target state)
TRANSITIONS: dict[str, tuple[tuple[CampaignStatus, ...], CampaignStatus]] = {
    "give": (OPEN, CampaignStatus.FUNDING),
    "meet": (OPEN, CampaignStatus.THRESHOLD_MET),
    "place": ((CampaignStatus.THRESHOLD_MET,), CampaignStatus.ORDER_PLACED),
    "deliver": ((CampaignStatus.ORDER_PLACED,), CampaignStatus.DELIVERED),
    "complete": ((CampaignStatus.DELIVERED,), CampaignStatus.COMPLETED),
    "expire": (OPEN, CampaignStatus.EXPIRED),
    "cancel": (OPEN, CampaignStatus.CANCELLED),
    # the order ended without a meal paid for: what came back to the campaign goes to the givers
    "fail": ((CampaignStatus.THRESHOLD_MET, CampaignStatus.ORDER_PLACED, CampaignStatus.DELIVERED), CampaignStatus.REFUNDED),
    # the order's dispute decision was overturned on appeal: the campaign follows where the money
    # went (the only exits from terminal states, CORRECTIONS; an appeal is decided once)
    "overturn_to_completed": ((CampaignStatus.REFUNDED,), CampaignStatus.COMPLETED),
    "overturn_to_refunded": ((CampaignStatus.COMPLETED,), CampaignStatus.REFUNDED),
}

CORRECTIONS = frozenset({"overturn_to_completed", "overturn_to_refunded"})

TERMINAL = frozenset({CampaignStatus.COMPLETED, CampaignStatus.EXPIRED, CampaignStatus.CANCELLED, CampaignStatus.REFUNDED})


class IllegalCampaignTransition(Exception):
    """Raised when a campaign transition is tried from a state that does not allow it."""

    def __init__(self, campaign_id: int, transition: str, status: CampaignStatus) -> None:
        super().__init__(f"campaign {campaign_id}: cannot {transition!r} from {status.value!r}")
        self.campaign_id, self.transition, self.status = campaign_id, transition, status


def target(campaign_id: int, transition: str, status: CampaignStatus) -> CampaignStatus:
    """Return the state a transition leads to from `status`, or raise IllegalCampaignTransition."""
    sources, to = TRANSITIONS[transition]
    if status not in sources:
        raise IllegalCampaignTransition(campaign_id, transition, status)
    return to

"""What a proposal may change: each governed parameter's unit and bounds, and the checks a change passes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from core.ledger.model import MAX_POSTING
from core.ledger.params import CEILINGS, MAX_INT32, PARAM_NAMES, Params


class Unit(StrEnum):
    """How a parameter is typed and shown."""

    PAISE = "paise"  # typed and shown in rupees
    BP = "bp"  # basis points, typed and shown as a percentage
    MINUTES = "minutes"
    HOURS = "hours"
    DAYS = "days"
    METRES = "metres"
    MEALS = "meals"
    COUNT = "count"


@dataclass(frozen=True)
class Spec:
    """A parameter's unit and the closed range a proposal may set it to."""

    unit: Unit
    low: int
    high: int


FEE_SHARES = ("worker_share_bp", "pool_share_bp", "infra_share_bp")
# The rules of voting itself: a change to them must meet the rules in force when it closes too.
VOTING_RULES = frozenset({"proposal_quorum_bp", "proposal_majority_bp", "voting_period_hours", "proposal_seconds"})

_PAISE = Spec(Unit.PAISE, 0, MAX_POSTING)  # fees and amounts may be zero, never negative
_SHARE = Spec(Unit.BP, 0, 10_000)
_THRESHOLD = Spec(Unit.BP, 1, 10_000)
_MINUTES = Spec(Unit.MINUTES, 1, 7 * 24 * 60)  # durations are positive and at most a week
_HOURS = Spec(Unit.HOURS, 1, 30 * 24)
SPECS: dict[str, Spec] = {
    "delivery_fee": _PAISE,
    "worker_share_bp": _SHARE,
    "pool_share_bp": _SHARE,
    "infra_share_bp": _SHARE,
    "daily_minimum": _PAISE,
    "safety_threshold_bp": _THRESHOLD,
    "duplicate_window_min": _MINUTES,
    "duplicate_radius_m": Spec(Unit.METRES, 1, 10_000),
    "face_match_threshold_bp": _THRESHOLD,
    "face_sure_bp": _THRESHOLD,  # and never below face_match_threshold_bp (Params.validate)
    "photo_retention_days": Spec(Unit.DAYS, 1, 365),
    "campaign_max_minutes": _MINUTES,
    "min_contribution": Spec(Unit.PAISE, 100, MAX_POSTING),
    "proposal_quorum_bp": _THRESHOLD,
    # A majority below half would let a minority pass what the majority refused.
    "proposal_majority_bp": Spec(Unit.BP, 5_000, 10_000),
    "voting_period_hours": _HOURS,
    "proposal_seconds": Spec(Unit.COUNT, 0, 100),
    "membership_fee": _PAISE,
    "restaurant_radius_m": Spec(Unit.METRES, 100, 100_000),
    "max_deposit": Spec(Unit.PAISE, 100, CEILINGS["max_deposit"]),
    "max_price": Spec(Unit.PAISE, 100, CEILINGS["max_price"]),
    "max_pledge": Spec(Unit.PAISE, 100, CEILINGS["max_pledge"]),
    "max_capacity": Spec(Unit.MEALS, 1, min(CEILINGS["max_capacity"], MAX_INT32)),
    "deposit_second_admin_above": Spec(Unit.PAISE, 100, MAX_POSTING),
    "dispute_window_min": _MINUTES,
    "appeal_window_hours": _HOURS,
    "restaurant_answer_min": _MINUTES,
    "claim_wait_min": _MINUTES,
    "claim_give_up_min": _MINUTES,
    "pickup_wait_min": _MINUTES,
    "delivery_wait_min": _MINUTES,
    "topup_min": Spec(Unit.PAISE, 100, MAX_POSTING),
    "payout_hour": Spec(Unit.COUNT, 0, 23),  # an hour of the day, India time
    "payout_minimum": _PAISE,
    "order_detail_days": Spec(Unit.DAYS, 1, 3_650),
    "message_log_days": Spec(Unit.DAYS, 1, 3_650),
    "card_fee_bp": Spec(Unit.BP, 0, 4_999),
    "card_fee_fixed": Spec(Unit.PAISE, 0, 10_000),
    "card_fee_bearer": Spec(Unit.COUNT, 0, 1),  # 0: the donor, 1: the infrastructure fund
    "card_hold_warn_hours": Spec(Unit.HOURS, 1, 167),  # Stripe lets a hold live 7 days
    "campaign_nearby_radius_m": Spec(Unit.METRES, 100, 100_000),
    # Zero turns the "campaign near you" messages off; more than 50 a day would be spam.
    "campaign_nearby_daily_cap": Spec(Unit.COUNT, 0, 50),
    "max_money_pledge": Spec(Unit.PAISE, 100, CEILINGS["max_money_pledge"]),
    "pledge_daily_cap_per_requester": _PAISE,  # ₹0 stops pledges paying for anyone's meals
}
assert set(SPECS) == set(PARAM_NAMES), "every governed parameter needs a spec"
# The order proposals list them in (the fee shares as one combined item).
PROPOSABLE: tuple[str, ...] = tuple(n for n in PARAM_NAMES if n not in FEE_SHARES[1:])


class ChangeRefused(ValueError):
    """A proposed change breaks a parameter's bounds or the parameters' consistency."""

    def __init__(self, code: str, name: str = "") -> None:
        super().__init__(f"{code}: {name}")
        self.code, self.name = code, name


def check_change(current: Params, changes: dict[str, int]) -> Params:
    """The parameters after a change, or ChangeRefused: unknown name, out of range, a share change
    that does not say how the other shares move, shares not summing to 100 %, an inconsistency."""
    if not changes:
        raise ChangeRefused("empty")
    for name, value in changes.items():
        spec = SPECS.get(name)
        if spec is None:
            raise ChangeRefused("unknown", name)
        if isinstance(value, bool) or not isinstance(value, int) or not spec.low <= value <= spec.high:
            raise ChangeRefused("out_of_range", name)
    touched = set(changes) & set(FEE_SHARES)
    if touched and touched != set(FEE_SHARES):
        raise ChangeRefused("shares_together")
    after = replace(current, **changes)
    if sum(after.fee_shares) != 10_000:
        raise ChangeRefused("shares_sum")
    try:
        after.validate()
    except ValueError as exc:
        raise ChangeRefused("inconsistent", str(exc)) from exc
    return after

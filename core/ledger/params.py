"""Governed parameters: their names, meanings and defaults (all integers)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from core.ledger.model import MAX_POSTING

# The capacity column is a 32-bit INTEGER.
MAX_INT32 = 2**31 - 1
CEILINGS: dict[str, int] = {"max_deposit": MAX_POSTING, "max_price": MAX_POSTING, "max_pledge": MAX_POSTING,
                            "max_money_pledge": MAX_POSTING, "max_capacity": MAX_INT32}  # fmt: skip


@dataclass(frozen=True)
class Params:
    """Current values of every governed parameter. Ratios are basis points (10000 = 100 %)."""

    delivery_fee: int = 3_000  # paise
    worker_share_bp: int = 8_000  # of the delivery fee
    pool_share_bp: int = 1_000  # to pool:guarantee
    infra_share_bp: int = 1_000  # to fund:infra
    daily_minimum: int = 50_000  # paise a worker who worked that day is topped up to
    safety_threshold_bp: int = 6_500  # score at or above which a location proceeds
    duplicate_window_min: int = 120
    duplicate_radius_m: int = 100
    # Two-stage duplicate check (core/seekers/face_decision.py). Chosen by the rule in
    # benchmarks/face_thresholds.py, not fitted: on the labelled photos and 7 altered copies of
    # each (crop, brighter, darker, rotated ±10°, JPEG q40, half size; 5,632 same-person and
    # 34,688 different-person pairs), different people scored at most 0.9352 (0.934 on 11 unseen
    # people, issue 18); the same person p2 0.9281, median 0.9608.
    # face_sure_bp = that different-person maximum + a 0.02 margin, rounded up: one photo refuses
    # only there. face_match_threshold_bp = the same-person p2, rounded down: in [it, face_sure_bp)
    # a second photo decides (a duplicate only if both match), never one comparison. Simulated on
    # the same set: 1.8 % of same-person requests missed, no different-person request refused.
    face_match_threshold_bp: int = 9_250  # cosine (dlib embeddings) where the uncertain band starts
    # (face_sure_bp is the last field: new fields go last, so /propose keeps its numbers)
    photo_retention_days: int = 30
    campaign_max_minutes: int = 120
    min_contribution: int = 1_000  # paise
    proposal_quorum_bp: int = 2_000  # of members who must vote
    proposal_majority_bp: int = 5_001  # of votes cast in favour
    voting_period_hours: int = 72
    proposal_seconds: int = 1  # other members who must second a proposal before it opens
    membership_fee: int = 0  # paise a donor pays into fund:infra to /join
    restaurant_radius_m: int = 5_000  # how far a donor's meal may come from
    # Ceilings on what one person can type into the system (a slip of the thumb or a hostile
    # number must not move lakhs of rupees or promise a million meals).
    max_deposit: int = 10_000_000  # paise (₹1,00,000): the most one recorded deposit may credit
    max_price: int = 200_000  # paise (₹2,000): the most one meal on an alms menu may cost
    max_pledge: int = 10_000_000  # paise (₹1,00,000): the most one campaign pledge may promise
    max_capacity: int = 1_000  # meals a day one restaurant may pledge
    max_money_pledge: int = 10_000_000  # paise (₹1,00,000): the most one /pledge may put aside (or renew)
    deposit_second_admin_above: int = 1_000_000  # paise: a larger deposit needs a second admin
    dispute_window_min: int = 30  # a delivered (or failed) order rests this long before it settles
    appeal_window_hours: int = 24  # a party may appeal a dispute's resolution this long after it
    # Stuck orders time out (core/orders/timeouts.py): minutes each stage may wait.
    restaurant_answer_min: int = 10  # no answer: treated as a rejection
    claim_wait_min: int = 20  # nobody claimed: offered to the neighbouring zones too
    claim_give_up_min: int = 60  # still nobody: the donor may cancel (asked again after as long)
    pickup_wait_min: int = 30  # claimed, not picked up: the worker is asked if still coming
    delivery_wait_min: int = 60  # picked up, not delivered: the worker and the admins are told
    # Money in by UPI and out to restaurants and workers (core/payments).
    topup_min: int = 1_000  # paise (₹10): the least one /topup may ask for (the most is max_deposit)
    payout_hour: int = 18  # hour of the day (India time) from which the daily payout runs
    payout_minimum: int = 10_000  # paise (₹100): a smaller settled balance waits for a later run
    # Retention (core/schedule/jobs.py): exact seeker coordinates are rounded to about 1 km after
    # order_detail_days; inbox/outbox messages (their bodies) are deleted after message_log_days.
    order_detail_days: int = 90
    message_log_days: int = 180
    # Card payments (core/payments): the processor's fee as it is estimated before paying (what
    # Stripe reports replaces it at capture), who bears it, and when an uncaptured hold is flagged.
    card_fee_bp: int = 290  # 2.9 % of the amount charged
    card_fee_fixed: int = 30  # paise (₹0.30) per charge
    card_fee_bearer: int = 0  # 0: the donor pays it on top (shown as a line); 1: fund:infra bears it
    card_hold_warn_hours: int = 144  # an authorisation this old on an unsettled order is flagged (Stripe's last 7 days)
    # The second stage of the duplicate check (see face_match_threshold_bp above).
    face_sure_bp: int = 9_600  # cosine at which one photo is enough to call it a duplicate
    # "Campaign near you" (flows/campaign_nearby.py): how far from an opted-in person a new
    # campaign's seeker may be, and how many such messages one person gets a day at most.
    campaign_nearby_radius_m: int = 3_000
    campaign_nearby_daily_cap: int = 3
    # Pledges (core/funding/pledges.py): the most pledge money the orders one person requests may
    # draw in a business day (India time), refunded ones included, so no one empties the pledges
    # near them; a pledge never pays for its own pledger's orders whatever this is.
    pledge_daily_cap_per_requester: int = 20_000  # paise (₹200): about two meals with delivery

    @property
    def fee_shares(self) -> tuple[int, int, int]:
        """(worker, pool, infra) shares of the delivery fee in basis points."""
        return self.worker_share_bp, self.pool_share_bp, self.infra_share_bp

    def validate(self) -> None:
        """Raise ValueError when the values are inconsistent."""
        if sum(self.fee_shares) != 10_000:
            raise ValueError("worker, pool and infra shares must add up to 10000 basis points")
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise ValueError(f"{f.name} may not be negative")
        if self.payout_hour > 23:
            raise ValueError("payout_hour must be an hour of the day, 0 to 23")
        if min(self.order_detail_days, self.message_log_days) < 1:
            raise ValueError("retention periods must be at least one day")
        for name, bound in CEILINGS.items():
            if not 1 <= getattr(self, name) <= bound:
                raise ValueError(f"{name} must be between 1 and {bound}")
        if not self.face_match_threshold_bp <= self.face_sure_bp <= 10_000:
            raise ValueError("face_match_threshold_bp <= face_sure_bp <= 10000")
        if self.card_fee_bearer not in (0, 1) or self.card_fee_bp >= 5_000:
            raise ValueError("card_fee_bearer is 0 (donor) or 1 (cooperative); card_fee_bp below 5000")


PARAM_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Params))

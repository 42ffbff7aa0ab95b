"""Governed parameters: their names, meanings and defaults (all integers)."""

from __future__ import annotations

from dataclasses import dataclass, fields


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
    face_match_threshold_bp: int = 9_300  # cosine similarity for dlib embeddings
    photo_retention_days: int = 30
    campaign_max_minutes: int = 120
    min_contribution: int = 1_000  # paise
    proposal_quorum_bp: int = 2_000  # of members who must vote
    proposal_majority_bp: int = 5_001  # of votes cast in favour
    voting_period_hours: int = 72
    restaurant_radius_m: int = 5_000  # how far a donor's meal may come from
    deposit_second_admin_above: int = 1_000_000  # paise: a larger deposit needs a second admin

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


PARAM_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Params))

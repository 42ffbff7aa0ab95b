"""A rating: one to five stars on one aspect of a settled order, and where its appeal stands."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Aspect(StrEnum):
    """What is rated, and so who is rated."""

    MEAL = "meal"  # by the donor: the restaurant
    DELIVERY = "delivery"  # by the donor: the worker
    PICKUP = "pickup"  # by the worker: the restaurant


SUBJECT = {Aspect.MEAL: "restaurant", Aspect.DELIVERY: "worker", Aspect.PICKUP: "restaurant"}


class RatingStatus(StrEnum):
    """Whether a rating counts."""

    ACTIVE = "active"  # counts
    APPEALED = "appealed"  # the rated person appealed; counts until an admin decides
    KEPT = "kept"  # the appeal was turned down; counts, and cannot be appealed again
    WITHDRAWN = "withdrawn"  # the appeal was upheld: it no longer counts


COUNTED = (RatingStatus.ACTIVE, RatingStatus.APPEALED, RatingStatus.KEPT)


@dataclass
class Rating:
    """One rating; `subject_id` is the restaurant's or the worker's id."""

    id: int
    order_id: int
    rater_id: int  # person id: never shown to the rated person
    aspect: Aspect
    subject_id: int
    stars: int
    created_at: str
    status: RatingStatus = RatingStatus.ACTIVE
    appeal_reason: str = ""
    decided_by: int | None = None
    version: int = 0
    comment: str = ""  # the rater's optional words, for the rated person and the admins (never in the chain)

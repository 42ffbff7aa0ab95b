"""Seeker screening interface and its values; the default screener passes and says so."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np  # only for the type of stored embeddings


@dataclass(frozen=True)
class ScreeningRequest:
    """What is known about a seeker when screening."""

    donor_id: int
    lat: float
    lng: float
    at: datetime
    photo_id: str | None
    order_id: int | None = None
    busy: str = "unknown"  # the donor's answers at the scene: yes | no | unknown
    lit: str = "unknown"


@dataclass(frozen=True)
class ScreeningResult:
    """A verdict: proceed, duplicate or unsafe, with details kept on the order."""

    verdict: str  # pass | duplicate | unsafe | retake (several faces: ask for a photo of one)
    method: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain form stored with the order and in its event."""
        return {"verdict": self.verdict, "method": self.method, **self.details}


class Screener(Protocol):
    """Duplicate-seeker and location-safety checks."""

    async def screen(self, request: ScreeningRequest) -> ScreeningResult:
        """Judge a seeker request."""


class PassThroughScreener:
    """Lets every request through and records that no real check ran."""

    async def screen(self, request: ScreeningRequest) -> ScreeningResult:
        """Pass, marked as unchecked."""
        return ScreeningResult("pass", "pass-through", {"checked": False})


@dataclass(frozen=True)
class Candidate:
    """A stored embedding near a place, with how far it is."""

    id: int
    order_id: int | None
    lat: float
    lng: float
    created_at: str
    distance_m: float
    embedding: np.ndarray

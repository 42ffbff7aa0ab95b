"""Seeker screening interface and its values; the default screener passes and says so."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np  # only for the type of stored embeddings

    from core.ports import UnitOfWork


@dataclass(frozen=True)
class ScreeningRequest:
    """What is known about a seeker when screening.

    order_id links the stored embedding and assessment to the order (so that a cancelled order
    does not block the seeker); busy and lit are the donor's answers at the scene (yes | no |
    unknown); photo may carry the bytes when the caller already has them.

    Second stage (after an "uncertain" verdict): second_photo_id is the donor's second photo of
    the same person, compared with the stored embedding as the first was; or review says why the
    face decision is left to people instead ("no_second_photo": the donor could not take one;
    "someone_else": the donor is sure a refused match is someone else), and the request passes
    marked for review."""

    donor_id: int
    lat: float
    lng: float
    at: datetime
    photo_id: str | None
    order_id: int | None = None
    busy: str = "unknown"
    lit: str = "unknown"
    photo: bytes | None = None
    second_photo_id: str | None = None
    review: str | None = None


class Verdict(StrEnum):
    """What screening decided; stored as its value with the order."""

    PASS = "pass"
    DUPLICATE = "duplicate"  # this seeker was fed recently nearby
    UNSAFE = "unsafe"  # the place is not safe enough for a worker now
    RETAKE = "retake"  # several faces: nothing was checked; ask for a photo of just the seeker
    UNCERTAIN = "uncertain"  # a lookalike in the uncertain band: ask for a second photo; no refusal


@dataclass(frozen=True)
class ScreeningResult:
    """A verdict with details kept on the order."""

    verdict: Verdict
    method: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain form stored with the order and in its event."""
        return {"verdict": str(self.verdict), "method": self.method, **self.details}


class Screener(Protocol):
    """Duplicate-seeker and location-safety checks."""

    async def screen(self, uow: UnitOfWork, request: ScreeningRequest) -> ScreeningResult:
        """Judge a seeker request."""

    def prefetch(self, photo_id: str) -> None:
        """Start any slow work on a stored seeker photo early (returns at once)."""


class PassThroughScreener:
    """Lets every request through and records that no real check ran."""

    async def screen(self, uow: UnitOfWork, request: ScreeningRequest) -> ScreeningResult:
        """Pass, marked as unchecked."""
        return ScreeningResult(Verdict.PASS, "pass-through", {"checked": False})

    def prefetch(self, photo_id: str) -> None:
        """Nothing to prepare."""


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

"""The two-stage duplicate decision on face embeddings (pure: vectors in, a decision out).

One comparison can be wrong: on eleven people the service had never seen, two strangers scored
0.933 and 0.934 against each other (issue 18). So a single photo refuses a meal only when its
match is far above anything measured between different people (`sure_bp`); a match in the
uncertain band [threshold_bp, sure_bp) asks the donor for a second photo, and the request is a
duplicate only if both photos match the same stored embedding at or above `threshold_bp`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from core.seekers.faces import normalise


class Outcome(StrEnum):
    """What the comparison decided; stored as its value with the screening."""

    NO_MATCH = "no_match"  # below the threshold (or nothing stored nearby): the order goes on
    SURE = "sure"  # one photo at or above sure_bp: a duplicate
    UNCERTAIN = "uncertain"  # in the band: ask for a second photo; never a refusal on its own
    BOTH_AGREE = "both_agree"  # both photos match the same stored face: a duplicate
    SECOND_DISAGREES = "second_disagrees"  # the second photo does not confirm it: the order goes on

    @property
    def duplicate(self) -> bool:
        """True when the request is refused as a duplicate."""
        return self in (Outcome.SURE, Outcome.BOTH_AGREE)


@dataclass(frozen=True)
class FaceDecision:
    """The outcome, which stored embedding it is about, and the two photos' scores (basis points)."""

    outcome: Outcome
    index: int | None = None
    similarity_bp: int | None = None
    second_similarity_bp: int | None = None


def _bp(value: float) -> int:
    return int(value * 10_000)  # truncated, so a score shown as ≥ a threshold really is


def decide(
    candidates: np.ndarray | Sequence[np.ndarray], first: np.ndarray, second: np.ndarray | None,
    threshold_bp: int, sure_bp: int,
) -> FaceDecision:  # fmt: skip
    """Decide on one photo (`second` None) or on two photos of the same person."""
    if len(candidates) == 0:
        return FaceDecision(Outcome.NO_MATCH)
    matrix = np.asarray(candidates, dtype=np.float32).reshape(len(candidates), -1)
    s1 = matrix @ normalise(first)
    best = int(np.argmax(s1))
    if s1[best] * 10_000 >= sure_bp:
        return FaceDecision(Outcome.SURE, best, _bp(s1[best]))
    if second is None:
        if s1[best] * 10_000 >= threshold_bp:
            return FaceDecision(Outcome.UNCERTAIN, best, _bp(s1[best]))
        return FaceDecision(Outcome.NO_MATCH, best, _bp(s1[best]))
    s2 = matrix @ normalise(second)
    if s2.max() * 10_000 >= sure_bp:  # the second photo alone is sure: as a first photo would be
        sure = int(np.argmax(s2))
        return FaceDecision(Outcome.SURE, sure, _bp(s1[sure]), _bp(s2[sure]))
    # Both photos must match the same stored face; of those that both match, the closest.
    both = np.minimum(s1, s2)
    agreed = int(np.argmax(both))
    if both[agreed] * 10_000 >= threshold_bp:
        return FaceDecision(Outcome.BOTH_AGREE, agreed, _bp(s1[agreed]), _bp(s2[agreed]))
    return FaceDecision(Outcome.SECOND_DISAGREES, best, _bp(s1[best]), _bp(s2[best]))

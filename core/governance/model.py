"""A proposal: what it would change, who seconded it, and how its vote stands."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ProposalStatus(StrEnum):
    """Where a proposal stands; stored as its value."""

    PENDING = "pending"  # waiting for seconds (lapses at closes_at without them)
    OPEN = "open"  # members vote until closes_at
    PASSED = "passed"  # quorum and majority met; a parameter change was applied at close
    REJECTED = "rejected"  # quorum or majority missed: nothing changed
    LAPSED = "lapsed"  # never seconded enough


ACTIVE = (ProposalStatus.PENDING, ProposalStatus.OPEN)


class VoteChoice(StrEnum):
    """A member's answer to a poll (the Telegram poll's options in this order)."""

    YES = "yes"
    NO = "no"
    ABSTAIN = "abstain"  # counts for turnout, not for the majority


POLL_ORDER = (VoteChoice.YES, VoteChoice.NO, VoteChoice.ABSTAIN)


@dataclass
class Proposal:
    """A change of governed parameters (or a text decision, `changes` empty) put to the members.

    The voting rules are fixed when it opens (members, quorum, majority), so a change made
    meanwhile does not move the goalposts of a vote already running."""

    id: int
    proposer_id: int
    changes: dict[str, int]
    decision: str  # the text of a text decision ("" for a parameter change)
    reason: str
    status: ProposalStatus
    created_at: str
    closes_at: str  # pending: when it lapses; open: when voting ends
    opened_at: str | None = None
    members_at_opening: int = 0
    quorum_bp: int = 0
    majority_bp: int = 0
    closed_at: str | None = None
    tally: dict[str, int] = field(default_factory=dict)
    version: int = 0
    # An appeal put to the members (no second admin): what they are asked, fixed when it opens:
    # {"dispute", "order", "from", "to", "reason", "meal", "fee", "tip"} (amounts in paise; no
    # names, phones, places or photos). Empty for every other proposal.
    appeal: dict[str, Any] = field(default_factory=dict)

    @property
    def is_text(self) -> bool:
        """A decision recorded without changing any parameter."""
        return not self.changes and not self.appeal

    @property
    def dispute_id(self) -> int | None:
        """The dispute whose appeal this vote decides, if it is one."""
        return int(self.appeal["dispute"]) if self.appeal else None


def passes(yes: int, no: int, abstain: int, members: int, quorum_bp: int, majority_bp: int) -> bool:
    """Turnout (abstentions included) at least the quorum of members, and yes above the majority of yes+no."""
    turnout = yes + no + abstain
    return members > 0 and turnout * 10_000 >= quorum_bp * members and yes * 10_000 > majority_bp * (yes + no)

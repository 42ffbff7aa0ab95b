"""A dispute about a delivered order: why it was raised, how an admin resolved it, who appealed."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Reason(StrEnum):
    """Why a party says the delivery went wrong."""

    NOT_DELIVERED = "not_delivered"
    WRONG_PERSON = "wrong_person"
    BAD_FOOD = "bad_food"
    UNSAFE = "unsafe"
    OTHER = "other"


class Resolution(StrEnum):
    """What an admin decides to do with the frozen escrow."""

    SETTLE = "settle"  # paid out as if there had been no dispute
    REFUND = "refund"  # everything back to the contributors
    SPLIT_MEAL = "split_meal"  # the restaurant gets the meal price, the rest goes back
    SPLIT_FEE = "split_fee"  # the worker gets the fee share and the tip, the meal goes back


class DisputeStatus(StrEnum):
    """Where a dispute stands; stored as its value."""

    OPEN = "open"  # escrow frozen, waiting for an admin
    RESOLVED = "resolved"  # money moved; parties may appeal within the window
    APPEALED = "appealed"  # a party appealed: waiting for a different admin (or the members' vote)
    FINAL = "final"  # the appeal was decided; nothing more can change


@dataclass
class Dispute:
    """One dispute per order; `tx_ids` are the ledger transactions of the decision now in force."""

    id: int
    order_id: int
    raised_by: int  # person id
    reason: Reason
    evidence: str
    status: DisputeStatus
    created_at: str
    resolution: Resolution | None = None
    resolved_by: int | None = None  # the admin of the first decision
    resolved_at: str | None = None
    note: str = ""
    tx_ids: list[int] = field(default_factory=list)
    appeals: list[int] = field(default_factory=list)  # person ids, each at most once
    appeal_resolution: Resolution | None = None
    appeal_resolved_by: int | None = None
    appeal_note: str = ""
    version: int = 0
    vote_id: int | None = None  # with no second admin, the members' vote (proposal id) deciding the appeal


class DisputeError(Exception):
    """A dispute command that cannot be carried out; `code` names why."""

    def __init__(self, code: str, ref: int | None = None, amount: int = 0) -> None:
        super().__init__(f"{code} ({ref})")
        self.code, self.ref, self.amount = code, ref, amount  # amount: paise, where the code needs one

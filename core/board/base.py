"""The job board: every open delivery job per zone, oldest first; atomic first-claim-wins."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Job:
    """An open delivery job as a worker sees it before claiming (no seeker photo or location)."""

    order_id: int
    zone: str  # geohash cell of the pickup
    posted_at: float  # epoch seconds; the board's ordering key
    payload: dict[str, Any] = field(default_factory=dict)  # restaurant, drop area, pay


@dataclass(frozen=True)
class BoardEntry:
    """A job on the board and who claimed it, if anyone."""

    job: Job
    claimed_by: int | None


@dataclass(frozen=True)
class ClaimResult:
    """Outcome of a claim: won, or lost to `winner` (None when the job is no longer there)."""

    order_id: int
    won: bool
    winner: int | None


class JobBoard(Protocol):
    """What every board backend offers; tests/test_board_contract.py holds them all to it.

    Transactions: a board is never part of the caller's unit of work. Each call takes effect at
    once and stays in effect if the caller's transaction then rolls back (Redis cannot do
    otherwise, and the SQL board is held to the same rule). Callers therefore post and remove
    after their commit (`uow.later`), undo a claim whose order could not follow (`release`),
    and `core.schedule.jobs.reconcile_board` repairs what a crash between the two left behind."""

    async def post(self, job: Job) -> None:
        """Put a job on the board (idempotent: posting twice keeps the first posting time)."""

    async def open_jobs(self, zones: Sequence[str]) -> list[Job]:
        """Every unclaimed job in these zones, oldest first, ties by order id."""

    async def claim(self, order_id: int, worker_id: int) -> ClaimResult:
        """Claim atomically: exactly one of any number of concurrent claims wins.

        The same worker claiming again is told they won (a double tap is harmless)."""

    async def release(self, order_id: int) -> None:
        """Reopen a claimed job (used when the order could not follow the claim)."""

    async def remove(self, order_id: int) -> None:
        """Take a job off the board (picked up, cancelled); idempotent."""

    async def entries(self) -> list[BoardEntry]:
        """Every job on the board, claimed or not (for reconciliation with orders)."""

    async def close(self) -> None:
        """Release connections."""

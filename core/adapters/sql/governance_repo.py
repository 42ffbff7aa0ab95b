"""Proposals, seconds and votes; ratings and their appeals."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.adapters.sql.governance_schema import proposal_seconds, proposals, ratings, votes
from core.adapters.sql.sqlhelpers import insert_ignore, is_postgres, new_id, upsert
from core.governance.model import ACTIVE, Proposal, ProposalStatus
from core.ratings.model import SUBJECT, Aspect, Rating, RatingStatus


def _proposal(row: Any) -> Proposal:
    return Proposal(
        row.id, row.proposer_id, json.loads(row.changes), row.decision, row.reason, ProposalStatus(row.status),
        row.created_at, row.closes_at, row.opened_at, row.members_at_opening, row.quorum_bp, row.majority_bp,
        row.closed_at, json.loads(row.tally), row.version, json.loads(row.appeal),
    )  # fmt: skip


class GovernanceRepo:
    """Proposals, seconds and votes."""

    def __init__(self, conn: AsyncConnection, now: str) -> None:
        self.conn, self.now = conn, now

    async def add(self, proposal: Proposal) -> Proposal:
        """Store a new proposal and give it its id."""
        values = {"proposer_id": proposal.proposer_id, "changes": json.dumps(proposal.changes, sort_keys=True),
                  "decision": proposal.decision, "reason": proposal.reason, "status": proposal.status.value,
                  "created_at": proposal.created_at, "closes_at": proposal.closes_at,
                  "appeal": json.dumps(proposal.appeal, sort_keys=True)}  # fmt: skip
        proposal.id = new_id(await self.conn.execute(proposals.insert().values(**values)))
        return proposal

    async def get(self, proposal_id: int, *, lock: bool = False) -> Proposal | None:
        """One proposal (row-locked on PostgreSQL when `lock`)."""
        q = select(proposals).where(proposals.c.id == proposal_id)
        if lock and is_postgres(self.conn):
            q = q.with_for_update()
        row = (await self.conn.execute(q)).first()
        return _proposal(row) if row else None

    async def save(self, proposal: Proposal, version: int) -> bool:
        """Write a changed proposal if nobody changed it since `version`; tell whether it was written."""
        values = {"status": proposal.status.value, "closes_at": proposal.closes_at, "opened_at": proposal.opened_at,
                  "members_at_opening": proposal.members_at_opening, "quorum_bp": proposal.quorum_bp,
                  "majority_bp": proposal.majority_bp, "closed_at": proposal.closed_at,
                  "tally": json.dumps(proposal.tally, sort_keys=True), "version": version + 1}  # fmt: skip
        stmt = update(proposals).where(proposals.c.id == proposal.id, proposals.c.version == version).values(**values)
        result = await self.conn.execute(stmt.execution_options(preserve_rowcount=True))
        proposal.version = version + 1
        return result.rowcount == 1

    async def active(self) -> list[Proposal]:
        """Proposals waiting for seconds or open for voting, oldest first."""
        q = select(proposals).where(proposals.c.status.in_([s.value for s in ACTIVE])).order_by(proposals.c.id)
        return [_proposal(r) for r in await self.conn.execute(q)]

    async def recent(self, limit: int = 10) -> list[Proposal]:
        """The newest proposals, whatever their status, newest first."""
        q = select(proposals).order_by(proposals.c.id.desc()).limit(limit)
        return [_proposal(r) for r in await self.conn.execute(q)]

    async def mark_pool_short_told(self, proposal_id: int, amount: int) -> bool:
        """Remember the admins were told a passed appeal vote waits for the pool; False if they already were."""
        q = (update(proposals).where(proposals.c.id == proposal_id, proposals.c.pool_short_told.is_(None))
             .values(pool_short_told=amount))  # fmt: skip
        return (await self.conn.execute(q.execution_options(preserve_rowcount=True))).rowcount == 1

    async def set_polls_stop_pending(self, proposal_id: int, pending: bool) -> None:
        """Mark a closed proposal's native polls as still to stop (or stopped)."""
        await self.conn.execute(update(proposals).where(proposals.c.id == proposal_id).values(polls_stop_pending=pending))

    async def polls_stop_pending(self, limit: int = 100) -> list[int]:
        """Closed proposals whose native polls are still to stop, oldest first."""
        q = select(proposals.c.id).where(proposals.c.polls_stop_pending.is_(True)).order_by(proposals.c.id).limit(limit)
        return [int(i) for (i,) in await self.conn.execute(q)]

    async def due(self, now: str, limit: int = 500) -> list[int]:
        """Active proposals whose time is up (voting ended, or seconds never came), oldest first."""
        q = select(proposals.c.id).where(proposals.c.status.in_([s.value for s in ACTIVE]),
                                         proposals.c.closes_at <= now).order_by(proposals.c.id).limit(limit)  # fmt: skip
        return [int(i) for (i,) in await self.conn.execute(q)]

    async def passed_setting(self, names: Collection[str]) -> dict[str, int]:
        """For each parameter, the newest passed proposal that changed it (for /rules)."""
        q = select(proposals.c.id, proposals.c.changes).where(proposals.c.status == ProposalStatus.PASSED.value)
        found: dict[str, int] = {}
        for pid, changes in await self.conn.execute(q.order_by(proposals.c.id)):
            for name in json.loads(changes):
                if name in names:
                    found[name] = int(pid)
        return found

    async def add_second(self, proposal_id: int, person_id: int) -> bool:
        """Record a member's second once; False if they had seconded already."""
        values = {"proposal_id": proposal_id, "person_id": person_id, "seconded_at": self.now}
        return await insert_ignore(self.conn, proposal_seconds, values, ["proposal_id", "person_id"])

    async def seconds(self, proposal_id: int) -> int:
        """How many members seconded a proposal."""
        q = select(func.count()).select_from(proposal_seconds).where(proposal_seconds.c.proposal_id == proposal_id)
        return int((await self.conn.execute(q)).scalar_one())

    async def vote_of(self, proposal_id: int, person_id: int) -> tuple[str, str] | None:
        """A member's current vote on a proposal and the channel it came by, if any."""
        q = select(votes.c.choice, votes.c.channel).where(votes.c.proposal_id == proposal_id, votes.c.person_id == person_id)
        row = (await self.conn.execute(q)).first()
        return (str(row.choice), str(row.channel)) if row else None

    async def cast(self, proposal_id: int, person_id: int, choice: str, channel: str) -> None:
        """Record a member's vote, replacing any earlier one (one member, one vote)."""
        values = {"proposal_id": proposal_id, "person_id": person_id, "choice": choice, "channel": channel,
                  "cast_at": self.now}  # fmt: skip
        await upsert(self.conn, votes, values, ["proposal_id", "person_id"], ["choice", "channel", "cast_at"])

    async def tally(self, proposal_id: int) -> dict[str, int]:
        """Votes per choice on a proposal."""
        q = select(votes.c.choice, func.count()).where(votes.c.proposal_id == proposal_id).group_by(votes.c.choice)
        return {str(c): int(n) for c, n in await self.conn.execute(q)}


def _rating(row: Any) -> Rating:
    return Rating(row.id, row.order_id, row.rater_id, Aspect(row.aspect), row.subject_id, row.stars, row.created_at,
                  RatingStatus(row.status), row.appeal_reason, row.decided_by, row.version, row.comment)  # fmt: skip


class RatingRepo:
    """Ratings of settled orders, one per order, rater and aspect."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, rating: Rating) -> bool:
        """Store a new rating (its id is set); False when this rater already rated this aspect."""
        values = {"order_id": rating.order_id, "rater_id": rating.rater_id, "aspect": rating.aspect.value,
                  "subject": SUBJECT[rating.aspect], "subject_id": rating.subject_id, "stars": rating.stars,
                  "created_at": rating.created_at, "status": rating.status.value}  # fmt: skip
        if not await insert_ignore(self.conn, ratings, values, ["order_id", "rater_id", "aspect"]):
            return False
        q = select(ratings.c.id).where(ratings.c.order_id == rating.order_id, ratings.c.rater_id == rating.rater_id,
                                       ratings.c.aspect == rating.aspect.value)  # fmt: skip
        rating.id = int((await self.conn.execute(q)).scalar_one())
        return True

    async def get(self, rating_id: int) -> Rating | None:
        """One rating."""
        row = (await self.conn.execute(select(ratings).where(ratings.c.id == rating_id))).first()
        return _rating(row) if row else None

    async def about(self, subject: str, subject_id: int) -> list[Rating]:
        """Every rating of a restaurant or a worker, oldest first."""
        q = select(ratings).where(ratings.c.subject == subject, ratings.c.subject_id == subject_id).order_by(ratings.c.id)
        return [_rating(r) for r in await self.conn.execute(q)]

    async def save(self, rating: Rating, version: int) -> bool:
        """Write an appeal or a decision if nobody changed the rating since `version`."""
        values = {"status": rating.status.value, "appeal_reason": rating.appeal_reason, "decided_by": rating.decided_by,
                  "version": version + 1}  # fmt: skip
        stmt = update(ratings).where(ratings.c.id == rating.id, ratings.c.version == version).values(**values)
        result = await self.conn.execute(stmt.execution_options(preserve_rowcount=True))
        rating.version = version + 1
        return result.rowcount == 1

    async def add_comment(self, rating_id: int, rater_id: int, comment: str) -> bool:
        """Store the rater's comment once; False when the rating is not theirs or already has one."""
        stmt = update(ratings).where(ratings.c.id == rating_id, ratings.c.rater_id == rater_id,
                                     ratings.c.comment == "").values(comment=comment)  # fmt: skip
        result = await self.conn.execute(stmt.execution_options(preserve_rowcount=True))
        return result.rowcount == 1

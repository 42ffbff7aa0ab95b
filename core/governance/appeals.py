"""An appeal with no second admin to decide it goes to the members: a yes/no vote on changing
the decision, through the same proposals, polls, quorum and majority as any other; the close
job applies a passed vote's outcome by itself (source proposal:N), a failed one lets it stand."""

from __future__ import annotations

import logging

from core.governance import service as governance
from core.governance.model import Proposal, ProposalStatus, VoteChoice, passes
from core.members.model import Person
from core.orders import disputes
from core.orders.dispute_model import DisputeError, DisputeStatus, Resolution
from core.orders.model import ConcurrentUpdate
from core.ports import UnitOfWork
from core.shared.events import AppealPutToVote, AppealVoteWaitsForPool

log = logging.getLogger(__name__)


async def put_to_vote(uow: UnitOfWork, dispute_id: int, person: Person, wanted: Resolution) -> Proposal:
    """A party appeals a decision that no second admin can decide: record the appeal and open a
    members' vote on changing the outcome to `wanted` (DisputeError if it cannot be appealed)."""
    dispute = await uow.disputes.get(dispute_id, lock=True)
    if dispute is None:
        raise DisputeError("no_dispute", dispute_id)
    order = await uow.orders.get(dispute.order_id, lock=True)
    assert order is not None, f"dispute {dispute_id} without its order"
    await disputes.check_can_appeal(uow, dispute, order, person)  # every refusal before anything is written
    if dispute.status is not DisputeStatus.RESOLVED or dispute.vote_id is not None:
        raise DisputeError("already_appealed_by_other", dispute_id)  # the first appeal set the question
    if wanted is dispute.resolution or dispute.resolution is None:
        raise DisputeError("same_outcome", dispute_id)
    if await disputes.second_admins(uow, order, dispute):
        raise DisputeError("admin_available", dispute_id)
    # What members are shown: the order number, the outcomes, the reason's category and the
    # amounts; never names, phones, places, photos or anyone's own words (DESIGN.md, privacy).
    appeal = {"dispute": dispute.id, "order": order.id, "from": dispute.resolution.value, "to": wanted.value,
              "reason": dispute.reason.value, "meal": order.meal_price, "fee": order.delivery_fee, "tip": order.tip}  # fmt: skip
    proposal = await uow.governance.add(Proposal(0, person.id, {}, "", "", ProposalStatus.PENDING, uow.now, uow.now,
                                                 appeal=appeal))  # fmt: skip
    dispute = await disputes.appeal(uow, dispute_id, person)
    version = dispute.version
    dispute.vote_id = proposal.id
    if not await uow.disputes.save(dispute, version):
        raise ConcurrentUpdate(f"dispute {dispute_id} changed meanwhile")  # not a refusal: the whole step rolls back
    uow.record(AppealPutToVote(actor=person.actor, dispute_id=dispute.id, order_id=order.id, person_id=person.id,
                               proposal_id=proposal.id, decided=str(appeal["from"]), asked=wanted.value))  # fmt: skip
    await governance.open_now(uow, proposal)
    return proposal


async def close(uow: UnitOfWork, proposal_id: int) -> Proposal | None:
    """Close a proposal whose time is up (core/governance/service.py); an appeal's vote then
    applies its outcome. A passed appeal the guarantee pool cannot yet cover is left open, with
    no money moved, and decided again at the next run; the admins are told once how much is short."""
    proposal = await uow.governance.get(proposal_id, lock=True)
    if proposal is not None and proposal.dispute_id is not None and await _passing(uow, proposal):
        try:
            await disputes.check_reversible(uow, proposal.dispute_id)
        except DisputeError as exc:
            if exc.code != "pool_short":
                raise
            log.warning("appeal vote %s passed but the pool is %s paise short; retried later", proposal_id, exc.amount)
            # The admins hear it once (the pool fills by members' decisions, not by waiting), not every minute.
            if await uow.governance.mark_pool_short_told(proposal_id, exc.amount):
                uow.record(AppealVoteWaitsForPool(actor="scheduler", proposal_id=proposal_id,
                                                  dispute_id=proposal.dispute_id, short=exc.amount))  # fmt: skip
            return None
    closed = await governance.close(uow, proposal_id)
    if closed is not None and closed.dispute_id is not None:
        outcome = closed.appeal["to"] if closed.status is ProposalStatus.PASSED else closed.appeal["from"]
        await disputes.decide_by_vote(uow, closed.dispute_id, closed.id, Resolution(outcome))
    return closed


async def _passing(uow: UnitOfWork, proposal: Proposal) -> bool:
    """Whether an open vote, due now, would pass on its current tally."""
    if proposal.status is not ProposalStatus.OPEN or proposal.closes_at > uow.now:
        return False
    tally = await uow.governance.tally(proposal.id)
    yes, no, abstain = (tally.get(c.value, 0) for c in (VoteChoice.YES, VoteChoice.NO, VoteChoice.ABSTAIN))
    return passes(yes, no, abstain, proposal.members_at_opening, proposal.quorum_bp, proposal.majority_bp)

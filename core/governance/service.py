"""Governance commands: join and leave, propose, second, vote, and the close that applies a passed change.

Only members propose, second and vote (`Person.is_member`, read fresh from the database);
approved restaurants and workers are members, donors by /join. Each step is a chain event."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.governance.model import ACTIVE, Proposal, ProposalStatus, VoteChoice, passes
from core.governance.rules import VOTING_RULES, ChangeRefused, check_change
from core.ledger.commitments import commit, new_salt
from core.ledger.model import INFRA, InsufficientFunds, donor_account, transfer
from core.members.model import Approval, Person
from core.ports import UnitOfWork
from core.shared.events import (
    MemberJoined,
    MemberLeft,
    ProposalClosed,
    ProposalExecuted,
    ProposalMade,
    ProposalOpened,
    ProposalSeconded,
    VoteCast,
)

REASON_MAX = 500  # characters of a proposal's reason (and of a text decision)


class GovernanceError(Exception):
    """A governance command refused, with a code the flows put into words."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code, self.detail = code, detail


async def is_member(uow: UnitOfWork, person_id: int) -> bool:
    """Whether a person is a member now (the stored flag, not a copy read earlier)."""
    person = await uow.people.get(person_id)
    return person is not None and person.is_member


async def _require_member(uow: UnitOfWork, person: Person) -> None:
    if not await is_member(uow, person.id):
        raise GovernanceError("not_member")


async def role_of(uow: UnitOfWork, person_id: int) -> str:
    """A member's role for /members: restaurant, worker or donor."""
    r = await uow.restaurants.by_person(person_id)
    if r is not None and r.status is Approval.APPROVED:
        return "restaurant"
    w = await uow.workers.by_person(person_id)
    return "worker" if w is not None and w.status is Approval.APPROVED else "donor"


async def member_counts(uow: UnitOfWork) -> dict[str, int]:
    """How many members there are of each role."""
    counts = {"restaurant": 0, "worker": 0, "donor": 0}
    for member in await uow.people.members():
        counts[await role_of(uow, member.id)] += 1
    return counts


async def join(uow: UnitOfWork, person: Person) -> int:
    """Make a person a member, charging the governed membership fee from their balance; return the fee."""
    if await is_member(uow, person.id):
        raise GovernanceError("already_member")
    fee = (await uow.params.current()).membership_fee
    if fee > 0:
        try:
            await uow.ledger.record(transfer("membership", f"{person.id}:{uow.now}", donor_account(person.id), INFRA, fee,
                                             "membership fee"), person.actor)  # fmt: skip
        except InsufficientFunds as exc:
            raise GovernanceError("fee_unpaid") from exc
    await uow.people.set_flags(person.id, is_member=True)
    uow.record(MemberJoined(actor=person.actor, person_id=person.id, fee=fee))
    return fee


async def leave(uow: UnitOfWork, person: Person) -> None:
    """End a person's membership (votes already cast stay in the books)."""
    await _require_member(uow, person)
    await uow.people.set_flags(person.id, is_member=False)
    uow.record(MemberLeft(actor=person.actor, person_id=person.id))


def _later(at: datetime, hours: int) -> str:
    return (at + timedelta(hours=hours)).isoformat()


async def propose(uow: UnitOfWork, person: Person, changes: dict[str, int], reason: str, decision: str = "") -> Proposal:
    """Put a parameter change (or, with no changes, a text decision) to the members."""
    await _require_member(uow, person)
    reason, decision = reason.strip(), decision.strip()
    if not 0 < len(reason) <= REASON_MAX or len(decision) > REASON_MAX or (not changes and not decision):
        raise GovernanceError("bad_text")
    params = await uow.params.current()
    if changes:
        try:
            check_change(params, changes)
        except ChangeRefused as exc:
            raise GovernanceError(exc.code, exc.name) from exc
        busy = {n for p in await uow.governance.active() for n in p.changes}
        if busy & set(changes):
            raise GovernanceError("already_proposed", sorted(busy & set(changes))[0])
    proposal = await uow.governance.add(Proposal(
        0, person.id, dict(changes), decision, reason, ProposalStatus.PENDING, uow.now,
        _later(uow.at, params.voting_period_hours),  # unseconded by then: it lapses
    ))  # fmt: skip
    # A salted commitment, not a bare hash: a short reason could be guessed from a bare hash, and
    # deleting the salt (with /forget) must leave the words unrecoverable from the chain.
    salt = new_salt()
    await uow.commitments.add(f"proposal:{proposal.id}:text", salt)
    uow.record(ProposalMade(actor=person.actor, proposal_id=proposal.id, person_id=person.id, changes=dict(changes),
                            reason_commit=commit(f"{decision}\n{reason}", salt),
                            seconds_needed=params.proposal_seconds))  # fmt: skip
    if params.proposal_seconds == 0:
        await _open(uow, proposal)
    return proposal


async def second(uow: UnitOfWork, person: Person, proposal_id: int) -> Proposal:
    """A member (not the proposer) seconds a proposal; enough seconds open it for voting."""
    await _require_member(uow, person)
    proposal = await uow.governance.get(proposal_id, lock=True)
    if proposal is None:
        raise GovernanceError("not_found")
    if proposal.proposer_id == person.id:
        raise GovernanceError("own_proposal")
    if proposal.status is not ProposalStatus.PENDING or proposal.closes_at <= uow.now:
        raise GovernanceError("not_pending", proposal.status.value)
    if not await uow.governance.add_second(proposal.id, person.id):
        raise GovernanceError("already_seconded")
    count = await uow.governance.seconds(proposal.id)
    uow.record(ProposalSeconded(actor=person.actor, proposal_id=proposal.id, person_id=person.id, seconds=count))
    if count >= (await uow.params.current()).proposal_seconds:
        await _open(uow, proposal)
    return proposal


async def open_now(uow: UnitOfWork, proposal: Proposal) -> None:
    """Open a proposal for voting at once (an appeal's vote needs no seconds)."""
    await _open(uow, proposal)


async def _open(uow: UnitOfWork, proposal: Proposal) -> None:
    """Open for the voting period, fixing the members counted and the rules it is decided by."""
    params = await uow.params.current()
    version = proposal.version
    proposal.status, proposal.opened_at = ProposalStatus.OPEN, uow.now
    proposal.closes_at = _later(uow.at, params.voting_period_hours)
    proposal.members_at_opening = len(await uow.people.members())
    proposal.quorum_bp, proposal.majority_bp = params.proposal_quorum_bp, params.proposal_majority_bp
    if not await uow.governance.save(proposal, version):
        raise GovernanceError("busy")
    uow.record(ProposalOpened(proposal_id=proposal.id, members=proposal.members_at_opening, quorum_bp=proposal.quorum_bp,
                              majority_bp=proposal.majority_bp, closes_at=proposal.closes_at))  # fmt: skip


async def vote(uow: UnitOfWork, person: Person, proposal_id: int, choice: VoteChoice | None, channel: str) -> str | None:
    """Record a member's vote (None: withdraw it, as a retracted Telegram poll answer does);
    a later vote replaces the earlier. Return the vote replaced, if any."""
    await _require_member(uow, person)
    proposal = await uow.governance.get(proposal_id)
    if proposal is None:
        raise GovernanceError("not_found")
    if proposal.status is ProposalStatus.PENDING:
        raise GovernanceError("not_open")
    if proposal.status is not ProposalStatus.OPEN or proposal.closes_at <= uow.now:
        raise GovernanceError("closed")
    earlier = await uow.governance.vote_of(proposal.id, person.id)
    said = choice.value if choice else "withdrawn"
    await uow.governance.cast(proposal.id, person.id, said, channel)
    uow.record(VoteCast(actor=person.actor, proposal_id=proposal.id, person_id=person.id, choice=said, channel=channel,
                        replaced=earlier[0] if earlier else None))  # fmt: skip
    return earlier[0] if earlier else None


async def close(uow: UnitOfWork, proposal_id: int) -> Proposal | None:
    """Decide a proposal whose time is up, once: lapse it, or count the votes and apply a
    passed change (`source=proposal:N`); None when it is not due or was decided already."""
    proposal = await uow.governance.get(proposal_id, lock=True)
    if proposal is None or proposal.status not in ACTIVE or proposal.closes_at > uow.now:
        return None
    version = proposal.version
    tally = await uow.governance.tally(proposal.id)
    yes, no, abstain = (tally.get(c.value, 0) for c in (VoteChoice.YES, VoteChoice.NO, VoteChoice.ABSTAIN))
    why = ""
    if proposal.status is ProposalStatus.PENDING:
        proposal.status, why = ProposalStatus.LAPSED, "seconds"
    else:
        members = proposal.members_at_opening
        ok = passes(yes, no, abstain, members, proposal.quorum_bp, proposal.majority_bp)
        why = "" if ok else ("quorum" if (yes + no + abstain) * 10_000 < proposal.quorum_bp * members else "majority")
        if ok and set(proposal.changes) & VOTING_RULES:
            # The rules of voting change only by a vote that also meets the rules in force now.
            now = await uow.params.current()
            if not passes(yes, no, abstain, len(await uow.people.members()), now.proposal_quorum_bp, now.proposal_majority_bp):
                ok, why = False, "rules"
        proposal.status = ProposalStatus.PASSED if ok else ProposalStatus.REJECTED
    proposal.closed_at = uow.now
    proposal.tally = {"yes": yes, "no": no, "abstain": abstain}
    if not await uow.governance.save(proposal, version):
        return None  # another process decided it meanwhile
    uow.record(ProposalClosed(actor="scheduler", proposal_id=proposal.id, outcome=proposal.status.value, yes=yes, no=no,
                              abstain=abstain, members=proposal.members_at_opening, why=why))  # fmt: skip
    if proposal.status is ProposalStatus.PASSED and proposal.changes:
        await _execute(uow, proposal)
    return proposal


async def _execute(uow: UnitOfWork, proposal: Proposal) -> None:
    """Apply a passed change from this moment; if the parameters moved meanwhile so that it no
    longer fits, it is recorded as passed but not applied (the chain says why)."""
    try:
        check_change(await uow.params.current(), proposal.changes)
    except ChangeRefused as exc:
        uow.record(ProposalExecuted(actor="scheduler", proposal_id=proposal.id, changes=dict(proposal.changes),
                                    applied=False, why=exc.code))  # fmt: skip
        return
    await uow.params.change_many(proposal.changes, f"proposal:{proposal.id}")
    uow.record(ProposalExecuted(actor="scheduler", proposal_id=proposal.id, changes=dict(proposal.changes)))

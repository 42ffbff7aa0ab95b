"""Tell the members about proposals: a Second button, then a poll on every channel, then the result."""

from __future__ import annotations

from core.governance.model import POLL_ORDER, Proposal
from core.ledger.params import Params
from core.members.model import Person
from core.ports import UnitOfWork
from core.shared.bus import MessageBus
from core.shared.events import DomainEvent, ProposalClosed, ProposalMade, ProposalOpened
from flows.context import deliver_to
from flows.dispute_text import appeal_facts
from flows.governance_text import change_text, choice_label, when
from flows.i18n import plural, translator
from flows.messages import Choice, Outbound, Poll


async def _proposal(uow: UnitOfWork, proposal_id: int) -> Proposal:
    proposal = await uow.governance.get(proposal_id)
    assert proposal is not None, f"proposal {proposal_id} vanished inside its own transaction"
    return proposal


async def on_proposal_made(event: DomainEvent, uow: UnitOfWork) -> None:
    """Ask every other member to second a new proposal (unless it opens at once)."""
    assert isinstance(event, ProposalMade)
    if event.seconds_needed == 0:
        return
    proposal = await _proposal(uow, event.proposal_id)
    proposer = await uow.people.get(proposal.proposer_id)
    params = await uow.params.current()
    for member in await uow.people.members():
        if member.id == proposal.proposer_id:
            continue
        _ = translator(member.language, member.channel)
        text = _("Proposal #{id} by {name}: {change}. Reason: {reason}.").format(
            id=proposal.id, name=proposer.display_name if proposer else "-", reason=proposal.reason.rstrip(". "),
            change=change_text(_, proposal, params, member.language))  # fmt: skip
        text += " " + plural(member.language, "It opens for voting once {n} member seconds it.",
                             "It opens for voting once {n} members second it.", event.seconds_needed).format(n=event.seconds_needed)
        await deliver_to(uow, member, Outbound(text, (Choice(_("Second"), f"second:{proposal.id}"),),
                                               meta={"proposal": proposal.id}))  # fmt: skip


def vote_message(member: Person, proposal: Proposal, params: Params) -> Outbound:
    """The poll as one neutral message: buttons (web chat, WhatsApp quick replies, numbers on SMS)
    and a poll (a native non-anonymous poll on Telegram, which shows it instead of the buttons)."""
    _, lang = translator(member.language, member.channel), member.language
    change = change_text(_, proposal, params, lang)
    if proposal.appeal:  # a party's appeal with no second admin to decide it
        text = " ".join((
            _("Vote on proposal #{id}, an appeal no second admin could decide: {question}?").format(id=proposal.id, question=change),
            appeal_facts(_, proposal.appeal, lang),
            _("Voting closes {when}; you can change your vote until then. Votes are recorded in the books by name.").format(
                when=when(proposal.closes_at, lang)),
        ))  # fmt: skip
    else:
        text = _("Vote on proposal #{id}: {change}. Reason: {reason}. Voting closes {when}. Votes are recorded in the "
                 "books by name; you can change yours until then.").format(
            id=proposal.id, change=change, reason=proposal.reason.rstrip(". "), when=when(proposal.closes_at, lang))  # fmt: skip
    labels = [choice_label(_, c) for c in POLL_ORDER]
    choices = tuple(Choice(label, f"vote:{proposal.id}:{c.value}") for label, c in zip(labels, POLL_ORDER, strict=True))
    poll = Poll(_("Proposal #{id}: {change}?").format(id=proposal.id, change=change), tuple(labels), f"proposal:{proposal.id}")
    return Outbound(text, choices, poll=poll, meta={"proposal": proposal.id})


async def on_proposal_opened(event: DomainEvent, uow: UnitOfWork) -> None:
    """Withdraw the Second buttons and send every member the poll."""
    assert isinstance(event, ProposalOpened)
    proposal = await _proposal(uow, event.proposal_id)
    await uow.prompts.withdraw(f"proposal:{proposal.id}")
    params = await uow.params.current()
    for member in await uow.people.members():
        await deliver_to(uow, member, vote_message(member, proposal, params))


async def on_proposal_closed(event: DomainEvent, uow: UnitOfWork) -> None:
    """Close the polls and give every member the result with the tally (a lapsed one: its proposer)."""
    assert isinstance(event, ProposalClosed)
    proposal = await _proposal(uow, event.proposal_id)
    await uow.prompts.withdraw(f"proposal:{proposal.id}")
    if event.outcome == "lapsed":
        if proposer := await uow.people.get(proposal.proposer_id):
            _ = translator(proposer.language, proposer.channel)
            await deliver_to(uow, proposer, Outbound(_("Proposal #{id} lapsed: not enough members seconded it.").format(
                id=proposal.id)))
        return
    for member in await uow.people.members():
        _, lang = translator(member.language, member.channel), member.language
        change = change_text(_, proposal, None, lang)
        if event.outcome == "passed":
            text = _("Proposal #{id} passed: {change}.").format(id=proposal.id, change=change)
            if proposal.changes:
                text += " " + _("In force from {when}.").format(when=when(proposal.closed_at or uow.now, lang))
        else:
            why = {"quorum": _("too few members voted"), "majority": _("not enough yes votes"),
                   "rules": _("it did not meet the voting rules in force now")}.get(event.why, "")  # fmt: skip
            text = _("Proposal #{id} did not pass ({why}): {change}. Nothing changes.").format(
                id=proposal.id, why=why, change=change)
        text += " " + _("Yes {yes}, no {no}, abstain {abstain}, of {members} members.").format(
            yes=event.yes, no=event.no, abstain=event.abstain, members=event.members)
        await deliver_to(uow, member, Outbound(text))


def register(bus: MessageBus) -> None:
    """Subscribe the governance notifications."""
    bus.on(ProposalMade, on_proposal_made)
    bus.on(ProposalOpened, on_proposal_opened)
    bus.on(ProposalClosed, on_proposal_closed)

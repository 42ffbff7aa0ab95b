"""The cooperative governs itself by chat: /join, /leave, /members, /propose, Second, votes, /proposals, /rules."""

from __future__ import annotations

from core.governance import service as governance
from core.governance.model import POLL_ORDER, ProposalStatus, VoteChoice
from core.governance.rules import FEE_SHARES, PROPOSABLE, SPECS, ChangeRefused, Unit, check_change
from core.governance.service import REASON_MAX, GovernanceError
from flows.common import payload_args, payload_int
from flows.context import FlowContext
from flows.governance_text import (
    SHARES,
    change_text,
    choice_label,
    current_text,
    param_label,
    read_shares,
    read_value,
    value_text,
    when,
)
from flows.i18n import Translator, money, plural
from flows.messages import Choice, Inbound
from flows.numbers import MAX_ID, read_int
from flows.steps import Step

ITEMS: tuple[str, ...] = tuple(SHARES if n == FEE_SHARES[0] else n for n in PROPOSABLE)


def refused(_: Translator, code: str) -> str:
    """Why a governance step was refused, in words."""
    return {
        "not_member": _("Only members of the cooperative can do that. Send /join to become a member."),
        "already_member": _("You are already a member."),
        "fee_unpaid": _("Your balance does not cover the membership fee."),
        "not_found": _("There is no such proposal."),
        "own_proposal": _("You cannot second your own proposal."),
        "not_pending": _("That proposal is no longer waiting for seconds."),
        "already_seconded": _("You have already seconded that proposal."),
        "not_open": _("That proposal is not open for voting yet."),
        "closed": _("Voting on that proposal has closed."),
        "already_proposed": _("There is already an open proposal on that rule. Vote on it first."),
        "out_of_range": _("That value is outside what the rules allow."),
        "shares_together": _("A share can only change together with the other two."),
        "shares_sum": _("The three shares must add up to 100%."),
        "inconsistent": _("That value does not fit with the other rules."),
        "bad_text": _("Please write between 1 and 500 characters."),
    }.get(code, _("That cannot be done now."))  # fmt: skip


async def join(ctx: FlowContext, msg: Inbound) -> None:
    """/join: show the rules and the fee; membership starts when they are accepted."""
    _ = ctx._
    if await governance.is_member(ctx.uow, ctx.person.id):
        await ctx.reply(refused(_, "already_member"))
        return
    fee = (await ctx.uow.params.current()).membership_fee
    await ctx.reply(_("Members govern the cooperative: they propose changes to its rules and vote on them, one member "
                      "one vote. Votes are recorded in the books by name. Membership fee: {fee}. Do you accept the "
                      "rules?").format(fee=money(fee, ctx.person.language)),
                    (Choice(_("I accept"), "join:yes"), Choice(_("Not now"), "join:no")))  # fmt: skip


async def join_answer(ctx: FlowContext, msg: Inbound) -> None:
    """The rules accepted (or not): become a member."""
    _ = ctx._
    if payload_args(msg) != ["yes"]:
        await ctx.reply(_("Nothing was changed."))
        return
    try:
        await governance.join(ctx.uow, ctx.person)
    except GovernanceError as exc:
        await ctx.reply(refused(_, exc.code))
        return
    await ctx.reply(_("Welcome, member #{id}! /propose – suggest a change · /proposals – votes · /rules – the rules "
                      "now").format(id=ctx.person.id))  # fmt: skip


async def leave(ctx: FlowContext, msg: Inbound) -> None:
    """/leave: stop being a member."""
    try:
        await governance.leave(ctx.uow, ctx.person)
    except GovernanceError as exc:
        await ctx.reply(refused(ctx._, exc.code))
        return
    await ctx.reply(ctx._("You have left the cooperative. Send /join to join again."))


async def members(ctx: FlowContext, msg: Inbound) -> None:
    """/members: how many members of each role."""
    counts = await governance.member_counts(ctx.uow)
    await ctx.reply(ctx._("Members: {total} ({restaurants} restaurants, {workers} workers, {donors} donors).").format(
        total=sum(counts.values()), restaurants=counts["restaurant"], workers=counts["worker"], donors=counts["donor"]))


async def propose(ctx: FlowContext, msg: Inbound) -> None:
    """/propose: list every rule with its current value; the member picks one by number."""
    _, lang = ctx._, ctx.person.language
    if not await governance.is_member(ctx.uow, ctx.person.id):
        await ctx.reply(refused(_, "not_member"))
        return
    params = await ctx.uow.params.current()
    lines = [_("Which rule should change? Reply with its number (/cancel to stop):")]
    lines += [f"{i}. {param_label(_, item)}: {current_text(_, item, params, lang)}" for i, item in enumerate(ITEMS, 1)]
    lines.append(_("0. A decision in words (changes no rule)"))
    ctx.goto(Step.GOV_ITEM)
    await ctx.reply("\n".join(lines))


async def item_chosen(ctx: FlowContext, msg: Inbound) -> None:
    """A rule's number: ask for its new value in its unit (or the decision's words)."""
    _, lang = ctx._, ctx.person.language
    number = read_int(msg.text, 0, len(ITEMS)) if msg.kind == "text" else None
    if number is None:
        await ctx.reply(_("Please reply with a number from the list, or /cancel."))
        return
    if number == 0:
        ctx.goto(Step.GOV_DECISION)
        await ctx.reply(_("Write the decision in one message (up to 500 characters)."))
        return
    item = ITEMS[number - 1]
    ctx.goto(Step.GOV_VALUE, item=item)
    params = await ctx.uow.params.current()
    now = current_text(_, item, params, lang)
    if item == SHARES:
        text = _("New shares of the delivery fee for the worker, the pool and infrastructure, in %, adding up to 100 "
                 "(now {now}). For example: 75 15 10").format(now=now)  # fmt: skip
    else:
        unit = SPECS[item].unit
        how = {Unit.PAISE: _("in rupees"), Unit.BP: _("in %")}.get(unit, _("a whole number"))
        text = _("New value for {rule} (now {now}), {how}:").format(rule=param_label(_, item), now=now, how=how)
    await ctx.reply(text)


async def value_given(ctx: FlowContext, msg: Inbound) -> None:
    """The new value: checked against the rule's bounds and the other rules, then the reason is asked."""
    _, lang = ctx._, ctx.person.language
    item = str(ctx.data.get("item"))
    if item == SHARES:
        changes = read_shares(msg.text) if msg.kind == "text" else None
    else:
        value = read_value(item, msg.text) if msg.kind == "text" and item in SPECS else None
        changes = {item: value} if value is not None else None
    if changes is None:
        await ctx.reply(_("I could not read that value. Try again, or /cancel."))
        return
    try:
        check_change(await ctx.uow.params.current(), changes)
    except ChangeRefused as exc:
        text = refused(_, exc.code)
        if exc.code == "out_of_range" and exc.name in SPECS:
            spec = SPECS[exc.name]
            text += " " + _("Allowed: {low} to {high}.").format(low=value_text(_, exc.name, spec.low, lang),
                                                               high=value_text(_, exc.name, spec.high, lang))  # fmt: skip
        await ctx.reply(text + " " + _("Try again, or /cancel."))
        return
    ctx.goto(Step.GOV_REASON, changes=changes, decision="")
    await ctx.reply(_("Why? Give your reason in one message (up to 500 characters)."))


async def decision_given(ctx: FlowContext, msg: Inbound) -> None:
    """The words of a text decision; then the reason."""
    if msg.kind != "text" or not 0 < len(msg.text.strip()) <= REASON_MAX:
        await ctx.reply(refused(ctx._, "bad_text"))
        return
    ctx.goto(Step.GOV_REASON, changes={}, decision=msg.text.strip())
    await ctx.reply(ctx._("Why? Give your reason in one message (up to 500 characters)."))


async def reason_given(ctx: FlowContext, msg: Inbound) -> None:
    """The reason: record the proposal; the members are asked to second it."""
    _ = ctx._
    if msg.kind != "text" or not 0 < len(msg.text.strip()) <= REASON_MAX:
        await ctx.reply(refused(_, "bad_text"))
        return
    data = dict(ctx.data)
    ctx.goto(None)
    before = await ctx.uow.params.current()
    changes = {str(k): int(v) for k, v in dict(data.get("changes") or {}).items()}
    try:
        proposal = await governance.propose(ctx.uow, ctx.person, changes, msg.text, str(data.get("decision") or ""))
    except GovernanceError as exc:
        await ctx.reply(refused(_, exc.code))
        return
    text = _("Proposal #{id} recorded: {change}.").format(id=proposal.id,
                                                         change=change_text(_, proposal, before, ctx.person.language))
    if proposal.status is ProposalStatus.PENDING:
        n = before.proposal_seconds
        text += " " + plural(ctx.person.language, "It opens for voting once {n} other member seconds it.",
                             "It opens for voting once {n} other members second it.", n).format(n=n)
    await ctx.reply(text)


async def second(ctx: FlowContext, msg: Inbound) -> None:
    """The Second button."""
    _ = ctx._
    proposal_id = payload_int(msg)
    if proposal_id is None:
        await ctx.reply(_("That button is no longer active. Send /help to see what you can do."))
        return
    try:
        proposal = await governance.second(ctx.uow, ctx.person, proposal_id)
    except GovernanceError as exc:
        await ctx.reply(refused(_, exc.code))
        return
    await ctx.reply(_("You seconded proposal #{id}.").format(id=proposal.id))


async def vote_button(ctx: FlowContext, msg: Inbound) -> None:
    """Yes / No / Abstain pressed, typed or answered by number."""
    args, proposal_id = payload_args(msg), payload_int(msg)
    if proposal_id is None or len(args) != 2 or args[1] not in set(VoteChoice):
        await ctx.reply(ctx._("That button is no longer active. Send /help to see what you can do."))
        return
    await _vote(ctx, proposal_id, VoteChoice(args[1]))


async def poll_answer(ctx: FlowContext, msg: Inbound) -> None:
    """A Telegram poll answer (its poll id already mapped to "proposal:N"); none chosen withdraws the vote."""
    ref = (msg.poll_id or "").split(":")
    proposal_id = read_int(ref[1], 1, MAX_ID) if len(ref) == 2 and ref[0] == "proposal" else None
    options = msg.poll_options
    if proposal_id is None or len(options) > 1 or any(not 0 <= o < len(POLL_ORDER) for o in options):
        await ctx.reply(ctx._("I do not know that poll. Send /proposals to see the open votes."))
        return
    await _vote(ctx, proposal_id, POLL_ORDER[options[0]] if options else None)


async def _vote(ctx: FlowContext, proposal_id: int, choice: VoteChoice | None) -> None:
    _ = ctx._
    try:
        replaced = await governance.vote(ctx.uow, ctx.person, proposal_id, choice, ctx.person.channel)
    except GovernanceError as exc:
        await ctx.reply(refused(_, exc.code))
        return
    proposal = await ctx.uow.governance.get(proposal_id)
    assert proposal is not None
    if choice is None:
        await ctx.reply(_("Your vote on proposal #{id} is withdrawn.").format(id=proposal_id))
        return
    text = _("Your vote on proposal #{id} counts: {choice}. You can change it until {when}.").format(
        id=proposal_id, choice=choice_label(_, choice), when=when(proposal.closes_at, ctx.person.language))
    if replaced and replaced != choice:
        text += " " + _("It replaces your earlier vote.")
    await ctx.reply(text + " " + _("Votes are recorded in the books by name."))


async def proposals(ctx: FlowContext, msg: Inbound) -> None:
    """/proposals: open and recent proposals; tallies only once closed; the member's own vote."""
    _, lang = ctx._, ctx.person.language
    shown = {p.id: p for p in [*await ctx.uow.governance.active(), *await ctx.uow.governance.recent(10)]}
    if not shown:
        await ctx.reply(_("There are no proposals yet. Members can make one with /propose."))
        return
    lines = []
    for p in sorted(shown.values(), key=lambda p: -p.id):
        what = change_text(_, p, None, lang)
        if p.status is ProposalStatus.PENDING:
            state = _("waiting for seconds")
        elif p.status is ProposalStatus.OPEN:
            mine = await ctx.uow.governance.vote_of(p.id, ctx.person.id)
            state = _("open until {when}; your vote: {vote}").format(
                when=when(p.closes_at, lang), vote=choice_label(_, mine[0]) if mine and mine[0] in set(VoteChoice) else _("none"))
        else:
            status = {ProposalStatus.PASSED: _("passed"), ProposalStatus.REJECTED: _("not passed"),
                      ProposalStatus.LAPSED: _("lapsed")}[p.status]  # fmt: skip
            state = _("{status}: yes {yes}, no {no}, abstain {abstain}").format(status=status, **_counts(p.tally))
        lines.append(f"#{p.id} {what} — {state}")
    await ctx.reply("\n".join(lines))


def _counts(tally: dict[str, int]) -> dict[str, int]:
    return {c.value: int(tally.get(c.value, 0)) for c in VoteChoice}


async def rules(ctx: FlowContext, msg: Inbound) -> None:
    """/rules: every rule's current value and the proposal that set it."""
    _, lang = ctx._, ctx.person.language
    params = await ctx.uow.params.current()
    set_by = await ctx.uow.governance.passed_setting(SPECS)
    lines = [_("The rules now:")]
    for item in ITEMS:
        line = f"{param_label(_, item)}: {current_text(_, item, params, lang)}"
        source = set_by.get(FEE_SHARES[0] if item == SHARES else item)
        if source is not None:
            line += " " + _("(proposal #{id})").format(id=source)
        lines.append(line)
    await ctx.reply("\n".join(lines))


STEPS = {Step.GOV_ITEM: item_chosen, Step.GOV_VALUE: value_given, Step.GOV_DECISION: decision_given,
         Step.GOV_REASON: reason_given}  # fmt: skip

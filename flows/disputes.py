"""Disputes by chat: a party reports a problem, admins resolve it with a reason, parties appeal."""

from __future__ import annotations

from core.governance import appeals
from core.ledger.model import donor_account, restaurant_account, worker_account
from core.members.model import Person
from core.orders import disputes
from core.orders.dispute_model import Dispute, DisputeStatus, Reason, Resolution
from core.orders.model import Order
from core.ports import UnitOfWork
from core.seekers.photo_access import log_pushed_view
from flows.common import normalise, payload_args, payload_int
from flows.context import POLLED_CHANNELS, FlowContext
from flows.dispute_text import appeal_question, reason_label, resolution_label
from flows.governance_text import when
from flows.i18n import Translator, money, translator
from flows.messages import Choice, Inbound, Outbound
from flows.numbers import MAX_ID, read_int
from flows.steps import Step
from flows.understand import is_skip

NOTE_MAX = 200  # characters of an admin's one-line reason


def refused(_: Translator, code: str) -> str:
    """Why a dispute command was refused, in words."""
    if code.startswith("not_disputable"):
        return _("This order cannot be disputed now.")
    return {
        "not_found": _("There is no such order."),
        "no_dispute": _("There is no such dispute."),
        "not_reversible": _("This decision cannot be taken back automatically; please ask another admin."),
        "not_a_party": _("Only the people of an order can report a problem with it."),
        "already_disputed": _("A problem with this order was already reported."),
        "window_closed": _("The time to report a problem with this order has passed."),
        "not_admin": _("Only an admin can resolve a dispute."),
        "party_admin": _("You are part of this order, so another admin must resolve it."),
        "already_resolved": _("This dispute was already resolved."),
        "already_appealed": _("You have already appealed."),
        "appeal_window_closed": _("The time to appeal has passed."),
        "same_admin": _("A different admin must decide the appeal."),
        "members_vote": _("The members are voting on this appeal; their vote decides it."),
        "already_appealed_by_other": _("This decision was already appealed; the same vote or admin decides it."),
        "same_outcome": _("That is the decision already made. Choose a different one."),
        "admin_available": _("A second admin can look at it now. Press Appeal again."),
    }.get(code, _("That cannot be done now."))  # fmt: skip


async def command(ctx: FlowContext, msg: Inbound) -> None:
    """/dispute <order>: start reporting a problem with an order."""
    words = msg.text.split()
    order_id = read_int(words[1].lstrip("#"), 1, MAX_ID) if len(words) == 2 else None
    if order_id is None:
        await ctx.reply(ctx._("Usage: /dispute <order number>, for example /dispute 12"))
        return
    await _ask_reason(ctx, order_id)


async def report(ctx: FlowContext, msg: Inbound) -> None:
    """The Report a problem button: ask what went wrong."""
    order_id = payload_int(msg)
    if order_id is None:
        await ctx.reply(ctx._("That button is no longer active. Send /help to see what you can do."))
        return
    await _ask_reason(ctx, order_id)


async def _ask_reason(ctx: FlowContext, order_id: int) -> None:
    _ = ctx._
    order = await ctx.uow.orders.get(order_id)
    if order is None:
        await ctx.reply(refused(_, "not_found"))
        return
    try:
        await disputes.check_can_raise(ctx.uow, order, ctx.person)
    except disputes.DisputeError as exc:
        await ctx.reply(refused(_, exc.code))
        return
    choices = tuple(Choice(reason_label(_, r), f"dreason:{order_id}:{r.value}") for r in Reason)
    await ctx.reply(_("What went wrong with order #{id}?").format(id=order_id), choices)


async def reason(ctx: FlowContext, msg: Inbound) -> None:
    """A reason was chosen: ask for a few words."""
    args = payload_args(msg)
    order_id = payload_int(msg)
    if order_id is None or len(args) != 2 or args[1] not in set(Reason):
        await ctx.reply(ctx._("That button is no longer active. Send /help to see what you can do."))
        return
    ctx.goto(Step.DISPUTE_EVIDENCE, order=order_id, reason=args[1])
    await ctx.reply(ctx._("Add a few words about what happened (or send skip)."))


async def evidence(ctx: FlowContext, msg: Inbound) -> None:
    """The party's own words: raise the dispute, tell everyone, send the case to the admins."""
    if read_int(msg.text, 0, MAX_ID) is not None:  # on SMS, a reason's number typed twice
        await ctx.reply(ctx._("Please write a few words about what happened, or send skip."))
        return
    data = dict(ctx.data)
    ctx.goto(None)
    words = "" if is_skip(msg.text) else msg.text
    try:
        dispute = await disputes.raise_dispute(ctx.uow, int(data["order"]), ctx.person, Reason(data["reason"]), words)
    except disputes.DisputeError as exc:
        await ctx.reply(refused(ctx._, exc.code))
        return
    order = await ctx.uow.orders.get(dispute.order_id)
    assert order is not None
    await ctx.reply(ctx._("Problem reported for order #{id}. Payment is on hold until an admin decides.").format(id=order.id))
    for person in await parties_of(ctx.uow, order, but=ctx.person.id):
        t_ = translator(person.language, person.channel)
        await ctx.tell(person, Outbound(t_("A problem was reported with order #{id}: {reason}. Payment is on hold until an "
                                           "admin decides.").format(id=order.id, reason=reason_label(t_, dispute.reason))))  # fmt: skip
    await _send_case(ctx, order, dispute, exclude=())


async def parties_of(uow: UnitOfWork, order: Order, *, but: int | None = None) -> list[Person]:
    people = [await uow.people.get(pid) for pid in await disputes.parties(uow, order) if pid != but]
    return [p for p in people if p is not None]


async def _send_case(ctx: FlowContext, order: Order, dispute: Dispute, exclude: tuple[int, ...]) -> int:
    """Give every admin not party to the order (and not excluded) the case; return how many."""
    party_ids = await disputes.parties(ctx.uow, order)
    admins = [a for a in await ctx.uow.people.admins() if a.id not in party_ids and a.id not in exclude]
    for admin in admins:
        t_, lang = translator(admin.language, admin.channel), admin.language
        text = t_("Dispute #{d} on order #{id}: {reason}. Meal {meal}, delivery {fee}, tip {tip}. Their words: {words}").format(
            d=dispute.id, id=order.id, reason=reason_label(t_, dispute.reason), meal=money(order.meal_price, lang),
            fee=money(order.delivery_fee, lang), tip=money(order.tip, lang), words=dispute.evidence or "-")  # fmt: skip
        choices = tuple(Choice(resolution_label(t_, r), f"resolve:{dispute.id}:{r.value}") for r in Resolution)
        await ctx.tell(admin, Outbound(text, choices, order.delivery_photo))
        if order.delivery_photo and admin.channel not in POLLED_CHANNELS:
            log_pushed_view(ctx.uow, admin.id, order, order.delivery_photo)  # the web chat logs when the page loads it
    return len(admins)


async def resolve(ctx: FlowContext, msg: Inbound) -> None:
    """An admin picked a resolution: ask for a one-line reason."""
    _ = ctx._
    args, dispute_id = payload_args(msg), payload_int(msg)
    if dispute_id is None or len(args) != 2 or args[1] not in set(Resolution):
        await ctx.reply(_("That button is no longer active. Send /help to see what you can do."))
        return
    if not ctx.person.is_admin:
        await ctx.reply(refused(_, "not_admin"))
        return
    dispute = await ctx.uow.disputes.get(dispute_id)
    if dispute is None or dispute.status not in (DisputeStatus.OPEN, DisputeStatus.APPEALED):
        await ctx.reply(refused(_, "already_resolved" if dispute else "no_dispute"))  # another admin was quicker
        return
    order = await ctx.uow.orders.get(dispute.order_id)
    if order is not None and ctx.person.id in await disputes.parties(ctx.uow, order):
        await ctx.reply(refused(_, "party_admin"))  # said before the reason is asked, not after
        return
    if dispute.status is DisputeStatus.APPEALED and dispute.vote_id is not None:
        await ctx.reply(refused(_, "members_vote"))  # the members decide this one
        return
    if dispute.status is DisputeStatus.APPEALED and ctx.person.id == dispute.resolved_by:
        await ctx.reply(refused(_, "same_admin"))
        return
    ctx.goto(Step.DISPUTE_NOTE, dispute=dispute_id, resolution=args[1])
    await ctx.reply(_("In one line, why {what}?").format(what=resolution_label(_, args[1])))


async def note(ctx: FlowContext, msg: Inbound) -> None:
    """The admin's reason: decide the dispute (or its appeal) and tell every party."""
    said = normalise(msg.text)
    if read_int(said, 0, MAX_ID) is not None or said in {normalise(resolution_label(ctx._, r)) for r in Resolution}:
        # On SMS a decision's number (or label) typed twice is not a reason; the chain keeps what is typed here.
        await ctx.reply(ctx._("Please write the reason in a few words."))
        return
    data = dict(ctx.data)
    ctx.goto(None)
    dispute = await ctx.uow.disputes.get(int(data["dispute"]))
    decide = disputes.decide_appeal if dispute and dispute.status is DisputeStatus.APPEALED else disputes.resolve
    try:
        dispute = await decide(ctx.uow, int(data["dispute"]), ctx.person, Resolution(data["resolution"]), msg.text[:NOTE_MAX])
    except disputes.DisputeError as exc:
        if exc.code == "pool_short":
            return await _pool_short(ctx, int(data["dispute"]), exc.amount)
        await ctx.reply(refused(ctx._, exc.code))
        return
    order = await ctx.uow.orders.get(dispute.order_id)
    assert order is not None
    final = dispute.status is DisputeStatus.FINAL
    outcome = dispute.appeal_resolution if final else dispute.resolution
    assert outcome is not None
    await ctx.reply(ctx._("Decided: {what}. Everyone is told.").format(what=resolution_label(ctx._, outcome)))
    meal, pay, back = await outcome_amounts(ctx.uow, order, dispute.tx_ids)
    for person in await parties_of(ctx.uow, order):
        t_, lang = translator(person.language, person.channel), person.language
        text = t_("Order #{id}, an admin's decision ({what}): the restaurant gets {paid}, the delivery worker {pay}, and "
                  "{amount} goes back to who paid. Reason: {why}").format(
            id=order.id, what=resolution_label(t_, outcome), paid=money(meal, lang), pay=money(pay, lang),
            amount=money(back, lang), why=dispute.appeal_note if final else dispute.note)  # fmt: skip
        appeal_button = () if final else (Choice(t_("Appeal"), f"appeal:{dispute.id}"),)
        await ctx.tell(person, Outbound(text, appeal_button))


async def outcome_amounts(uow: UnitOfWork, order: Order, tx_ids: list[int]) -> tuple[int, int, int]:
    """What the decision in force pays (restaurant, worker) and returns to the contributors, in
    paise, from its ledger entries (net: a repayment of the pool's cover counts against the refund)."""
    net: dict[str, int] = {}
    for tx_id in tx_ids:
        for account, amount in await uow.ledger.postings_of(tx_id):
            net[account] = net.get(account, 0) + amount
    restaurant = restaurant_account(order.restaurant_id or 0)
    worker = worker_account(order.worker_id or 0)
    contributions = await uow.contributions.for_order(order.id)
    # a campaign passes what comes back to it on to its givers' balances: count both, net
    paid_by = {donor_account(order.donor_id), *(c.account for c in contributions),
               *(donor_account(c.person_id) for c in contributions)}  # fmt: skip
    sources = paid_by - {restaurant, worker}
    return net.get(restaurant, 0), net.get(worker, 0), sum(net.get(a, 0) for a in sources)


async def _pool_short(ctx: FlowContext, dispute_id: int, missing: int) -> None:
    """Nothing was applied: say why, and give the decision's buttons again for later."""
    _ = ctx._
    text = _("Dispute #{d}: money from the first decision was already spent, and the guarantee pool is {amount} short of "
             "covering it. Nothing has changed; the appeal stays open. Choose again when the pool can cover it.").format(
        d=dispute_id, amount=money(missing, ctx.person.language))  # fmt: skip
    await ctx.reply(text, tuple(Choice(resolution_label(_, r), f"resolve:{dispute_id}:{r.value}") for r in Resolution))


async def appeal(ctx: FlowContext, msg: Inbound) -> None:
    """A party appeals: a different admin gets the case; with no other admin, the party is asked
    which decision the members should vote on."""
    _ = ctx._
    dispute_id = payload_int(msg)
    if dispute_id is None:
        await ctx.reply(_("That button is no longer active. Send /help to see what you can do."))
        return
    dispute = await ctx.uow.disputes.get(dispute_id)
    order = await ctx.uow.orders.get(dispute.order_id) if dispute is not None else None
    if dispute is None or order is None:
        await ctx.reply(refused(_, "no_dispute"))
        return
    try:
        await disputes.check_can_appeal(ctx.uow, dispute, order, ctx.person)
    except disputes.DisputeError as exc:
        await ctx.reply(refused(_, exc.code))
        return
    if dispute.status is DisputeStatus.RESOLVED and not await disputes.second_admins(ctx.uow, order, dispute):
        await _ask_outcome(ctx, dispute)
        return
    dispute = await disputes.appeal(ctx.uow, dispute.id, ctx.person)
    if dispute.vote_id is not None:
        await ctx.reply(_("Your appeal is recorded. The members' vote (proposal #{p}) decides it.").format(p=dispute.vote_id))
        return
    if len(dispute.appeals) > 1:
        await ctx.reply(_("Your appeal is recorded with the others."))
        return
    exclude = (dispute.resolved_by,) if dispute.resolved_by is not None else ()
    if await _send_case(ctx, order, dispute, exclude):
        await ctx.reply(_("Appeal recorded. Another admin will look at order #{id}.").format(id=order.id))
    else:
        await ctx.reply(_("Appeal recorded. It waits for a second admin to decide."))


async def _ask_outcome(ctx: FlowContext, dispute: Dispute) -> None:
    """No second admin: the members will vote yes or no on the decision the party asks for."""
    _ = ctx._
    others = [r for r in Resolution if r is not dispute.resolution]
    await ctx.reply(_("There is no second admin, so the members will vote on your appeal. What should the decision on "
                      "order #{id} be instead?").format(id=dispute.order_id),
                    tuple(Choice(resolution_label(_, r), f"appealto:{dispute.id}:{r.value}") for r in others))  # fmt: skip


async def appeal_to(ctx: FlowContext, msg: Inbound) -> None:
    """The outcome asked for: the appeal is recorded and put to the members' vote; parties told."""
    _ = ctx._
    args, dispute_id = payload_args(msg), payload_int(msg)
    if dispute_id is None or len(args) != 2 or args[1] not in set(Resolution):
        await ctx.reply(_("That button is no longer active. Send /help to see what you can do."))
        return
    try:
        proposal = await appeals.put_to_vote(ctx.uow, dispute_id, ctx.person, Resolution(args[1]))
    except disputes.DisputeError as exc:
        await ctx.reply(refused(_, exc.code))
        return
    order = await ctx.uow.orders.get(int(proposal.appeal["order"]))
    assert order is not None
    await ctx.reply(_("Appeal recorded. The members vote on it as proposal #{p}: {question}? Voting closes {when}.").format(
        p=proposal.id, question=appeal_question(_, proposal.appeal, ctx.person.language),
        when=when(proposal.closes_at, ctx.person.language)))  # fmt: skip
    for person in await parties_of(ctx.uow, order, but=ctx.person.id):
        t_ = translator(person.language, person.channel)
        await ctx.tell(person, Outbound(t_("Order #{id}: a party appealed the decision. The members vote on it as proposal "
                                           "#{p}: {question}? Voting closes {when}.").format(
            id=order.id, p=proposal.id, question=appeal_question(t_, proposal.appeal, person.language),
            when=when(proposal.closes_at, person.language))))  # fmt: skip


STEPS = {Step.DISPUTE_EVIDENCE: evidence, Step.DISPUTE_NOTE: note}

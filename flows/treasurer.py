"""What the treasurer (an admin) does by chat: assign unmatched bank credits, mark payouts paid or failed."""

from __future__ import annotations

from core.payments import payouts, topups
from core.payments.statements import MAX_TXN_ID, TXN_ID, UnreadableStatement, read_statement
from core.privacy import ERASED_CHANNEL
from flows.admin import find_person
from flows.context import FlowContext
from flows.i18n import money, translator
from flows.messages import Inbound, Outbound
from flows.numbers import MAX_ID, read_int


async def _admin_only(ctx: FlowContext) -> bool:
    if ctx.person.is_admin:
        return True
    await ctx.reply(ctx._("Only an admin can do that."))
    return False


async def statement_file(ctx: FlowContext, msg: Inbound) -> None:
    """A treasurer sends the bank statement (CSV) to the bot: import it and say what happened."""
    _, lang = ctx._, ctx.person.language
    if not ctx.person.is_admin:
        await ctx.reply(_("Only an admin can import bank statements. To feed someone, send their photo."))
        return
    if not msg.photo:  # not a CSV file, larger than the limit, or not fetched from the provider
        await ctx.reply(_("I could not take that file: send the bank statement as a CSV file of at most 5 MB."))
        return
    try:
        statement = read_statement(msg.photo)
    except UnreadableStatement:
        await ctx.reply(_("I could not read that file as a bank statement (HDFC or SBI CSV export, or date,amount,reference,txn_id)."))
        return
    report = await topups.import_statement(ctx.uow, statement, ctx.person.actor)
    total = sum(a for _t, _p, a in report.credited) + sum(a for _t, _p, a, _w in report.flagged)
    lines = [
        _("Statement imported: {credited} credited ({total}), {unmatched} to assign.").format(
            credited=len(report.credited) + len(report.flagged), total=money(total, lang), unmatched=len(report.unmatched)),
        _("{flagged} to check, {already} imported before, {errors} unreadable lines.").format(
            flagged=len(report.flagged), already=report.already, errors=len(report.errors)),
    ]  # fmt: skip
    lines += [f"⚠ {t} · #{p} · {money(a, lang)} · {why}" for t, p, a, why in report.flagged[:10]]
    if report.unmatched:
        lines.append(_("Bank credits to assign (/assign <txn id> <member number>):"))
        lines += [f"{t} · {money(a, lang)}" + (f" · {ref}" if ref else "") for t, a, ref in report.unmatched[:10]]
    await ctx.reply("\n".join(lines))


async def unmatched(ctx: FlowContext, msg: Inbound) -> None:
    """/unmatched: bank credits the import could not match, for the treasurer to assign."""
    _, lang = ctx._, ctx.person.language
    if not await _admin_only(ctx):
        return
    rows = await ctx.uow.payments.unmatched_rows(20)
    if not rows:
        await ctx.reply(_("Every imported bank credit is matched."))
        return
    lines = [_("Bank credits to assign (/assign <txn id> <member number>):")]
    lines += [f"{r.txn_id} · {r.date} · {money(r.amount, lang)}" + (f" · {r.reference}" if r.reference else "") for r in rows]
    await ctx.reply("\n".join(lines))


async def assign(ctx: FlowContext, msg: Inbound) -> None:
    """/assign <txn id> <who>: credit an unmatched bank credit to a person."""
    _, lang = ctx._, ctx.person.language
    if not await _admin_only(ctx):
        return
    parts = msg.text.split()
    if len(parts) != 3 or len(parts[1]) > MAX_TXN_ID or not TXN_ID.fullmatch(parts[1]):
        await ctx.reply(_("Usage: /assign <txn id> <member number or phone>, for example /assign 433512345678 #12"))
        return
    target = await find_person(ctx.uow, parts[2])
    if target is None:
        await ctx.reply(_("No one is registered as {who}.").format(who=parts[2][:40]))
        return
    try:
        amount, _tx = await topups.assign_row(ctx.uow, ctx.person, parts[1], target)
    except topups.TopUpError as exc:
        await ctx.reply({
            "unknown_row": _("No imported bank credit has the id {txn}.").format(txn=parts[1]),
            "too_large_row": _("Nothing was recorded: one deposit can be at most {max}.").format(max=money(exc.bound, lang)),
        }.get(exc.reason, _("That bank credit was already assigned.")))  # fmt: skip
        return
    await ctx.reply(_("Recorded {amount} for {user}.").format(amount=money(amount, lang), user=f"{target.display_name} (#{target.id})"))
    t_ = translator(target.language, target.channel)
    await ctx.tell(target, Outbound(t_("{amount} was added to your balance. Thank you!").format(amount=money(amount, target.language))))


async def paid(ctx: FlowContext, msg: Inbound) -> None:
    """/paid <batch> <bank reference>: the bank paid a payout batch."""
    _ = ctx._
    if not await _admin_only(ctx):
        return
    parts = msg.text.split(maxsplit=2)
    batch_id = read_int(parts[1], 1, MAX_ID) if len(parts) == 3 else None
    if batch_id is None:
        await ctx.reply(_("Usage: /paid <batch number> <the bank's reference>, for example /paid 3 UTR1234567"))
        return
    try:
        await payouts.mark_paid(ctx.uow, ctx.person, batch_id, parts[2])
    except payouts.PayoutError as exc:
        await ctx.reply({
            "unknown": _("There is no payout batch {id}.").format(id=batch_id),
            "bank_ref": _("The bank's reference must be at most 64 letters, digits or signs."),
        }.get(exc.reason, _("Payout batch {id} was already marked paid.").format(id=batch_id)))  # fmt: skip
        return
    await ctx.reply(_("Payout batch {id} is marked paid ({ref}).").format(id=batch_id, ref=parts[2].strip()))


async def payout_failed(ctx: FlowContext, msg: Inbound) -> None:
    """/payfailed <line>: the bank returned one payout line; its money goes back to be paid again."""
    _, lang = ctx._, ctx.person.language
    if not await _admin_only(ctx):
        return
    parts = msg.text.split()
    line_id = read_int(parts[1], 1, MAX_ID) if len(parts) == 2 else None
    if line_id is None:
        await ctx.reply(_("Usage: /payfailed <line number>, as in the payout file's reference KETPAAR-B3-L7 → /payfailed 7"))
        return
    try:
        line = await payouts.mark_failed(ctx.uow, ctx.person, line_id)
    except payouts.PayoutError as exc:
        await ctx.reply(_("There is no payout line {id}.").format(id=line_id) if exc.reason == "unknown"
                        else _("Payout line {id} was already reversed.").format(id=line_id))  # fmt: skip
        return
    payee = await ctx.uow.people.get(line.person_id)
    if payee is None or payee.channel == ERASED_CHANNEL:
        return  # it went to the pool: every admin, this one too, hears it from the payout.unclaimed event
    await ctx.reply(_("Payout line {id} reversed: {amount} is back with {name} and goes out at the next run.").format(
        id=line.id, amount=money(line.amount, lang), name=line.name))  # fmt: skip

"""/pool and /books: the cooperative's public figures in two lines, in the member's language."""

from __future__ import annotations

import json

from core.shared.clock import local_day
from flows.context import FlowContext
from flows.i18n import day, money
from flows.messages import Inbound

DAYS = 30


async def pool(ctx: FlowContext, msg: Inbound) -> None:
    """Show the guarantee pool's balance and what went in and out of it in the last 30 days."""
    _, lang = ctx._, ctx.person.language
    books = await ctx.services.books.current(ctx.uow)
    series = books.series(local_day(ctx.uow.at), DAYS)
    in_, out = sum(f.pool_in for _d, f, _b in series), sum(f.pool_out for _d, f, _b in series)
    minimum = (await ctx.uow.params.current()).daily_minimum
    await ctx.reply("\n".join([
        _("Guarantee pool: {balance}.").format(balance=money(books.pool, lang)),
        _("Last 30 days: {in_} in from delivery fees, {out} out as top-ups to the daily minimum of {minimum}.").format(
            in_=money(in_, lang), out=money(out, lang), minimum=money(minimum, lang)),
    ]))  # fmt: skip


async def books_(ctx: FlowContext, msg: Inbound) -> None:
    """Show orders, money in and out, and the chain's length and last signed checkpoint."""
    _, lang = ctx._, ctx.person.language
    books = await ctx.services.books.current(ctx.uow)
    open_, settled = books.orders()
    money_in = sum(f.money_in for f in books.days.values())
    money_out = sum(f.money_out for f in books.days.values())
    first = _("Orders: {open} open, {settled} settled. Money in: {in_}, paid out: {out}.").format(
        open=open_, settled=settled, in_=money(money_in, lang), out=money(money_out, lang))
    latest = await ctx.uow.checkpoints.latest()
    if latest:
        cp = json.loads(latest[0])
        second = _("Ledger: {events} events; last signed checkpoint {day}, at event {seq}.").format(
            events=books.seq, day=day(str(cp["day"]), lang), seq=cp["seq"])
    else:
        second = _("Ledger: {events} events; no signed checkpoint yet.").format(events=books.seq)
    await ctx.reply(first + "\n" + second)

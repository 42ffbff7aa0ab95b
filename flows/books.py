"""/pool and /books: the cooperative's public figures in two lines, in the member's language."""

from __future__ import annotations

import json

from core.ports import UnitOfWork
from core.shared.clock import local_day
from core.shared.events import CheckpointSigned, DomainEvent
from flows.context import FlowContext, deliver_to
from flows.i18n import day, money, translator
from flows.messages import Inbound, Outbound

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


TOPIC = "checkpoint"


async def checkpoint_messages(ctx: FlowContext, msg: Inbound) -> None:
    """Turn the daily checkpoint message on or off for this person."""
    _ = ctx._
    on = not await ctx.uow.subscriptions.subscribed(ctx.person.id, TOPIC)
    await ctx.uow.subscriptions.set(ctx.person.id, TOPIC, on)
    if on:
        await ctx.reply(_("Each morning you will get the signed checkpoint of the books here. Send /checkpoint again to stop."))
    else:
        await ctx.reply(_("You will no longer get the daily checkpoint. Send /checkpoint to get it again."))


async def on_checkpoint_signed(event: DomainEvent, uow: UnitOfWork) -> None:
    """Tell everyone who opted in that the day's checkpoint is published."""
    assert isinstance(event, CheckpointSigned)
    for person_id in await uow.subscriptions.subscribers(TOPIC):
        person = await uow.people.get(person_id)
        if person is None:
            continue
        _ = translator(person.language, person.channel)
        text = _("Checkpoint of {day}: {events} events, head {head}. Save it from /api/checkpoints to check later logs.").format(
            day=day(event.day, person.language), events=event.seq, head=event.head[:16])
        await deliver_to(uow, person, Outbound(text))

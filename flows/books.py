"""/pool and /books: the cooperative's public figures in two lines, in the member's language."""

from __future__ import annotations

import json

from core.ledger.transparency import FaceFigures
from core.ports import UnitOfWork
from core.shared.clock import local_day
from core.shared.events import CheckpointSigned, DomainEvent
from flows.context import FlowContext, deliver_to
from flows.i18n import Translator, day, money, translator
from flows.messages import Inbound, Outbound

DAYS = 30


def pool_text(_: Translator, lang: str, balance: int, in_: int, out: int, minimum: int) -> str:
    """The two lines of /pool (paise in, rupees out)."""
    return "\n".join([
        _("Guarantee pool: {balance}.").format(balance=money(balance, lang)),
        _("Last 30 days: {in_} in from delivery fees, {out} out as top-ups to the daily minimum of {minimum}.").format(
            in_=money(in_, lang), out=money(out, lang), minimum=money(minimum, lang)),
    ])  # fmt: skip


def books_text(_: Translator, lang: str, orders: tuple[int, int], money_in: int, money_out: int, events: int,
               checkpoint: tuple[str, int] | None) -> str:  # fmt: skip
    """The two lines of /books; `checkpoint` is the last signed one's (day, seq)."""
    first = _("Orders: {open} open, {settled} settled. Money in: {in_}, paid out: {out}.").format(
        open=orders[0], settled=orders[1], in_=money(money_in, lang), out=money(money_out, lang))
    if checkpoint:
        second = _("Ledger: {events} events; last signed checkpoint {day}, at event {seq}.").format(
            events=events, day=day(checkpoint[0], lang), seq=checkpoint[1])
    else:
        second = _("Ledger: {events} events; no signed checkpoint yet.").format(events=events)
    return first + "\n" + second


def face_review_text(_: Translator, face: FaceFigures) -> str:
    """One line on the duplicate check: second photos asked, confirmed, and orders marked for review."""
    return _("Face check: {asked} second photos asked, {confirmed} confirmed; {review} orders went on marked for review.").format(
        asked=face.asked, confirmed=face.confirmed, review=face.for_review)


async def pool(ctx: FlowContext, msg: Inbound) -> None:
    """Show the guarantee pool's balance and what went in and out of it in the last 30 days."""
    books = await ctx.services.books.current(ctx.uow)
    series = books.series(local_day(ctx.uow.at), DAYS)
    in_, out = sum(f.pool_in for _d, f, _b in series), sum(f.pool_out for _d, f, _b in series)
    minimum = (await ctx.uow.params.current()).daily_minimum
    await ctx.reply(pool_text(ctx._, ctx.person.language, books.pool, in_, out, minimum))


async def books_(ctx: FlowContext, msg: Inbound) -> None:
    """Show orders, money in and out, and the chain's length and last signed checkpoint."""
    books = await ctx.services.books.current(ctx.uow)
    money_in = sum(f.money_in for f in books.days.values())
    money_out = sum(f.money_out for f in books.days.values())
    latest = await ctx.uow.checkpoints.latest()
    cp = json.loads(latest[0]) if latest else None
    checkpoint = (str(cp["day"]), int(cp["seq"])) if cp else None
    text = books_text(ctx._, ctx.person.language, books.orders(), money_in, money_out, books.seq, checkpoint)
    face = books.face_review()
    if face.asked or face.for_review:  # a line only once there is something to count (short on SMS)
        text += "\n" + face_review_text(ctx._, face)
    await ctx.reply(text)


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

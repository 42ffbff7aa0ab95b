"""The outbox sender: flood control, backoff, giving up visibly, leases, order, several processes."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.outbox_sender import OutboxSender, backoff_seconds
from bot.rate_limit import ChatRateLimiter
from bot.telegram import TelegramChannel
from core.adapters.sql.db import Database
from core.adapters.sql.schema import outbox
from core.adapters.sql.uow import Store
from flows.messages import Outbound
from tests.clock import FixedClock
from tests.fake_telegram import TOKEN, FakeTelegram

MakeTelegram = Callable[..., TelegramChannel]  # the `telegram` fixture: builds a channel on the fake

# python-telegram-bot 22.x reads its own deprecated int `RetryAfter.retry_after` while building
# the error (opt-in fix: PTB_TIMEDELTA=true); our code reads it without the warning.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Deprecated since version v22.2:telegram.warnings.PTBDeprecationWarning"
)
START = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    """The fake Bot API for one test."""
    with FakeTelegram() as server:
        yield server


def code() -> str:
    """A channel code of its own per test, so tests sharing the PostgreSQL database never meet."""
    return f"tg{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def telegram(fake: FakeTelegram) -> AsyncIterator[Callable[..., TelegramChannel]]:
    """Make Telegram channels on the fake (real limits, or `fast` ones); closed at the end."""
    made: list[TelegramChannel] = []

    def make(fast: bool = False) -> TelegramChannel:
        limiter = ChatRateLimiter(per_second=2000, per_chat_per_second=1000, chat_burst=10) if fast else None
        made.append(TelegramChannel(TOKEN, api_base=fake.url, limiter=limiter))
        return made[-1]

    yield make
    for channel in made:
        await channel.close()


async def enqueue(store: Store, channel: str, address: str, text: str) -> int:
    async with store.uow() as uow:
        return await uow.outbox.enqueue(channel, address, Outbound(text).to_payload())


async def row(store: Store, outbox_id: int) -> dict[str, object]:
    async with store.reader() as uow:
        found = (await uow.conn.execute(select(outbox).where(outbox.c.id == outbox_id))).one()
    return dict(found._mapping)


def texts(fake: FakeTelegram) -> list[str]:
    return [c.params["text"] for c in fake.delivered()]


async def test_flood_control_is_waited_out_and_the_message_is_delivered_once(
    db: Database, fake: FakeTelegram, telegram: MakeTelegram
) -> None:
    store, ch = Store(db, FixedClock(START)), code()
    sender = OutboxSender(store, {ch: telegram()})
    row_id = await enqueue(store, ch, "9001", "hello after a flood")
    fake.fail("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    assert await sender.run_once() == 1
    assert fake.count_status(429) == 1 and texts(fake) == ["hello after a flood"]
    assert (await row(store, row_id))["status"] == "sent" and sender.stats["flood_waits"] == 1
    assert await sender.run_once() == 0 and len(fake.delivered()) == 1


async def test_a_long_flood_wait_reschedules_the_row_without_counting_an_attempt(
    sqlite_db: Database, fake: FakeTelegram, telegram: MakeTelegram
) -> None:
    clock, ch = FixedClock(START), code()
    store = Store(sqlite_db, clock)
    sender = OutboxSender(store, {ch: telegram()}, max_inline_wait_s=5)
    row_id = await enqueue(store, ch, "9002", "later")
    fake.fail("sendMessage", 429, "Too Many Requests: retry after 30", retry_after=30)
    await sender.run_once()
    stored = await row(store, row_id)
    assert stored["status"] == "pending" and stored["attempts"] == 0
    assert stored["next_attempt_at"] == "2026-11-23T06:30:30+00:00"


async def test_a_permanently_failing_row_ends_failed_and_is_listed_and_retryable(
    db: Database, fake: FakeTelegram, telegram: MakeTelegram
) -> None:
    store, ch = Store(db, FixedClock(START)), code()
    sender = OutboxSender(store, {ch: telegram()})
    fake.blocked.add("9003")
    row_id = await enqueue(store, ch, "9003", "are you there?")
    await sender.run_once()
    stored = await row(store, row_id)
    assert stored["status"] == "failed" and "blocked" in str(stored["last_error"])
    [listed] = [r for r in await sender.list_failed() if r.id == row_id]
    assert listed.address == "9003" and listed.payload["text"] == "are you there?"
    fake.blocked.clear()
    assert await sender.retry([row_id]) == 1
    await sender.run_once()
    assert (await row(store, row_id))["status"] == "sent" and texts(fake) == ["are you there?"]


async def test_transient_errors_back_off_2_to_the_attempts_then_give_up_visibly(
    sqlite_db: Database, fake: FakeTelegram, telegram: MakeTelegram
) -> None:
    clock, ch = FixedClock(START), code()
    store = Store(sqlite_db, clock)
    sender = OutboxSender(store, {ch: telegram()}, max_attempts=3)
    fake.fail("sendMessage", 502, "Bad Gateway", retry_after=None, times=3)
    row_id = await enqueue(store, ch, "9004", "try hard")
    await sender.run_once()
    assert (await row(store, row_id))["next_attempt_at"] == "2026-11-23T06:30:02+00:00"
    assert await sender.run_once() == 0  # not due yet
    clock.advance(seconds=2)
    await sender.run_once()
    assert (await row(store, row_id))["next_attempt_at"] == "2026-11-23T06:30:06+00:00"
    clock.advance(seconds=4)
    await sender.run_once()
    stored = await row(store, row_id)
    assert stored["status"] == "failed" and str(stored["last_error"]).startswith("gave up after 3 attempts")
    assert [backoff_seconds(n) for n in (1, 2, 10, 12, 20)] == [2, 4, 1024, 3600, 3600]


async def test_a_persons_messages_go_out_in_order_one_at_a_time(sqlite_db: Database, fake: FakeTelegram, telegram: MakeTelegram) -> None:
    store, ch = Store(sqlite_db, FixedClock(START)), code()
    sender = OutboxSender(store, {ch: telegram()})
    for text in ("first", "second", "third"):
        await enqueue(store, ch, "9005", text)
    await enqueue(store, ch, "9006", "someone else")
    assert [await sender.run_once() for _ in range(4)] == [2, 1, 1, 0]
    assert [t for t in texts(fake) if t != "someone else"] == ["first", "second", "third"]


async def test_a_message_whose_sender_died_mid_send_is_resent_after_its_lease(
    db: Database, fake: FakeTelegram, telegram: MakeTelegram
) -> None:
    clock, ch = FixedClock(START), code()
    store = Store(db, clock)
    row_id = await enqueue(store, ch, "9007", "maybe twice")
    async with store.uow() as uow:  # a sender claims it, then its process dies
        assert [r.id for r in await uow.outbox.claim_due([ch], START, 10, 60)] == [row_id]
    sender = OutboxSender(store, {ch: telegram()})
    assert await sender.run_once() == 0  # still leased
    clock.advance(seconds=61)
    assert await sender.run_once() == 1
    stored = await row(store, row_id)
    assert stored["status"] == "sent" and "duplicate" in str(stored["last_error"]) and stored["attempts"] == 2


async def test_an_at_most_once_channel_holds_an_uncertain_message_for_an_operator(
    db: Database, fake: FakeTelegram, telegram: MakeTelegram
) -> None:
    clock, ch = FixedClock(START), code()
    store = Store(db, clock)
    row_id = await enqueue(store, ch, "9008", "costly")
    async with store.uow() as uow:
        await uow.outbox.claim_due([ch], START, 10, 60)
    sender = OutboxSender(store, {ch: telegram()}, at_most_once={ch})
    clock.advance(seconds=61)
    assert await sender.run_once() == 0 and fake.delivered() == []
    [held] = [r for r in await sender.list_failed() if r.id == row_id]
    assert held.status == "unknown"
    await sender.retry([row_id])
    await sender.run_once()
    assert texts(fake) == ["costly"]


async def test_the_sender_loop_delivers_when_woken_and_stops_when_told(
    sqlite_db: Database, fake: FakeTelegram, telegram: MakeTelegram
) -> None:
    store, ch = Store(sqlite_db, FixedClock(START)), code()
    sender = OutboxSender(store, {ch: telegram()}, poll_interval_s=5)
    stop = asyncio.Event()
    loop = asyncio.create_task(sender.run_forever(stop))
    await asyncio.sleep(0.05)
    await enqueue(store, ch, "9010", "looped")
    sender.wake()  # without it the idle loop would look again only after 5 s
    for _ in range(100):
        if fake.delivered():
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(loop, 2)
    assert texts(fake) == ["looped"]


@pytest.mark.postgres
async def test_two_senders_on_postgresql_never_send_a_row_twice(pg_url: str, fake: FakeTelegram, telegram: MakeTelegram) -> None:
    ch = code()
    databases = [Database(pg_url), Database(pg_url)]  # two app processes, each with its own pool
    stores = [Store(d, FixedClock(START)) for d in databases]
    senders = [OutboxSender(s, {ch: telegram(fast=True)}, batch=7) for s in stores]
    try:
        expected = []
        for chat in range(40):
            for n in range(3):
                expected.append(f"{ch} chat {chat} msg {n}")
                await enqueue(stores[0], ch, str(50_000 + chat), expected[-1])

        async def work(sender: OutboxSender) -> None:
            idle = 0
            while idle < 3:
                idle = 0 if await sender.run_once() else idle + 1

        await asyncio.wait_for(asyncio.gather(*(work(s) for s in senders)), timeout=20)
        delivered = Counter(texts(fake))
        assert sorted(delivered) == sorted(expected) and set(delivered.values()) == {1}
        assert all(s.stats["sent"] > 0 for s in senders)  # both processes took part
        for chat in range(40):
            mine = [t for t in texts(fake) if t.startswith(f"{ch} chat {chat} ")]
            assert mine == sorted(mine)  # each person's messages in order, across processes
    finally:
        for d in databases:
            await d.dispose()

"""Telegram channel: the real python-telegram-bot SDK against a local fake Bot API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from bot.outbox_sender import OutboxSender
from bot.rate_limit import ChatRateLimiter, TokenBucket
from bot.telegram import TelegramChannel, edit_job_messages, parse_update, split_text
from core.adapters.sql.schema import inbox, outbox
from flows.messages import Choice, Outbound, Poll
from tests.chat import make_photo
from tests.conftest import running_app
from tests.fake_telegram import TOKEN, FakeTelegram
from webhooks.telegram_routes import SECRET_HEADER, poll_forever, set_webhook, telegram_router

# python-telegram-bot 22.x reads its own deprecated int `RetryAfter.retry_after` while building
# the error (opt-in fix: PTB_TIMEDELTA=true); our code reads it without the warning.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Deprecated since version v22.2:telegram.warnings.PTBDeprecationWarning"
)
SECRET = "s3cret-token_for-tests"
USER = 7001


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    """The fake Bot API, served on a free local port for one test."""
    with FakeTelegram() as server:
        yield server


@pytest.fixture
async def tg(fake: FakeTelegram, app_db: Path, tmp_path: Path) -> AsyncIterator[SimpleNamespace]:
    """The whole app plus a Telegram webhook route, a Telegram channel and an outbox sender."""
    async with running_app(app_db, tmp_path / "var") as env:
        runtime: Any = env["runtime"]
        channel = TelegramChannel(TOKEN, secret_token=SECRET, api_base=fake.url, photos=runtime.services.photos)
        await channel.start()
        rt = SimpleNamespace(store=runtime.store, processor=runtime.processor, telegram=channel)
        app = FastAPI()
        app.include_router(telegram_router(lambda request: rt))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield SimpleNamespace(client=client, runtime=runtime, rt=rt, channel=channel, fake=fake,
                                  sender=OutboxSender(runtime.store, {"telegram": channel}))  # fmt: skip
        await channel.close()


def message_update(update_id: int, text: str | None = None, user: int = USER, **content: Any) -> dict[str, Any]:
    """A private-chat message update as Telegram posts it."""
    frm = {"id": user, "is_bot": False, "first_name": "Selvi", "language_code": "ta-IN"}
    msg: dict[str, Any] = {"message_id": update_id * 10, "date": 1_790_000_000, "from": frm,
                           "chat": {"id": user, "type": "private", "first_name": "Selvi"}, **content}  # fmt: skip
    if text is not None:
        msg["text"] = text
    return {"update_id": update_id, "message": msg}


async def post(tg: SimpleNamespace, update: dict[str, Any], secret: str | None = SECRET) -> httpx.Response:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    return await tg.client.post("/webhooks/telegram", json=update, headers=headers)


async def settle(tg: SimpleNamespace) -> None:
    """Run the flows for everything received, then deliver the outbox."""
    await tg.runtime.processor.drain()
    while await tg.sender.run_once():
        pass


def keyboards(call: Any) -> list[str]:
    return [row[0]["callback_data"] for row in call.params["reply_markup"]["inline_keyboard"]]


async def test_a_forged_or_missing_secret_token_is_refused(tg: SimpleNamespace) -> None:
    assert (await post(tg, message_update(1, "/start"), secret="wrong")).status_code == 403
    assert (await post(tg, message_update(1, "/start"), secret=None)).status_code == 403
    await settle(tg)
    assert tg.fake.delivered() == []


async def test_start_from_telegram_is_answered_with_an_inline_keyboard_of_our_payloads(tg: SimpleNamespace) -> None:
    response = await post(tg, message_update(10, "/start"))
    assert response.status_code == 200 and response.json() == {"ok": True, "duplicate": False}
    await settle(tg)
    [call] = tg.fake.of("sendMessage")
    assert call.params["chat_id"] == str(USER)
    assert keyboards(call) == ["lang:ta", "lang:en"]
    async with tg.runtime.store.reader() as uow:
        person = await uow.people.find("telegram", str(USER))
    assert person is not None and person.language == "ta"  # from language_code "ta-IN"


async def test_a_redelivered_update_is_acknowledged_and_not_processed_twice(tg: SimpleNamespace) -> None:
    first = await post(tg, message_update(11, "/start"))
    again = await post(tg, message_update(11, "/start"))
    assert first.json()["duplicate"] is False and again.status_code == 200 and again.json()["duplicate"] is True
    await settle(tg)
    assert len(tg.fake.of("sendMessage")) == 1


async def test_a_button_tap_is_answered_and_handled_as_a_choice(tg: SimpleNamespace) -> None:
    await post(tg, message_update(12, "/start"))
    await settle(tg)
    assert len(tg.fake.of("sendMessage")) == 1
    tap = {"update_id": 13, "callback_query": {
        "id": "cbq-1", "chat_instance": "ci", "data": "lang:en",
        "from": {"id": USER, "is_bot": False, "first_name": "Selvi"},
        "message": {"message_id": 1, "date": 1_790_000_000,
                    "chat": {"id": USER, "type": "private"}, "text": "Choose"}}}  # fmt: skip
    answered = await post(tg, tap)
    # Answered in the webhook's reply (Telegram runs the method named there): no call of our own.
    assert answered.status_code == 200
    assert answered.json() == {"method": "answerCallbackQuery", "callback_query_id": "cbq-1"}
    await settle(tg)
    await asyncio.gather(*list(_background()))
    assert tg.fake.of("answerCallbackQuery") == []
    welcome = tg.fake.of("sendMessage")[-1]
    assert keyboards(welcome) == ["role:donor", "role:restaurant", "role:worker"]


async def test_a_photo_is_downloaded_through_the_bot_api_and_reaches_the_flows(tg: SimpleNamespace) -> None:
    tg.fake.add_file("big-photo", make_photo())
    sizes = [{"file_id": "small-photo", "file_unique_id": "a", "width": 90, "height": 67},
             {"file_id": "big-photo", "file_unique_id": "b", "width": 320, "height": 240}]  # fmt: skip
    assert (await post(tg, message_update(14, None, photo=sizes))).status_code == 200
    await settle(tg)
    assert [c.params["file_id"] for c in tg.fake.of("getFile")] == ["big-photo"]
    assert "போட்டோ" in tg.fake.of("sendMessage")[-1].params["text"]  # "did they agree to be photographed?" (in Tamil)


async def test_a_location_and_a_poll_answer_arrive_in_neutral_form(tg: SimpleNamespace) -> None:
    async with tg.runtime.store.uow() as uow:
        vote = Outbound("Vote", poll=Poll("Raise the fee?", ("Yes", "No"), "proposal:3"))
        await uow.outbox.enqueue("telegram", str(USER), vote.to_payload())
    await settle(tg)
    [sent_poll] = tg.fake.of("sendPoll")
    assert sent_poll.params["is_anonymous"] is False and [o["text"] for o in sent_poll.params["options"]] == ["Yes", "No"]
    await post(tg, message_update(15, None, location={"latitude": 13.08, "longitude": 80.27}))
    vote = {"update_id": 16, "poll_answer": {"poll_id": "5000", "option_ids": [1], "option_persistent_ids": ["1"],
                                             "user": {"id": USER, "is_bot": False, "first_name": "Selvi"}}}  # fmt: skip
    assert (await post(tg, vote)).status_code == 200
    await tg.runtime.processor.drain()
    async with tg.runtime.store.reader() as uow:
        rows = (await uow.conn.execute(select(inbox.c.payload).where(inbox.c.channel == "telegram").order_by(inbox.c.id))).all()
    payloads = [json.loads(r.payload) for r in rows]
    assert payloads[0]["kind"] == "location" and payloads[0]["lat"] == 13.08
    assert payloads[1]["kind"] == "poll_answer" and payloads[1]["poll_options"] == [1]
    assert payloads[1]["poll_id"] == "proposal:3" and payloads[1]["provider_poll_id"] == "5000"


async def test_photo_with_long_caption_buttons_and_location_is_sent_in_parts(tg: SimpleNamespace) -> None:
    photo_id = await tg.runtime.services.photos.put(make_photo())
    long_text = "Job #9 is yours. " + "x" * 1100
    message = Outbound(long_text, (Choice("Picked up", "pickup:9"),), photo_id, meta={"location": [13.0, 80.2]})
    async with tg.runtime.store.uow() as uow:
        row_id = await uow.outbox.enqueue("telegram", str(USER), message.to_payload())
    await settle(tg)
    [photo] = tg.fake.of("sendPhoto")
    [rest] = tg.fake.of("sendMessage")
    [where] = tg.fake.of("sendLocation")
    assert len(photo.params["caption"]) == 1024 and photo.file and photo.file.startswith(b"\xff\xd8")
    assert photo.params["caption"] + rest.params["text"] == long_text
    assert keyboards(rest) == ["pickup:9"] and float(where.params["latitude"]) == 13.0
    async with tg.runtime.store.reader() as uow:
        status, kept_id = (await uow.conn.execute(select(outbox.c.status, outbox.c.provider_message_id)
                                                  .where(outbox.c.id == row_id))).one()  # fmt: skip
    assert status == "sent" and kept_id == str(rest.result["message_id"])  # the part with the buttons


async def test_a_claimed_jobs_other_offers_are_edited_to_say_it_was_taken(tg: SimpleNamespace) -> None:
    async with tg.runtime.store.uow() as uow:
        for worker in ("801", "802", "803"):
            offer = Outbound("New job #77", (Choice("Claim", "claim:77"),), meta={"job": 77})
            await uow.outbox.enqueue("telegram", worker, offer.to_payload())
        await uow.outbox.enqueue("telegram", "804", Outbound("New job #770", meta={"job": 770}).to_payload())
    await settle(tg)
    edited = await edit_job_messages(tg.runtime.store, tg.channel, 77, "Job #77 was taken.", exclude={"801"})
    assert edited == 2
    assert sorted(chat for chat, _ in tg.fake.edits) == ["802", "803"]
    assert all("reply_markup" not in c.params for c in tg.fake.of("editMessageText"))


async def test_set_webhook_and_long_polling_for_development(tg: SimpleNamespace) -> None:
    url = await set_webhook(tg.channel, "https://ketpaar.example/")
    [call] = tg.fake.of("setWebhook")
    assert url == "https://ketpaar.example/webhooks/telegram" and call.params["secret_token"] == SECRET
    tg.fake.push_update(message_update(20, "/start", user=7002))
    tg.fake.push_update(message_update(21, "/help", user=7002))
    tg.fake.push_update({"update_id": 22, "callback_query": {
        "id": "cbq-poll", "chat_instance": "ci", "data": "lang:en", "from": {"id": 7002, "is_bot": False, "first_name": "Ravi"},
        "message": {"message_id": 1, "date": 1_790_000_000, "chat": {"id": 7002, "type": "private"}, "text": "Choose"}}})  # fmt: skip
    stop = asyncio.Event()
    polling = asyncio.create_task(poll_forever(tg.rt, tg.channel, stop, timeout_s=1))
    for _ in range(200):
        await asyncio.sleep(0.02)
        async with tg.runtime.store.reader() as uow:
            if len((await uow.conn.execute(select(inbox.c.id).where(inbox.c.address == "7002"))).all()) == 3:
                break
    stop.set()
    assert await polling == 3
    offsets = [c.params.get("offset") for c in tg.fake.of("getUpdates")]
    assert offsets[0] is None and set(offsets[1:]) <= {23}  # only stored updates are confirmed
    await asyncio.gather(*list(_background()))  # no webhook reply to answer a tap in: the Bot API is called
    assert [c.params["callback_query_id"] for c in tg.fake.of("answerCallbackQuery")] == ["cbq-poll"]


def test_update_parsing_ignores_groups_and_keeps_text_from_unusual_messages() -> None:
    from telegram import Bot

    bot = Bot(TOKEN)
    group = message_update(30, "hi")
    group["message"]["chat"] = {"id": -5, "type": "group", "title": "g"}
    assert parse_update(group, bot) is None
    sticker = message_update(31, None, sticker={"file_id": "s", "file_unique_id": "s", "type": "regular",
                                                "width": 1, "height": 1, "is_animated": False, "is_video": False})  # fmt: skip
    parsed = parse_update(sticker, bot)
    assert parsed is not None and parsed.payload["kind"] == "text" and parsed.payload["text"] == ""
    assert parsed.provider_id == f"31:{USER}:310" and parsed.payload["language_hint"] == "ta"


def test_long_texts_are_cut_at_telegram_limits_counting_an_emoji_as_two() -> None:
    tamil = "வணக்கம் நண்பரே " * 100
    head, rest = split_text(tamil, 1024)
    assert len(head) <= 1024 and head.endswith(" ") and head + rest == tamil
    head, rest = split_text("😀" * 600, 1024)
    assert len(head) == 512 and head + rest == "😀" * 600


def test_token_buckets_space_requests_and_a_pause_moves_everyone_back() -> None:
    bucket = TokenBucket(rate=2, burst=2)
    assert [bucket.reserve(100.0) for _ in range(4)] == [100.0, 100.0, 100.5, 101.0]
    bucket.pause(100.0, 5)
    assert bucket.reserve(100.0) == 105.0 and bucket.reserve(100.0) == 105.5  # no burst after a pause


async def test_the_limiter_keeps_one_chat_to_about_one_message_a_second() -> None:
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    limiter = ChatRateLimiter(per_second=30, per_chat_per_second=1, chat_burst=1, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        await limiter.acquire("a")
    assert now[0] == pytest.approx(2.0)
    limiter.retry_after(3, "b")
    await limiter.acquire("c")
    assert now[0] == pytest.approx(5.0)  # flood control pauses the whole bot


def _background() -> set[asyncio.Task[None]]:
    from webhooks.telegram_routes import _Background

    return set(_Background.tasks)

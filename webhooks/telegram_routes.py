"""Telegram in: the webhook route (verify, parse, store, hand off, answer) and dev long polling."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Callable
from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from telegram.error import BadRequest, TelegramError

from bot.processor import InboxProcessor
from bot.telegram import CODE, Parsed, TelegramChannel, download_photo, parse_update
from core.adapters.sql.uow import Store
from webhooks.uploads import BodyTooLarge, read_limited

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 1_000_000
ALLOWED_UPDATES = ["message", "callback_query", "poll_answer"]


class TelegramRuntime(Protocol):
    """What the route needs from the app's runtime."""

    store: Store
    processor: InboxProcessor
    telegram: TelegramChannel | None


class _Background:
    """Keeps fire-and-forget tasks referenced until they finish."""

    tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def run(cls, coro: Any) -> None:
        task = asyncio.create_task(coro)
        cls.tasks.add(task)
        task.add_done_callback(cls.tasks.discard)


def telegram_router(get_runtime: Callable[[Request], TelegramRuntime]) -> APIRouter:
    """POST /webhooks/telegram: 403 without the secret token; 200 once the update is stored.

    A button tap (callback query) is answered in the response itself: Telegram runs a Bot API
    method named in a webhook's reply (answerCallbackQuery, which stops the button's spinner), so
    the tap costs no request of ours to the Bot API; its result is not known, as with a call that
    times out, and a second answer to one query is refused by Telegram harmlessly."""
    router = APIRouter()

    @router.post("/webhooks/telegram", include_in_schema=False)
    async def webhook(request: Request) -> Response:
        runtime = get_runtime(request)
        channel = runtime.telegram
        if channel is None or not channel.secret_token:
            return JSONResponse({"error": "telegram is not configured"}, status_code=404)
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), channel.secret_token.encode()):
            return JSONResponse({"error": "forbidden"}, status_code=403)
        try:
            body = await read_limited(request, MAX_UPDATE_BYTES)
        except BodyTooLarge:
            return JSONResponse({"error": "update too large"}, status_code=413)
        try:
            data = json.loads(body)
            parsed = parse_update(data, channel.bot)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # A malformed update would be redelivered forever if refused; log it and move on.
            log.warning("telegram: unreadable update ignored: %s", exc)
            return JSONResponse({"ok": True, "ignored": True})
        if parsed is None:
            return JSONResponse({"ok": True, "ignored": True})
        try:
            new = await receive(runtime, channel, parsed, answer_tap=False)
        except TelegramError as exc:
            # The photo could not be fetched now: let Telegram redeliver the update later.
            log.warning("telegram: update %s postponed: %s", parsed.provider_id, exc)
            return JSONResponse({"error": "try again"}, status_code=503)
        if parsed.callback_query_id is not None:
            return JSONResponse({"method": "answerCallbackQuery", "callback_query_id": parsed.callback_query_id})
        return JSONResponse({"ok": True, "duplicate": not new})

    return router


async def receive(runtime: TelegramRuntime, channel: TelegramChannel, parsed: Parsed, *, answer_tap: bool = True) -> bool:
    """Store one parsed update (fetching its photo first) and schedule the flows; True if new.
    A button tap is answered through the Bot API (`answer_tap`) unless the caller answers it in
    a webhook's reply."""
    payload = parsed.payload
    photo = None
    if parsed.photo_file_id is not None:
        try:
            photo = await download_photo(channel.bot, parsed.photo_file_id)
        except BadRequest as exc:  # e.g. "file is too big": the flows ask for another photo
            log.warning("telegram: photo %s not downloadable: %s", parsed.photo_file_id, exc)
            photo = b""
    if payload["kind"] == "poll_answer":
        payload = await _with_poll_ref(runtime.store, payload)
    _, new = await runtime.processor.receive(CODE, parsed.provider_id, parsed.address, payload, photo)
    if answer_tap and parsed.callback_query_id is not None:
        _Background.run(_answer(channel, parsed.callback_query_id))
    return new


async def _with_poll_ref(store: Store, payload: dict[str, Any]) -> dict[str, Any]:
    """Replace Telegram's poll id with our Poll.ref (e.g. "proposal:3") when we sent that poll."""
    async with store.reader() as uow:
        row = await uow.outbox.by_provider_suffix(CODE, f"/poll/{payload['poll_id']}")
    ref = ((row.payload.get("poll") or {}).get("ref")) if row else None
    return {**payload, "provider_poll_id": payload["poll_id"], "poll_id": ref or payload["poll_id"]}


async def _answer(channel: TelegramChannel, callback_query_id: str) -> None:
    """Stop the tapped button's spinner; the reply itself comes through the outbox."""
    try:
        await channel.bot.answer_callback_query(callback_query_id)
    except TelegramError as exc:  # a redelivered or old query cannot be answered twice
        log.info("telegram: callback %s not answered: %s", callback_query_id, exc)


async def set_webhook(channel: TelegramChannel, public_url: str, *, drop_pending: bool = False) -> str:
    """Point Telegram at <public_url>/webhooks/telegram with our secret token; return the URL."""
    if not channel.secret_token:
        raise ValueError("set KETPAAR_TELEGRAM_SECRET_TOKEN first: the webhook refuses updates without it")
    url = public_url.rstrip("/") + "/webhooks/telegram"
    await channel.bot.set_webhook(url, secret_token=channel.secret_token, allowed_updates=ALLOWED_UPDATES,
                                  drop_pending_updates=drop_pending)  # fmt: skip
    return url


async def poll_forever(runtime: TelegramRuntime, channel: TelegramChannel, stop: asyncio.Event, *,
                       timeout_s: int = 30, error_pause_s: float = 3.0) -> int:  # fmt: skip
    """Development without a public URL: long-poll getUpdates and handle updates like the webhook.

    An update is confirmed (the next offset) only after it is stored, so a crash replays it and
    the inbox's deduplication drops what was already stored. Returns how many were received."""
    await channel.bot.delete_webhook()
    offset, received = 0, 0
    while not stop.is_set():
        fetch = asyncio.ensure_future(
            channel.bot.get_updates(offset=offset or None, timeout=timeout_s, allowed_updates=ALLOWED_UPDATES)
        )
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not fetch.done():  # stopped mid-poll: nothing fetched is lost, it was not confirmed
            fetch.cancel()
            break
        try:
            updates = fetch.result()
        except TelegramError as exc:
            log.warning("telegram: getUpdates failed: %s", exc)
            await _pause(stop, error_pause_s)
            continue
        for update in updates:
            data = update.to_dict()
            parsed = parse_update(data, channel.bot)
            if parsed is not None:
                try:
                    await receive(runtime, channel, parsed)
                except TelegramError as exc:
                    log.warning("telegram: update %s postponed: %s", parsed.provider_id, exc)
                    break  # not confirmed: fetched again on the next poll
                received += 1
            offset = update.update_id + 1
    return received


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass

"""The FastAPI application: web chat, photo links, public audit API, health."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from bot import webchat
from bot.twilio_common import TwilioConfig
from core.audit import audit
from core.clock import Clock
from core.photos import MAX_BYTES
from core.screening import Screener
from webhooks.runtime import Runtime, build_runtime, start_background
from webhooks.settings import Settings
from webhooks.telegram_routes import telegram_router
from webhooks.twilio_routes import twilio_router
from webhooks.uploads import PhotoTooLarge, read_photo_upload

STATIC = Path(__file__).with_name("static")
MAX_WAIT_S = 25.0
POLL_INTERVAL_S = 0.5


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None, screener: Screener | None = None) -> FastAPI:
    """Build the app; the runtime is created in the lifespan, never at import."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await build_runtime(settings, clock=clock, screener=screener)
        app.state.runtime = runtime
        await start_background(runtime)
        try:
            yield
        finally:
            await runtime.close()

    app = FastAPI(title="Ketpaar", lifespan=lifespan)

    def rt(request: Request) -> Runtime:
        runtime: Runtime = request.app.state.runtime
        return runtime

    # Provider webhooks: a channel whose settings are absent is simply off.
    if settings.telegram_bot_token:
        app.include_router(telegram_router(rt))
    twilio = TwilioConfig.from_settings(settings)
    if twilio.enabled:
        app.include_router(twilio_router(rt, twilio))

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/healthz")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/webchat/{user}/messages", status_code=202)
    async def post_message(user: str, request: Request) -> Response:
        if not webchat.valid_user(user):
            return _error(400, "user ids are 1-64 letters, digits or . _ @ + -")
        photo: bytes | None = None
        content_type = request.headers.get("content-type", "")
        try:
            if content_type.startswith("multipart/form-data"):
                payload, photo = await _read_photo(request)
            else:
                try:
                    body = await request.json()
                except ValueError:
                    return _error(400, "the body is not valid JSON")
                payload = webchat.parse_json(body)
        except webchat.WebchatInputError as exc:
            return _error(422, str(exc))
        except PhotoTooLarge:
            return _error(413, f"the photo is larger than {MAX_BYTES // (1024 * 1024)} MB")
        client_id = request.headers.get("idempotency-key") or uuid.uuid4().hex
        message_id, new = await rt(request).processor.receive(webchat.CHANNEL, client_id[:128], user, payload, photo)
        return JSONResponse({"id": message_id, "duplicate": not new}, status_code=202)

    @app.get("/webchat/{user}/messages")
    async def get_messages(user: str, request: Request, after: int = 0, wait: float = 0) -> Response:
        if not webchat.valid_user(user):
            return _error(400, "user ids are 1-64 letters, digits or . _ @ + -")
        runtime = rt(request)
        deadline = asyncio.get_running_loop().time() + min(max(wait, 0), MAX_WAIT_S)
        while True:
            async with runtime.store.reader() as uow:
                rows = await uow.outbox.for_recipient(webchat.CHANNEL, user, after)
            if rows or asyncio.get_running_loop().time() >= deadline or await request.is_disconnected():
                break
            # Long polling: woken at once by this process's commits, re-read every interval
            # for messages committed by other app processes.
            await runtime.store.outbox_changed(POLL_INTERVAL_S)
        messages = [webchat.render(runtime.secret, user, i, p) for i, p in rows]
        return JSONResponse({"messages": messages, "cursor": rows[-1][0] if rows else after})

    @app.get("/webchat/{user}/photos/{photo_id}")
    async def get_photo(user: str, photo_id: str, request: Request, exp: int = 0, sig: str = "") -> Response:
        runtime = rt(request)
        if not webchat.link_valid(runtime.secret, user, photo_id, exp, sig):
            return _error(403, "this photo link is not valid or has expired")
        async with runtime.store.reader() as uow:
            record = await uow.photos.get(photo_id)
        data = await runtime.services.photos.get(photo_id) if record else None
        if data is None:
            return _error(404, "this photo is no longer available")
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})

    @app.get("/api/ledger/verify")
    async def verify(request: Request) -> dict[str, Any]:
        report = await audit(rt(request).store)
        return {"ok": report.ok, "events": report.events, "head": report.head,
                "transactions": report.transactions, "problem": report.problem or None}  # fmt: skip

    @app.get("/api/ledger/balances")
    async def balances(request: Request) -> dict[str, Any]:
        async with rt(request).store.reader() as uow:
            accounts = await uow.ledger.balances()
        return {"currency": "INR", "unit": "paise", "accounts": dict(sorted(accounts.items()))}

    return app


async def _read_photo(request: Request) -> tuple[dict[str, Any], bytes]:
    """Read the multipart `photo` field as it streams in, refusing the upload once it passes the limit."""
    return {"kind": "photo"}, await read_photo_upload(request, MAX_BYTES)

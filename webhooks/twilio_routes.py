"""Twilio webhooks (WhatsApp, SMS) and the signed media links Twilio fetches our photos from."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import FormData, UploadFile
from twilio.request_validator import RequestValidator, get_signature_algorithm

from bot import sms, whatsapp
from bot.twilio_common import InboundWindow, MediaError, TwilioConfig, fetch_media, media_link_valid
from core.payments.statements import MAX_FILE_BYTES
from core.seekers.photos import MAX_BYTES
from webhooks.uploads import BodyTooLarge, image_media_type, read_limited

log = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _twiml() -> Response:
    return Response(EMPTY_TWIML, media_type="application/xml")


MAX_FORM_BYTES = 64 * 1024

def twilio_router(
    get_runtime: Callable[[Request], Any],
    config: TwilioConfig,
    *,
    window: InboundWindow | None = None,
) -> APIRouter:
    """Routes for Twilio; `get_runtime(request)` gives the Runtime, `window` (optional) notes
    WhatsApp inbound times when the channel is not given a database-backed `last_inbound_at`."""
    router = APIRouter()
    validator = RequestValidator(config.webhook_signing_key or config.auth_token)

    async def verified_form(request: Request) -> FormData | None:
        """The posted form if X-Twilio-Signature matches public_url + path + query, else None."""
        signature = request.headers.get("x-twilio-signature")
        if not signature:
            return None
        # Twilio posts small url-encoded forms (media come as URLs): read at most 64 KB, so an
        # unsigned flood cannot make the server buffer anything large before the check.
        body = await read_limited(request, MAX_FORM_BYTES)
        fields: list[tuple[str, str | UploadFile]] = list(
            parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=200))
        form = FormData(fields)
        query = f"?{request.url.query}" if request.url.query else ""
        url = config.public_url.rstrip("/") + request.url.path + query
        settings = request.headers.get("x-twilio-webhooks-signature-settings")
        algorithm = get_signature_algorithm(settings)
        return form if validator.validate(url, form, signature, algorithm) else None

    async def store(
        request: Request, channel: str, form: FormData, payload: dict[str, Any]
    ) -> Response:
        """Fetch an attached photo, then hand the message to the inbox (deduplicated by sid)."""
        sid, address = form.get("MessageSid") or form.get("SmsMessageSid"), form.get("From")
        if not isinstance(sid, str) or not isinstance(address, str) or not sid or not address:
            return _error(400, "MessageSid and From are required")
        photo = None
        if payload["kind"] == "photo":
            try:
                photo = await fetch_media(config, str(whatsapp.image_url(form)), MAX_BYTES)
            except MediaError as exc:  # kept as text: the person gets an answer, not silence
                log.warning("photo of %s %s not fetched: %s", channel, sid, exc)
                payload = {**payload, "kind": "text", "media_error": str(exc)}
        elif payload["kind"] == "document":
            # A treasurer's statement: fetched up to the statement limit; a file that is not CSV, too
            # large or not fetched reaches the flows without its bytes, and is refused politely there.
            url, csv = whatsapp.attached_document(form) or ("", False)
            if csv:
                try:
                    photo = await fetch_media(config, url, MAX_FILE_BYTES)
                except MediaError as exc:
                    log.warning("document of %s %s not fetched: %s", channel, sid, exc)
        if channel == whatsapp.CHANNEL and window is not None:
            window.note(address)
        await get_runtime(request).processor.receive(channel, sid, address, payload, photo)
        return _twiml()

    async def checked_form(request: Request) -> FormData | Response:
        try:
            form = await verified_form(request)
        except BodyTooLarge:
            return _error(413, "the form is too large")
        except ValueError:  # more fields than any Twilio webhook sends
            return _error(400, "the form is not one Twilio sends")
        return form if form is not None else _error(403, "invalid Twilio signature")

    @router.post("/webhooks/twilio/whatsapp")
    async def whatsapp_inbound(request: Request) -> Response:
        form = await checked_form(request)
        if isinstance(form, Response):
            return form
        return await store(request, whatsapp.CHANNEL, form, whatsapp.whatsapp_payload(form))

    @router.post("/webhooks/twilio/sms")
    async def sms_inbound(request: Request) -> Response:
        form = await checked_form(request)
        if isinstance(form, Response):
            return form
        if whatsapp.image_url(form):  # MMS, where carriers support it
            payload: dict[str, Any] = {"kind": "photo", "text": str(form.get("Body") or "")}
        else:
            payload = sms.sms_payload(str(form.get("Body") or ""))
        return await store(request, sms.CHANNEL, form, payload)

    @router.get("/media/{photo_id}")
    async def media(photo_id: str, request: Request, exp: int = 0, sig: str = "") -> Response:
        runtime = get_runtime(request)
        if not media_link_valid(runtime.secret, photo_id, exp, sig):
            return _error(403, "this media link is not valid or has expired")
        async with runtime.store.reader() as uow:
            record = await uow.photos.get(photo_id)
        data = await runtime.services.photos.get(photo_id) if record else None
        if data is None:
            return _error(404, "this photo is no longer available")
        headers = {"Cache-Control": "private, no-store"}
        return Response(data, media_type=image_media_type(data), headers=headers)

    return router

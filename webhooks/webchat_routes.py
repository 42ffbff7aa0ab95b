"""Web chat over HTTP: sessions, messages in and out, photo links, admin sign-in, demo users.

A web-chat identity is proven only by a session the server issued (HttpOnly cookie for the page,
bearer token for API clients); the name in a URL proves nothing. In demo mode on a loopback
address the seeded demo users may still be driven by URL, without a session."""

from __future__ import annotations

import asyncio
import hashlib
import html
import ipaddress
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from bot import webchat
from bot.accept import Limited, Proof, Refused, Submission
from bot.documents import is_csv
from bot.processor import IdempotencyConflict
from core.members.identity import check_session, open_session, sign_in_admin, well_formed
from core.payments.statements import MAX_FILE_BYTES
from core.seekers.photo_access import view_photo
from core.seekers.photos import MAX_BYTES
from flows.i18n import translator
from webhooks.demo import DEMO_USERS
from webhooks.runtime import Runtime
from webhooks.settings import Settings
from webhooks.uploads import DOCUMENT_FIELD, PHOTO_FIELD, BodyTooLarge, PhotoTooLarge, image_media_type, read_limited, read_upload

COOKIE = "ketpaar_session"
MAX_WAIT_S = 25.0
POLL_INTERVAL_S = 0.5
MAX_JSON_BYTES = 64 * 1024
MAX_CURSOR = 2**62  # outbox sequence numbers are 64-bit in the database
MAX_KEY_CHARS = 256
PHOTO_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


@dataclass(frozen=True)
class Caller:
    """Who a request proved itself to be: a web-chat address, and what its photo links bind to."""

    address: str
    binding: str  # "s:<session id>" or "demo:<user>"
    base: str  # URL prefix of this caller's routes


def _error(status: int, error: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": error, **extra}, status_code=status)


def _loopback_client(request: Request) -> bool:
    # A reverse proxy on this machine makes every visitor look local: a forwarded request is not.
    if "x-forwarded-for" in request.headers or "forwarded" in request.headers:
        return False
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in ("testclient", "localhost")


def _token(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.cookies.get(COOKIE)


def webchat_router(rt: Callable[[Request], Runtime], settings: Settings) -> APIRouter:
    """The web-chat routes, with their per-IP and per-person limits."""
    router = APIRouter()

    async def ip_allowed(request: Request) -> bool:
        return await rt(request).limits.hit("posts-ip", ip_of(request), settings.ip_rate_per_minute, 60.0)

    async def new_session_allowed(request: Request) -> bool:
        return await rt(request).limits.hit("sessions-ip", ip_of(request), settings.sessions_per_ip_per_hour, 3600.0)

    secure_cookie = settings.public_url.startswith("https://")

    def set_cookie(response: Response, token: str, max_age: int) -> None:
        response.set_cookie(COOKIE, token, max_age=max_age, httponly=True, samesite="strict", secure=secure_cookie, path="/")

    def ip_of(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    async def caller_for(request: Request, user: str | None) -> Caller | JSONResponse:
        """The proven caller, or the error response that refuses the request."""
        runtime = rt(request)
        token = _token(request)
        session = None
        if token:
            async with runtime.store.reader() as uow:
                session = await check_session(uow, token)
        if user is None:
            if session is None:
                return _error(401, "sign in first: POST /webchat/session starts a session")
            return Caller(session.address, f"s:{session.id}", "/webchat")
        if not webchat.valid_user(user):
            return _error(400, "user ids are 1-64 letters, digits or . _ @ + -")
        if session is not None and session.address == user:
            return Caller(user, f"s:{session.id}", f"/webchat/{user}")
        if settings.demo_open() and user in DEMO_USERS and _loopback_client(request):
            return Caller(user, f"demo:{user}", f"/webchat/{user}")
        return _error(403 if session else 401, "this chat needs its own session: the name in the URL proves nothing")

    async def polite_limit(request: Request, address: str) -> JSONResponse:
        async with rt(request).store.reader() as uow:
            person = await uow.people.find(webchat.CHANNEL, address)
        _ = translator(person.language if person else "en", webchat.CHANNEL)
        text = _("You are sending messages very fast. Please wait a minute, then send it again.")
        return _error(429, "too many messages", message=text)

    async def document_refusal(request: Request, address: str) -> str:
        """Why a file was not taken, in the sender's language (the page shows it in the chat)."""
        async with rt(request).store.reader() as uow:
            person = await uow.people.find(webchat.CHANNEL, address)
        _ = translator(person.language if person else "en", webchat.CHANNEL)
        return _("I could not take that file: send the bank statement as a CSV file of at most 5 MB.")

    def demo_allowed(request: Request, user: str | None) -> bool:
        return user is not None and settings.demo_open() and user in DEMO_USERS and _loopback_client(request)

    def refusal(status: int, user: str | None) -> JSONResponse:
        """What caller_for answers when the session does not prove the sender."""
        if user is None:
            return _error(401, "sign in first: POST /webchat/session starts a session")
        return _error(status, "this chat needs its own session: the name in the URL proves nothing")

    async def post_message(request: Request, user: str | None) -> Response:
        """Store a message from the proven sender. For a JSON body the session is checked in the very
        transaction that stores it (one short transaction per POST, shared with the POSTs arriving at
        the same time); a photo or document upload is only read once its session has been checked."""
        if user is not None and not webchat.valid_user(user):
            return _error(400, "user ids are 1-64 letters, digits or . _ @ + -")
        token = _token(request)
        proof: Proof | None = None
        address: str | None = None
        if token is not None and well_formed(token):
            proof = Proof(token, user, fallback=demo_allowed(request, user))
        elif demo_allowed(request, user):
            address = user  # a demo user on loopback, driven by URL in demo mode only
        else:
            return refusal(401, user)
        multipart = request.headers.get("content-type", "").startswith("multipart/form-data")
        ip_ok = await ip_allowed(request)
        if multipart or not ip_ok:
            caller = await caller_for(request, user)  # a read first: never read a large upload for nobody
            if isinstance(caller, JSONResponse):
                return caller
            if not ip_ok:
                return await polite_limit(request, caller.address)
            proof, address = None, caller.address
        key = request.headers.get("idempotency-key")
        if key is not None and not 0 < len(key) <= MAX_KEY_CHARS:
            return _error(400, f"Idempotency-Key must be 1-{MAX_KEY_CHARS} characters")
        photo: bytes | None = None
        try:
            if multipart:
                payload, photo = await _read_photo(request)
            else:
                payload = webchat.parse_json(await _read_json(request))
        except webchat.WebchatInputError as exc:
            return _error(422, str(exc))
        except BodyError as exc:
            return _error(exc.status, str(exc))
        except PhotoTooLarge as exc:
            if exc.args[:1] == (DOCUMENT_FIELD.decode(),):
                return _error(413, f"the document is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB",
                              message=await document_refusal(request, address or ""))  # fmt: skip
            return _error(413, f"the photo is larger than {MAX_BYTES // (1024 * 1024)} MB")
        except NotAStatement:
            return _error(415, "send a bank statement as a CSV file", message=await document_refusal(request, address or ""))

        def provider_id(sender: str) -> str:
            # Keys are scoped to the sender and hashed whole: another person's key, or a long key
            # sharing a prefix, never matches this one.
            return hashlib.sha256(f"{sender}\n{key}".encode()).hexdigest() if key else uuid.uuid4().hex

        limits = rt(request).limits

        async def person_allowed(sender: str) -> bool:
            return await limits.hit("posts-person", sender, settings.person_rate_per_minute, 60.0)

        sub = Submission(webchat.CHANNEL, provider_id, address, payload, proof, admit=person_allowed)
        try:
            accepted = await rt(request).processor.accept(sub, photo, check_body=key is not None)
        except Refused as exc:
            return refusal(exc.status, user)
        except Limited as exc:
            return await polite_limit(request, exc.address)
        except IdempotencyConflict:
            return _error(409, "this Idempotency-Key was already used for a different message")
        return JSONResponse({"id": accepted.id, "duplicate": not accepted.new}, status_code=202)

    async def get_messages(request: Request, caller: Caller, after: int, wait: float) -> Response:
        runtime = rt(request)
        deadline = asyncio.get_running_loop().time() + min(wait, MAX_WAIT_S)
        while True:
            # The ticket is taken before the read: a reply committed while the read is under way
            # wakes the wait at once instead of waiting out the interval.
            seen = runtime.store.outbox_commits
            async with runtime.store.reader() as uow:
                rows = await uow.outbox.for_recipient(webchat.CHANNEL, caller.address, after)
            if rows or asyncio.get_running_loop().time() >= deadline or await request.is_disconnected():
                break
            # Long polling: woken at once by this process's commits, re-read every interval
            # for messages committed by other app processes.
            await runtime.store.outbox_changed(POLL_INTERVAL_S, seen)
        messages = [webchat.render(runtime.secret, caller.binding, caller.base, i, p) for i, p in rows]
        return JSONResponse({"messages": messages, "cursor": rows[-1][0] if rows else after})

    async def get_photo(request: Request, caller: Caller, photo_id: str, exp: int, sig: str) -> Response:
        runtime = rt(request)
        if not PHOTO_ID.fullmatch(photo_id) or not webchat.link_valid(runtime.secret, caller.binding, photo_id, exp, sig):
            return _error(403, "this photo link is not valid or has expired")
        async with runtime.store.uow() as uow:  # an admin's read for a dispute is logged in the chain
            person = await uow.people.find(webchat.CHANNEL, caller.address)
            allowed = person is not None and await view_photo(uow, person.id, photo_id)
        data = await runtime.services.photos.get(photo_id) if allowed else None
        if data is None:
            return _error(404 if allowed else 403, "this photo is no longer available to you")
        return Response(data, media_type=image_media_type(data), headers={"Cache-Control": "private, no-store"})

    Cursor = Query(0, ge=0, le=MAX_CURSOR)
    Wait = Query(0.0, ge=0.0, le=MAX_WAIT_S, allow_inf_nan=False)
    Exp = Query(0, ge=0, le=2**40)
    Sig = Query("", max_length=64)

    @router.get("/webchat/config")
    async def config(request: Request) -> dict[str, Any]:
        """What the page should offer: demo users only in demo mode on loopback."""
        demo = settings.demo_open() and _loopback_client(request)
        return {"demo": demo, "demo_users": sorted(DEMO_USERS) if demo else []}

    @router.post("/webchat/session")
    async def new_session(request: Request) -> Response:
        """Start a web-chat session for a new visitor (a fresh identity, never a chosen name)."""
        if not await new_session_allowed(request):
            return _error(429, "too many new sessions from this address; try again later")
        source = webchat.session_source(rt(request).secret, ip_of(request))  # caps its share of wrong link codes
        async with rt(request).store.uow() as uow:
            token, session = await open_session(uow, source=source)
        response = JSONResponse({"address": session.address, "token": token}, status_code=201)
        set_cookie(response, token, 30 * 24 * 3600)
        return response

    @router.get("/webchat/me")
    async def me(request: Request) -> Response:
        """Who this session is."""
        caller = await caller_for(request, None)
        if isinstance(caller, JSONResponse):
            return caller
        async with rt(request).store.reader() as uow:
            person = await uow.people.find(webchat.CHANNEL, caller.address)
        return JSONResponse({"address": caller.address, "name": person.name if person else None,
                             "admin": bool(person and person.is_admin)})  # fmt: skip

    @router.post("/webchat/logout")
    async def logout(request: Request) -> Response:
        """End this session."""
        caller = await caller_for(request, None)
        if isinstance(caller, JSONResponse):
            return caller
        async with rt(request).store.uow() as uow:
            await uow.identity.revoke_session(caller.binding[2:])
        response = JSONResponse({"ok": True})
        response.delete_cookie(COOKIE, path="/")
        return response

    @router.post("/webchat/messages", status_code=202)
    async def post_own(request: Request) -> Response:
        """Send a message as this session's person."""
        return await post_message(request, None)

    @router.get("/webchat/messages")
    async def get_own(request: Request, after: int = Cursor, wait: float = Wait) -> Response:
        """Messages for this session's person after a cursor (long poll up to 25 s)."""
        caller = await caller_for(request, None)
        return caller if isinstance(caller, JSONResponse) else await get_messages(request, caller, after, wait)

    @router.get("/webchat/photos/{photo_id}")
    async def photo_own(request: Request, photo_id: str, exp: int = Exp, sig: str = Sig) -> Response:
        """A photo shown to this session's person, while they may still see it."""
        caller = await caller_for(request, None)
        return caller if isinstance(caller, JSONResponse) else await get_photo(request, caller, photo_id, exp, sig)

    @router.post("/webchat/{user}/messages", status_code=202)
    async def post_as(user: str, request: Request) -> Response:
        """Send as `user`: their session, or a demo user in demo mode on loopback."""
        return await post_message(request, user)

    @router.get("/webchat/{user}/messages")
    async def get_as(user: str, request: Request, after: int = Cursor, wait: float = Wait) -> Response:
        """Messages for `user` (their session, or a demo user in demo mode on loopback)."""
        caller = await caller_for(request, user)
        return caller if isinstance(caller, JSONResponse) else await get_messages(request, caller, after, wait)

    @router.get("/webchat/{user}/photos/{photo_id}")
    async def photo_as(user: str, photo_id: str, request: Request, exp: int = Exp, sig: str = Sig) -> Response:
        """A photo shown to `user`, bound to the same proof as the messages that carried it."""
        caller = await caller_for(request, user)
        return caller if isinstance(caller, JSONResponse) else await get_photo(request, caller, photo_id, exp, sig)

    @router.get("/webchat/admin-login", include_in_schema=False)
    async def admin_login_page(token: str = Query("", max_length=512)) -> HTMLResponse:
        """A button that spends the link: opening the link alone (a preview bot) spends nothing."""
        return HTMLResponse(_ADMIN_PAGE.format(token=html.escape(token, quote=True)), headers={"Cache-Control": "no-store"})

    @router.post("/webchat/admin-login", include_in_schema=False)
    async def admin_login(request: Request) -> Response:
        """Spend a one-time admin sign-in link and open an admin session."""
        if not await new_session_allowed(request):
            return HTMLResponse(_ADMIN_REFUSED, status_code=429)
        body = await request.body()
        token = (parse_qs(body[:4096].decode("ascii", "replace")).get("token") or [""])[0]
        runtime = rt(request)
        async with runtime.store.uow() as uow:
            opened = await sign_in_admin(uow, runtime.secret, token, settings.admin_addresses(), time.time())
        if opened is None:
            return HTMLResponse(_ADMIN_REFUSED, status_code=403)
        response = RedirectResponse("/", status_code=303)
        set_cookie(response, opened[0], 12 * 3600)
        return response

    return router


class BodyError(Exception):
    """A request body the web chat refuses, with its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def _read_json(request: Request) -> Any:
    """The JSON body, refused when too large or too deeply nested to read."""
    try:
        body = await read_limited(request, MAX_JSON_BYTES)
    except BodyTooLarge:
        raise BodyError(413, f"the body is larger than {MAX_JSON_BYTES // 1024} KB") from None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise BodyError(400, "the body is not valid JSON") from None


class NotAStatement(Exception):
    """A document that is not a CSV file by its type or name."""


async def _read_photo(request: Request) -> tuple[dict[str, Any], bytes]:
    """Read the multipart `photo` (an image) or `document` (a CSV bank statement, for a treasurer)
    field as it streams in, refusing the upload once it passes its limit."""
    upload = await read_upload(request, {PHOTO_FIELD: MAX_BYTES, DOCUMENT_FIELD: MAX_FILE_BYTES})
    if upload.field == DOCUMENT_FIELD.decode():
        if not is_csv(upload.content_type, upload.filename):
            raise NotAStatement
        return {"kind": "document"}, upload.data
    return {"kind": "photo"}, upload.data


_ADMIN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Ketpaar admin sign-in</title>
<meta name="referrer" content="no-referrer"></head>
<body style="font-family: system-ui, sans-serif; max-width: 28em; margin: 3em auto; padding: 0 1em">
<h1>Ketpaar admin sign-in</h1><p>This link works once, for 15 minutes.</p>
<form method="post" action="/webchat/admin-login"><input type="hidden" name="token" value="{token}">
<button type="submit" style="font-size: 1.1em; padding: .5em 1.2em">Sign in as admin</button></form></body></html>"""

_ADMIN_REFUSED = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Ketpaar admin sign-in</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 28em; margin: 3em auto; padding: 0 1em">
<h1>This sign-in link does not work</h1><p>It was used already, has expired, or is not for an admin.
Ask the operator for a new one: <code>ketpaar admin-link &lt;name&gt;</code>.</p></body></html>"""

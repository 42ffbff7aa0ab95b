"""Transparency routes: the event log export, the signed checkpoints, the public figures and page."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from core.ledger.checkpoints import latest_checkpoints
from core.ledger.export import MAX_PAGE, export_page
from core.ledger.transparency import Books
from core.members.identity import check_session
from core.shared.clock import local_day
from flows.i18n import LANGUAGES
from webhooks.runtime import Runtime
from webhooks.settings import Settings
from webhooks.transparency_page import render_page
from webhooks.webchat_routes import COOKIE

TOKEN_HINT = "the event log is for members: send a member's web-chat session as a bearer token"


def _token(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.cookies.get(COOKIE)


def figures(books: Books, today: str) -> dict[str, Any]:
    """The public figures as JSON: what the page shows, with exact paise."""
    open_, settled = books.orders()
    return {
        "chain": {"length": books.seq, "head": books.head, "transactions": books.transactions},
        "pool": {"balance": books.pool, "days": [
            {"day": d, "in": f.pool_in, "out": f.pool_out, "balance": b} for d, f, b in books.series(today)]},
        "days": [{"day": d, "meals": f.meals, "money_in": f.money_in, "money_out": f.money_out}
                 for d, f, _b in books.series(today)],
        "orders": {"open": open_, "settled": settled},
        "totals_by_kind": dict(sorted(books.by_kind.items())),
        "parameters": {name: {"value": p.value, "source": p.source, "since": p.since} for name, p in sorted(books.params.items())},
        "areas": dict(sorted(books.areas.items())),
        "face_checks": dataclasses.asdict(books.face_review()) | {"for_review": books.face_review().for_review},
    }  # fmt: skip


def transparency_router(rt: Callable[[Request], Runtime], settings: Settings) -> APIRouter:
    """GET /api/events, /api/checkpoints, /api/transparency and the /transparency page."""
    router = APIRouter()
    # Pages of the log are heavy reads: a per-IP limit keeps one script from starving the rest.
    async def export_allowed(request: Request) -> bool:
        ip = request.client.host if request.client else "unknown"
        return await rt(request).limits.hit("exports-ip", ip, settings.ip_rate_per_minute, 60.0)

    async def may_read_log(request: Request) -> bool:
        if settings.public_log:
            return True
        async with rt(request).store.reader() as uow:
            session = await check_session(uow, _token(request))
            if session is None:
                return False
            person = await uow.people.find("webchat", session.address)
        return person is not None and (person.is_member or person.is_admin)

    @router.get("/api/events")
    async def events(request: Request, after: int = Query(0, ge=0, le=2**62), limit: int = Query(1000, ge=1, le=MAX_PAGE)) -> Response:
        """Events after seq `after` as JSON Lines, each line the canonical bytes the chain hashes;
        the `X-Next-After` header gives the next page's `after` (absent at the head)."""
        if not await export_allowed(request):
            return JSONResponse({"error": "too many requests: wait a minute"}, status_code=429, headers={"Retry-After": "60"})
        if not await may_read_log(request):
            return JSONResponse({"error": TOKEN_HINT}, status_code=401)
        async with rt(request).store.reader() as uow:
            lines, nxt = await export_page(uow, after, limit)
        headers = {"X-Next-After": str(nxt)} if nxt is not None else {}
        return Response("".join(line + "\n" for line in lines), media_type="application/x-ndjson; charset=utf-8", headers=headers)

    @router.get("/api/checkpoints")
    async def checkpoints(request: Request, limit: int = Query(1, ge=1, le=400)) -> list[dict[str, Any]]:
        """The newest signed daily checkpoints, newest first (save one; check later logs with --since)."""
        return await latest_checkpoints(rt(request).store, limit)

    @router.get("/api/transparency")
    async def public_figures(request: Request) -> dict[str, Any]:
        """The figures of the transparency page, in paise."""
        runtime = rt(request)
        async with runtime.store.reader() as uow:
            books = await runtime.services.books.current(uow)
            today = local_day(uow.at)
        return figures(books, today)

    @router.get("/transparency", response_class=HTMLResponse)
    async def page(request: Request, lang: str | None = None) -> HTMLResponse:
        """The public page: mobile-first, server-rendered, Tamil or English."""
        runtime = rt(request)
        if lang not in LANGUAGES:
            accept = request.headers.get("accept-language", "")
            lang = "ta" if accept.lower().startswith("ta") else "en"
        async with runtime.store.reader() as uow:
            books = await runtime.services.books.current(uow)
            today = local_day(uow.at)
            params = await uow.params.current()
        latest = await latest_checkpoints(runtime.store, 1)
        return HTMLResponse(render_page(books, today, params, latest[0] if latest else None, lang))

    return router

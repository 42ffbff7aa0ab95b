"""A person's data as a file: the one-time link /mydata sends (signed, expiring, single use).

Opening the link (GET) shows a button and spends nothing, so a chat app's link preview cannot use
it up; the button (POST) spends it and downloads the JSON. A web-chat link works only with that
web chat's own session; a link sent to a phone or chat app works for whoever holds it, once, for
30 minutes, and the person is told in chat when it was used."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from core.members.identity import check_session
from core.members.model import Person
from core.privacy import ERASED_CHANNEL, export
from core.privacy.links import DataLink, read_data_link
from flows.context import deliver_to
from flows.i18n import translator
from flows.messages import Outbound
from webhooks.runtime import Runtime
from webhooks.webchat_routes import _token

MAX_FORM_BYTES = 1024


def mydata_router(rt: Callable[[Request], Runtime]) -> APIRouter:
    """GET /mydata (a page with a download button) and POST /mydata (the file, once)."""
    router = APIRouter()

    async def web_address(request: Request) -> str | None:
        async with rt(request).store.reader() as uow:
            session = await check_session(uow, _token(request))
        return session.address if session else None

    async def valid(request: Request, token: str) -> tuple[DataLink, Person] | None:
        runtime = rt(request)
        link = read_data_link(runtime.secret, token, runtime.store.clock.now().timestamp(), await web_address(request))
        if link is None:
            return None
        async with runtime.store.reader() as uow:
            person = await uow.people.get(link.person_id)
        if person is None or person.channel in (ERASED_CHANNEL, "merged"):
            return None  # erased (or merged into another person) since the link was sent
        return link, person

    @router.get("/mydata", include_in_schema=False)
    async def page(request: Request, t: str = Query("", max_length=128)) -> HTMLResponse:
        """A download button for a valid link; a polite refusal otherwise."""
        found = await valid(request, t)
        if found is None:
            return _refused()
        _ = translator(found[1].language)
        body = _PAGE.format(lang=found[1].language, title=html.escape(_("Your data")),
                            text=html.escape(_("This link works once. The file holds everything Ketpaar keeps about you.")),
                            button=html.escape(_("Download my data")), token=html.escape(t, quote=True))  # fmt: skip
        return HTMLResponse(body, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})

    @router.post("/mydata", include_in_schema=False)
    async def download(request: Request) -> Response:
        """Spend the link and return the person's data as a JSON file."""
        body = (await request.body())[:MAX_FORM_BYTES]
        token = (parse_qs(body.decode("ascii", "replace")).get("t") or [""])[0]
        found = await valid(request, token)
        if found is None:
            return _refused()
        link, person = found
        async with rt(request).store.uow() as uow:
            if not await uow.identity.use_token(f"mydata:{link.nonce}"):
                return _refused()  # used before (the rollback keeps nothing else)
            document = await export.document(uow, person)
            await export.record_download(uow, person)
            _ = translator(person.language, person.channel)
            await deliver_to(uow, person, Outbound(_("Your data file was downloaded just now. If that was not you, tell an "
                                                     "admin.")))  # fmt: skip
        data = json.dumps(document, ensure_ascii=False, indent=1, default=str).encode()
        return Response(data, media_type="application/json", headers={
            "Content-Disposition": f'attachment; filename="ketpaar-mydata-{person.id}.json"',
            "Cache-Control": "no-store"})  # fmt: skip

    return router


def _refused() -> HTMLResponse:
    lines = []
    for language in ("en", "ta"):
        _ = translator(language)
        text = _("This link does not work: it was used already, has expired, or is not yours. Send /mydata in the chat for "
                 "a new one.")
        lines.append(f'<p lang="{language}">{html.escape(text)}</p>')
    return HTMLResponse(_REFUSED.format(text="".join(lines)), status_code=403, headers={"Cache-Control": "no-store"})


_PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<meta name="referrer" content="no-referrer"></head>
<body style="font-family: system-ui, sans-serif; max-width: 28em; margin: 3em auto; padding: 0 1em">
<h1>{title}</h1><p>{text}</p>
<form method="post" action="/mydata"><input type="hidden" name="t" value="{token}">
<button type="submit" style="font-size: 1.1em; padding: .5em 1.2em">{button}</button></form></body></html>"""

_REFUSED = """<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Ketpaar</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 28em; margin: 3em auto; padding: 0 1em">{text}</body></html>"""

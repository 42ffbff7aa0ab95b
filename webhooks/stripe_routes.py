"""POST /webhooks/stripe: verify the signature, store the event, act on it, answer quickly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from core.adapters.stripe.webhook import BadSignature, verify
from webhooks.uploads import BodyTooLarge, read_limited

MAX_EVENT_BYTES = 512 * 1024  # Stripe's events are a few KB


def stripe_router(get_runtime: Callable[[Request], Any], secret: str) -> APIRouter:
    """The Stripe webhook; `get_runtime(request)` gives the Runtime with its card inbox."""
    router = APIRouter()

    @router.post("/webhooks/stripe")
    async def inbound(request: Request) -> JSONResponse:
        header = request.headers.get("stripe-signature")
        try:
            body = await read_limited(request, MAX_EVENT_BYTES)
            event = verify(body, header, secret)
        except BodyTooLarge:
            return JSONResponse({"error": "the event is too large"}, status_code=413)
        except BadSignature:
            # Forged, missing or older than 5 minutes: nothing is stored, nothing changes.
            return JSONResponse({"error": "invalid Stripe signature"}, status_code=400)
        assert header is not None
        outcome = await get_runtime(request).cards.receive(event, header)
        if outcome == "replayed":
            return JSONResponse({"error": "this signed request was already received"}, status_code=400)
        return JSONResponse({"received": True, "duplicate": outcome == "duplicate"})

    @router.get("/pay/done", include_in_schema=False)
    async def done() -> HTMLResponse:
        # Where Stripe's page sends the donor back: the chat says what happened (in their language).
        return HTMLResponse(DONE_PAGE)

    return router


DONE_PAGE = """<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Ketpaar</title></head><body style="font-family:sans-serif;max-width:30em;margin:2em auto">
<p>Thank you. Go back to the chat: it tells you when your card is held and when the meal is on its way.</p>
<p>நன்றி. சாட்டுக்குத் திரும்புங்கள்: கார்டில் தொகை நிறுத்திவைக்கப்பட்டதும், சாப்பாடு புறப்பட்டதும் அங்கே சொல்லப்படும்.</p>
</body></html>"""

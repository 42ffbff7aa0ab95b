"""A campaign's public page and figures: its progress, never who gave."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from core.campaigns.model import Campaign
from core.campaigns.service import normalise_code
from core.shared import geo
from flows.i18n import clock_time, money, translator
from webhooks.runtime import Runtime


def campaign_figures(campaign: Campaign, area: str, gifts: int) -> dict[str, Any]:
    """What anyone may see of a campaign: meal, area, amounts in paise, status; no names."""
    return {"code": campaign.code, "status": campaign.status.value, "meal": campaign.meal_name, "area": area,
            "target": campaign.target, "raised": campaign.raised, "remaining": campaign.remaining, "gifts": gifts,
            "expires_at": campaign.expires_at}  # fmt: skip


def render_campaign(figures: dict[str, Any], lang: str, cards: bool = False) -> str:
    """The page: a progress bar and how to give."""
    _ = translator(lang)
    e = escape
    title = e(_("Campaign {code}: {meal} for someone near {area}").format(
        code=figures["code"], meal=figures["meal"], area=figures["area"]))  # fmt: skip
    progress = e(_("{raised} of {target} raised; {remaining} to go.").format(
        raised=money(figures["raised"], lang), target=money(figures["target"], lang),
        remaining=money(figures["remaining"], lang)))  # fmt: skip
    if figures["status"] in ("created", "funding"):
        how = e(_("To give, send /give {code} <rupees> to Ketpaar on WhatsApp, Telegram, SMS or the web chat. "
                  "It closes at {time}.").format(code=figures["code"], time=clock_time(figures["expires_at"], lang)))  # fmt: skip
        if cards:  # Stripe is configured: /give offers the card beside the balance
            how += " " + e(_("You can give from your balance or by card; a card is only held, and charged after the meal "
                             "is delivered."))  # fmt: skip
    else:
        how = e(_("This campaign takes no more gifts."))
    return (f'<!doctype html><html lang="{e(lang)}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>'
            f"<body><h1>{title}</h1><progress max=\"{int(figures['target'])}\" value=\"{int(figures['raised'])}\"></progress>"
            f"<p>{progress}</p><p>{how}</p></body></html>")  # fmt: skip


def campaign_router(rt: Callable[[Request], Runtime]) -> APIRouter:
    """GET /c/{code} (the page) and GET /api/campaigns/{code} (the figures)."""
    router = APIRouter()

    async def find(request: Request, code: str) -> dict[str, Any] | None:
        async with rt(request).store.reader() as uow:
            campaign = await uow.campaigns.by_code(normalise_code(code))
            if campaign is None:
                return None
            order = await uow.orders.get(campaign.order_id)
            gifts = len(await uow.campaigns.gifts(campaign.id))
        area = geo.approximate_area(order.seeker_lat, order.seeker_lng) if order else ""
        return campaign_figures(campaign, area, gifts)

    @router.get("/api/campaigns/{code}")
    async def figures(request: Request, code: str) -> JSONResponse:
        found = await find(request, code[:16])
        if found is None:
            return JSONResponse({"error": "no such campaign"}, status_code=404)
        return JSONResponse(found)

    @router.get("/c/{code}", include_in_schema=False)
    async def page(request: Request, code: str, lang: str = Query("en", max_length=8)) -> HTMLResponse:
        found = await find(request, code[:16])
        _ = translator(lang)
        if found is None:
            return HTMLResponse(f"<!doctype html><p>{escape(_('There is no campaign with that code.'))}</p>", status_code=404)
        return HTMLResponse(render_campaign(found, lang, cards=rt(request).services.payments is not None))

    return router

"""The FastAPI application: web chat, provider webhooks, public audit API, health."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from bot.twilio_common import TwilioConfig
from core.ledger.audit import audit
from core.ledger.model import public_balances
from core.ratings import service as rating_service
from core.seekers.screening import Screener
from core.shared.clock import Clock
from webhooks.campaign_routes import campaign_router
from webhooks.heap import tune_for_serving
from webhooks.metrics import CONTENT_TYPE, WebhookCounter, authorised
from webhooks.mydata_routes import mydata_router
from webhooks.readiness import readiness
from webhooks.runtime import Runtime, build_runtime, start_background
from webhooks.settings import Settings
from webhooks.stripe_routes import stripe_router
from webhooks.telegram_routes import telegram_router
from webhooks.transparency_routes import transparency_router
from webhooks.twilio_routes import twilio_router
from webhooks.webchat_routes import webchat_router

STATIC = Path(__file__).with_name("static")


def create_app(settings: Settings | None = None, *, clock: Clock | None = None, screener: Screener | None = None,
               serving: bool = False) -> FastAPI:  # fmt: skip
    """Build the app; the runtime is created in the lifespan, never at import. `serving`: the
    server's own process, which builds one app, tunes its garbage collector once started (webhooks.heap)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await build_runtime(settings, clock=clock, screener=screener)
        app.state.runtime = runtime
        await start_background(runtime)
        if serving:
            tune_for_serving()  # after start-up: what is alive now is frozen
        try:
            yield
        finally:
            await runtime.close()

    app = FastAPI(title="Ketpaar", lifespan=lifespan)
    app.add_middleware(WebhookCounter)  # provider webhook calls by status: rejected signatures show on the dashboard

    def rt(request: Request) -> Runtime:
        runtime: Runtime = request.app.state.runtime
        return runtime

    # Provider webhooks: a channel whose settings are absent is simply off.
    if settings.telegram_bot_token:
        app.include_router(telegram_router(rt))
    twilio = TwilioConfig.from_settings(settings)
    if twilio.enabled:
        app.include_router(twilio_router(rt, twilio))
    if settings.stripe_secret_key and settings.stripe_webhook_secret:
        app.include_router(stripe_router(rt, settings.stripe_webhook_secret))

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/healthz")
    async def health() -> dict[str, str]:
        """Liveness: the process answers (restart it if not). Readiness is /readyz."""
        return {"status": "ok"}

    @app.get("/readyz")
    async def ready(request: Request) -> JSONResponse:
        """Readiness: database, Redis, schema, face weights, scheduler leader; 503 when any fails."""
        ok, checks = await readiness(rt(request))
        return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        """Prometheus metrics: with KETPAAR_METRICS_TOKEN as a bearer token; open only in the demo."""
        allowed = authorised(request.headers.get("authorization"), settings.metrics_token, settings.demo_open())
        if allowed is None:
            return Response(status_code=404)
        if not allowed:
            return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
        runtime = rt(request)
        return Response(await runtime.metrics.render(runtime.db), media_type=CONTENT_TYPE)

    app.include_router(webchat_router(rt, settings))
    app.include_router(mydata_router(rt))
    app.include_router(campaign_router(rt))
    app.include_router(transparency_router(rt, settings))

    @app.get("/api/ledger/verify")
    async def verify(request: Request) -> dict[str, Any]:
        report = await audit(rt(request).store)
        return {"ok": report.ok, "events": report.events, "head": report.head,
                "transactions": report.transactions, "problem": report.problem or None}  # fmt: skip

    @app.get("/api/ledger/balances")
    async def balances(request: Request) -> dict[str, Any]:
        """The cooperative's own accounts, and totals by kind of account: nobody's personal balance."""
        async with rt(request).store.reader() as uow:
            accounts = await uow.ledger.balances()
        return {"currency": "INR", "unit": "paise", **public_balances(accounts)}

    @app.get("/api/stats/ratings")
    async def rating_stats(request: Request) -> dict[str, Any]:
        """Public ratings per restaurant (averages only: never who gave which; they rank nothing)."""
        async with rt(request).store.reader() as uow:
            return {"restaurants": await rating_service.public_stats(uow)}

    return app

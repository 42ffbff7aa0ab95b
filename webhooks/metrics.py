"""Prometheus metrics: counters kept by this process (multi-process safe), gauges read from the database at scrape.

Instrumentation stays out of core/: the inbox processor, the outbox sender and the scheduler call
the observers wired here, and order transitions are counted from the event bus after commit."""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from core.adapters.sql import health
from core.adapters.sql.db import Database
from core.ports import UnitOfWork
from core.seekers.screening import ScreeningRequest, ScreeningResult
from core.shared.bus import MessageBus
from core.shared.events import DomainEvent, OrderTransitioned

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Provider webhook routes counted by status (a fixed set: a path from outside never becomes a label).
WEBHOOK_ROUTES = frozenset({"/webhooks/telegram", "/webhooks/twilio/whatsapp", "/webhooks/twilio/sms", "/webhooks/stripe"})
FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)  # handling a message, screening a photo
SLOW = (0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600)  # scheduled jobs


def multiprocess_dir() -> str | None:
    """PROMETHEUS_MULTIPROC_DIR, when several app processes share their counters through files."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """This process's counters and histograms; `render` adds the database's gauges at scrape time."""

    def __init__(self) -> None:
        # Own registry per runtime (tests build many); with PROMETHEUS_MULTIPROC_DIR the values
        # live in that directory's files and `render` reads every process's.
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.inbound = Counter("ketpaar_inbound_messages", "Inbound messages handled, by channel and outcome",
                               ["channel", "outcome"], registry=r)  # fmt: skip
        self.handling = Histogram("ketpaar_inbound_handling_seconds", "Time to handle one inbound message (flows + commit)",
                                  ["channel"], buckets=FAST, registry=r)  # fmt: skip
        self.outbox = Counter("ketpaar_outbox_results", "Outbox send attempts by channel and result "
                              "(sent, retry, rate_limited, failed)", ["channel", "result"], registry=r)  # fmt: skip
        self.provider_errors = Counter("ketpaar_provider_errors", "Provider API errors by channel and kind (rate_limited = 429)",
                                       ["channel", "kind"], registry=r)  # fmt: skip
        self.webhooks = Counter("ketpaar_webhook_requests", "Provider webhook calls by route and HTTP status "
                                "(403: bad signature or secret)", ["route", "status"], registry=r)  # fmt: skip
        self.transitions = Counter("ketpaar_order_transitions", "Order transitions committed (claim, settle, …)",
                                   ["transition"], registry=r)  # fmt: skip
        self.job_runs = Counter("ketpaar_scheduler_job_runs", "Scheduled job runs in this process by outcome",
                                ["job", "outcome"], registry=r)  # fmt: skip
        self.job_seconds = Histogram("ketpaar_scheduler_job_seconds", "Scheduled job duration", ["job"], buckets=SLOW, registry=r)
        self.screening = Histogram("ketpaar_screening_seconds", "Seeker screening time (faces and safety)", ["verdict"],
                                   buckets=FAST, registry=r)  # fmt: skip

    def observe_inbound(self, channel: str, outcome: str, seconds: float) -> None:
        """One inbound message handled (or set aside)."""
        self.inbound.labels(channel, outcome).inc()
        self.handling.labels(channel).observe(seconds)

    def observe_outbox(self, channel: str, result: str) -> None:
        """One send attempt's result; errors also count against the provider."""
        self.outbox.labels(channel, result).inc()
        if result in ("rate_limited", "retry", "failed"):
            self.provider_errors.labels(channel, "rate_limited" if result == "rate_limited" else "error").inc()

    def observe_webhook(self, path: str, status: int) -> None:
        """One provider webhook call and how it was answered (only the known routes)."""
        if path in WEBHOOK_ROUTES:
            self.webhooks.labels(path, str(status)).inc()

    def observe_job(self, job: str, outcome: str, seconds: float) -> None:
        """One scheduled job run here."""
        self.job_runs.labels(job, outcome).inc()
        self.job_seconds.labels(job).observe(seconds)

    def count_transitions(self, bus: MessageBus) -> None:
        """Count each committed order transition (claims, settlements, refunds) from the bus."""

        async def on_transition(event: DomainEvent, uow: UnitOfWork) -> None:
            if not isinstance(event, OrderTransitioned):
                return
            transition = event.transition

            async def count() -> None:
                self.transitions.labels(transition).inc()

            uow.later(count)  # only what committed

        bus.on(OrderTransitioned, on_transition)

    async def render(self, db: Database) -> bytes:
        """The exposition text: every process's counters, then the database's gauges."""
        if multiprocess_dir():
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            counters = generate_latest(registry)
        else:
            counters = generate_latest(self.registry)
        gauges = CollectorRegistry()
        gauges.register(_Snapshot(_families(await health.status_counts(db))))
        return counters + generate_latest(gauges)


@dataclass(eq=False)  # a registry keeps collectors in a dict: identity hashing
class _Snapshot:
    """Metric families computed before the (synchronous) collection."""

    families: list[Metric]

    def collect(self) -> Iterable[Metric]:
        """Hand the families over."""
        return self.families


def _families(counts: dict[str, dict[tuple[str, ...], int]]) -> list[Metric]:
    inbox = GaugeMetricFamily("ketpaar_inbox_messages", "Inbox rows by channel and status (pending, failed, done)",
                              labels=["channel", "status"])  # fmt: skip
    for (channel, status), n in sorted(counts["inbox"].items()):
        inbox.add_metric([channel, status], n)
    outbox = GaugeMetricFamily("ketpaar_outbox_messages", "Outbox rows by channel and status "
                               "(pending, sending, sent, failed, unknown, withdrawn)", labels=["channel", "status"])  # fmt: skip
    for (channel, status), n in sorted(counts["outbox"].items()):
        outbox.add_metric([channel, status], n)
    orders = GaugeMetricFamily("ketpaar_orders", "Orders by state", labels=["state"])
    for (state,), n in sorted(counts["orders"].items()):
        orders.add_metric([state], n)
    board = GaugeMetricFamily("ketpaar_board_open_jobs", "Delivery jobs open on the board (orders on_board)")
    board.add_metric([], counts["orders"].get(("on_board",), 0))
    return [inbox, outbox, orders, board]


def authorised(header: str | None, token: str | None, demo_open: bool) -> bool | None:
    """True: serve. False: 401 (a token is set and this is not it). None: 404 (metrics are off:
    no token outside the demo, so nothing about the service is told to strangers)."""
    if token:
        given = (header or "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), token.encode()) and bool(header and header.startswith("Bearer "))
    return True if demo_open else None


class TimedScreener:
    """A screener that reports how long each screening took (the face model is the slow part)."""

    def __init__(self, inner: Any, metrics: Metrics) -> None:
        self.inner, self.metrics = inner, metrics

    async def screen(self, uow: UnitOfWork, request: ScreeningRequest) -> ScreeningResult:
        """Screen through the real screener, timed."""
        started = time.perf_counter()
        result = await self.inner.screen(uow, request)
        self.metrics.screening.labels(str(result.verdict)).observe(time.perf_counter() - started)
        return result  # type: ignore[no-any-return]

    def prefetch(self, photo_id: str) -> None:
        """Start the slow work early, as the real screener does."""
        self.inner.prefetch(photo_id)


class WebhookCounter:
    """ASGI middleware: counts each call of a provider webhook route by the status it was answered with."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Pass the request through, noting the response status of the webhook routes."""
        if scope["type"] != "http" or scope["path"] not in WEBHOOK_ROUTES:
            await self.app(scope, receive, send)
            return
        status = 500  # an exception before the response started

        async def note(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, note)
        finally:
            runtime = getattr(scope["app"].state, "runtime", None)
            if runtime is not None:
                runtime.metrics.observe_webhook(scope["path"], status)

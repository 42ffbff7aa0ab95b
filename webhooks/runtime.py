"""The composition root: builds engines, board, bus, flows, channels, inbox, outbox, scheduler."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from telegram.error import TelegramError

from bot.card_inbox import CardInbox
from bot.channel import ChannelSender
from bot.outbox_sender import OutboxSender
from bot.processor import InboxProcessor
from bot.sms import SmsChannel
from bot.telegram import TelegramChannel, edit_job_messages, stop_pending_polls
from bot.twilio_common import TwilioConfig
from bot.whatsapp import WhatsAppChannel
from bot.window_limit import Limits, LocalLimits
from core.adapters.redis.board import RedisJobBoard
from core.adapters.redis.limits import RedisLimits
from core.adapters.sql.board import SqlJobBoard
from core.adapters.sql.db import Database
from core.adapters.sql.migrate import upgrade
from core.adapters.sql.uow import Store
from core.adapters.stripe.gateway import StripeGateway
from core.board.base import JobBoard
from core.ledger.checkpoints import Signer, make_checkpoint
from core.members.identity import sync_admins
from core.orders.offers import JOB_META
from core.payments.upi import UpiPayee
from core.ports import PaymentGateway, UnitOfWork
from core.schedule import jobs
from core.seekers import safety
from core.seekers.photos import LocalPhotoStore
from core.seekers.screening import PassThroughScreener, Screener
from core.shared.bus import MessageBus
from core.shared.clock import Clock, SystemClock
from core.shared.events import DomainEvent, OrderTransitioned, ProposalClosed
from flows import notify, router
from flows.context import Services
from flows.jobs import taken_text
from flows.messages import Inbound
from webhooks.metrics import Metrics, TimedScreener
from webhooks.scheduler import build_scheduler
from webhooks.settings import Settings

log = logging.getLogger(__name__)

# Channels where a duplicate costs the person money or trust more than a rare loss does:
# after a crash mid-send they are held as `unknown` for an operator instead of resent.
AT_MOST_ONCE = ("sms", "whatsapp")


@dataclass
class Runtime:
    """Everything long-lived that the app and the CLI share."""

    settings: Settings
    db: Database
    store: Store
    board: JobBoard
    services: Services
    processor: InboxProcessor
    secret: bytes
    senders: dict[str, ChannelSender] = field(default_factory=dict)
    telegram: TelegramChannel | None = None
    twilio: TwilioConfig | None = None
    outbox: OutboxSender | None = None
    scheduler: AsyncIOScheduler | None = None
    cards: CardInbox | None = None  # Stripe's webhook events, when cards are on
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    signer: Signer | None = None  # signs the daily checkpoints; None outside the demo without a key
    leader: bool = False  # this process holds the scheduler leader lock (readiness reports it)
    metrics: Metrics = field(default_factory=Metrics)
    limits: Limits = field(default_factory=LocalLimits)  # web request limits; on Redis when configured

    async def retrain_safety(self) -> None:
        """Scheduled: retrain the safety model from outcomes and swap it into the screener."""
        model = await jobs.retrain_safety(self.store, self.settings.data_dir / "safety", self.secret)
        screener = getattr(self.services.screener, "inner", self.services.screener)  # under the timing wrapper
        if hasattr(screener, "safety_model"):
            screener.safety_model = model

    async def checkpoint(self) -> None:
        """Scheduled: sign and publish yesterday's checkpoint of the chain (once per day)."""
        if self.signer is not None:
            await make_checkpoint(self.store, self.signer)

    async def stop_pending_polls(self) -> None:
        """Scheduled with the close job: stop the native polls of closed proposals still marked to
        stop (a crash between the close and stopPoll, or Telegram down then)."""
        if self.telegram is not None:
            await stop_pending_polls(self.store, self.telegram)

    async def close(self) -> None:
        """Stop background work, finish queued messages, close connections."""
        self.stop.set()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.processor.drain()
        await asyncio.gather(*self.tasks)
        if self.telegram is not None:
            await self.telegram.close()
        await self.board.close()
        await self.limits.close()
        if isinstance(self.services.payments, StripeGateway):
            await self.services.payments.close()
        await self.db.dispose()


def register_job_offer_edits(bus: MessageBus, store: Store, telegram: TelegramChannel) -> None:
    """After a claim commits, edit the other workers' Telegram offers to say it was taken."""

    async def on_transition(event: DomainEvent, uow: UnitOfWork) -> None:
        if not isinstance(event, OrderTransitioned) or event.transition != "claim":
            return
        worker = await uow.workers.get(int(event.details["worker_id"]))
        winner = await uow.people.get(worker.person_id) if worker else None
        order_id, name = event.order_id, worker.name if worker else ""

        async def edit() -> None:
            async with store.reader() as reader:
                rows = await reader.outbox.sent_with_meta("telegram", JOB_META, order_id)
                people = [await reader.people.find("telegram", r.address) for r in rows]
            languages = {p.address: p.language for p in people if p is not None}
            exclude = {winner.address} if winner is not None and winner.channel == "telegram" else set()
            await edit_job_messages(store, telegram, order_id,
                                    lambda chat: taken_text(languages.get(chat, "en"), order_id, name),
                                    exclude=exclude)  # fmt: skip

        uow.later(edit)

    bus.on(OrderTransitioned, on_transition)


def register_poll_stops(bus: MessageBus, store: Store, telegram: TelegramChannel) -> None:
    """After a proposal is decided, stop its native Telegram polls (stopPoll), so members see them closed."""

    async def on_closed(event: DomainEvent, uow: UnitOfWork) -> None:
        if not isinstance(event, ProposalClosed) or event.outcome == "lapsed":  # a lapsed one was never polled
            return
        proposal_id = event.proposal_id
        # Marked in the closing transaction: if the process dies before stopPoll (or Telegram is
        # down), the close job finds the mark and stops the polls at its next run.
        await uow.governance.set_polls_stop_pending(proposal_id, True)

        async def stop() -> None:
            await stop_pending_polls(store, telegram, [proposal_id])

        uow.later(stop)  # after the commit: the proposal is closed even if Telegram is down

    bus.on(ProposalClosed, on_closed)


def twilio_senders(config: TwilioConfig, store: Store, secret: bytes) -> dict[str, ChannelSender]:
    """The SMS and WhatsApp senders, when Twilio is configured."""
    if not config.enabled:
        return {}
    senders: dict[str, ChannelSender] = {}
    sms = SmsChannel(config) if config.sms_from else None
    if sms is not None:
        senders["sms"] = sms
    if config.whatsapp_from:

        async def last_inbound_at(address: str) -> datetime | None:
            async with store.reader() as uow:
                return await uow.inbox.last_received_at("whatsapp", address)

        senders["whatsapp"] = WhatsAppChannel(
            config, secret=secret, last_inbound_at=last_inbound_at, sms=sms, now=store.clock.now
        )
    return senders


async def build_screener(settings: Settings, store: Store, photos: LocalPhotoStore, secret: bytes) -> Screener:
    """The seeker screener the settings ask for; the face model is loaded now, so missing
    weights stop the start-up loudly instead of skipping duplicate checks."""
    if settings.screening == "pass":
        log.warning("KETPAAR_SCREENING=pass: seekers are not screened (tests and development only)")
        return PassThroughScreener()
    from core.seekers.screener import FaceAndSafetyScreener  # imports numpy/deepface: only when used

    model = await asyncio.to_thread(safety.load_or_train, settings.data_dir / "safety", secret)
    screener = FaceAndSafetyScreener(photos, model)
    await screener.warm_up()
    return screener


async def build_runtime(
    settings: Settings, *, clock: Clock | None = None, screener: Screener | None = None, migrate: bool = True
) -> Runtime:
    """Wire the service from settings (nothing here runs at import time)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if migrate:
        await asyncio.to_thread(upgrade, settings.database_url)
    db = Database(settings.database_url)
    bus = MessageBus()
    notify.register(bus)
    metrics = Metrics()
    metrics.count_transitions(bus)
    store = Store(db, clock or SystemClock(), bus)
    async with store.uow() as uow:
        await uow.params.ensure_initial(settings.initial_params())
        # Admin rights follow KETPAAR_ADMINS at every start: given and taken away.
        await sync_admins(uow, settings.admin_addresses())
    board: JobBoard = RedisJobBoard(settings.redis_url, settings.redis_prefix) if settings.redis_url else SqlJobBoard(db)
    photo_key = settings.resolved_photo_key()  # refuses to start without one outside the demo
    photos = LocalPhotoStore(settings.data_dir / "photos", photo_key)
    secret = settings.resolved_secret()
    if screener is None:
        screener = await build_screener(settings, store, photos, secret)
    upi = UpiPayee(settings.upi_vpa, settings.upi_name) if settings.upi_vpa and settings.upi_name else None
    payments = stripe_gateway(settings)
    services = Services(board, TimedScreener(screener, metrics), photos, upi=upi, secret=secret, public_url=settings.public_url.rstrip("/"),
                        payments=payments,
                        # Connect payouts use the same Stripe account (and the same fake in tests).
                        transfers=payments if settings.stripe_connect and isinstance(payments, StripeGateway) else None)  # fmt: skip
    senders: dict[str, ChannelSender] = {}
    telegram = TelegramChannel.from_settings(settings, photos) if settings.telegram_bot_token else None
    if telegram is not None:
        senders["telegram"] = telegram
        register_job_offer_edits(bus, store, telegram)
        register_poll_stops(bus, store, telegram)
    twilio = TwilioConfig.from_settings(settings)
    senders.update(twilio_senders(twilio, store, secret))
    outbox = OutboxSender(store, senders, at_most_once=AT_MOST_ONCE, observe=metrics.observe_outbox) if senders else None
    handle = partial(router.handle, services=services)

    async def handle_and_wake(uow: UnitOfWork, msg: Inbound) -> None:
        await handle(uow, msg)
        if outbox is not None:

            async def wake() -> None:
                outbox.wake()

            uow.later(wake)  # send the replies right after commit, not on the next poll

    staging = LocalPhotoStore(settings.data_dir / "inbox-photos", photo_key)
    # SQLite has one writer: a second batch at once would only queue for it, ahead of the accept
    # path's transaction (one serve under load, 2 cores: 229 msgs/s end to end and POST p99 261 ms
    # with one, against 179 msgs/s and 412 ms with four).
    concurrency = 1 if db.is_sqlite else settings.processing_concurrency
    processor = InboxProcessor(store, handle_and_wake, staging, per_minute=settings.person_rate_per_minute,
                               concurrency=concurrency, process=settings.inbox_worker,
                               observe=lambda h: metrics.observe_inbound(h.channel, h.outcome, h.seconds))  # fmt: skip
    seed = settings.resolved_signing_key()
    cards = CardInbox(store) if payments is not None else None
    runtime = Runtime(settings, db, store, board, services, processor, secret, senders, telegram, twilio, outbox,
                      cards=cards, metrics=metrics)  # fmt: skip
    if settings.redis_url:  # every app process counts against the same limits
        runtime.limits = RedisLimits(settings.redis_url, settings.redis_prefix)
    runtime.signer = Signer(seed) if seed else None
    if seed is None:
        log.warning("KETPAAR_SIGNING_KEY is unset: no daily checkpoints are signed (members cannot check for rewritten history)")
    return runtime


def stripe_gateway(settings: Settings) -> PaymentGateway | None:
    """The Stripe gateway when both the secret key and the webhook secret are set (else cards are off)."""
    if not (settings.stripe_secret_key and settings.stripe_webhook_secret):
        return None
    return StripeGateway(settings.stripe_secret_key, api_base=settings.stripe_api_base, public_url=settings.public_url,
                         timeout=settings.stripe_timeout)  # fmt: skip


async def start_background(runtime: Runtime) -> None:
    """Resume unprocessed messages; start the outbox sender and the scheduled jobs."""
    if runtime.processor.process:
        await runtime.processor.recover()
    if runtime.cards is not None:
        await runtime.cards.process()  # Stripe events stored before a crash
    if runtime.telegram is not None:
        try:
            await runtime.telegram.start()  # getMe; sending works without it
        except TelegramError as exc:
            log.warning("telegram getMe failed at startup: %s", exc)
    if runtime.outbox is not None and runtime.settings.outbox_sender:
        runtime.tasks.append(asyncio.create_task(runtime.outbox.run_forever(runtime.stop)))
    inbox = runtime.cards

    async def card_events() -> None:
        if inbox is not None:
            await inbox.process()

    if runtime.settings.scheduler:
        runtime.scheduler = build_scheduler(runtime.store, runtime.board, runtime.services.photos, runtime.retrain_safety,
                                            runtime.checkpoint, payments=runtime.services.payments,
                                            card_events=card_events, transfers=runtime.services.transfers,
                                            poll_stops=runtime.stop_pending_polls, observe=runtime.metrics.observe_job,
                                            staging=runtime.processor.staging)  # fmt: skip
        runtime.scheduler.start()
        from webhooks.readiness import hold_leadership  # imports this module: only when started

        runtime.tasks.append(asyncio.create_task(hold_leadership(runtime)))

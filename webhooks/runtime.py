"""The composition root: builds engines, board, bus, flows, inbox processor and scheduler."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from functools import partial

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.processor import InboxProcessor
from core.board.base import JobBoard
from core.board.redis_board import RedisJobBoard
from core.board.sql import SqlJobBoard
from core.bus import MessageBus
from core.clock import Clock, SystemClock
from core.photos import LocalPhotoStore
from core.screening import PassThroughScreener, Screener
from core.storage.db import Database
from core.storage.migrate import upgrade
from core.storage.uow import Store
from flows import notify, router
from flows.context import Services
from webhooks.scheduler import build_scheduler
from webhooks.settings import Settings

log = logging.getLogger(__name__)


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
    scheduler: AsyncIOScheduler | None = None

    async def close(self) -> None:
        """Stop the scheduler, finish queued work, close connections."""
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.processor.drain()
        await self.board.close()
        await self.db.dispose()


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
    store = Store(db, clock or SystemClock(), bus)
    async with store.uow() as uow:
        await uow.params.ensure_initial(settings.initial_params())
    board: JobBoard = RedisJobBoard(settings.redis_url, settings.redis_prefix) if settings.redis_url else SqlJobBoard(db)
    photos = LocalPhotoStore(settings.data_dir / "photos")
    services = Services(board, screener or PassThroughScreener(), photos, settings.admin_addresses())
    processor = InboxProcessor(
        store, partial(router.handle, services=services), LocalPhotoStore(settings.data_dir / "inbox-photos")
    )
    return Runtime(settings, db, store, board, services, processor, settings.resolved_secret())


async def start_background(runtime: Runtime) -> None:
    """Resume unprocessed messages and start the scheduled jobs."""
    await runtime.processor.recover()
    if runtime.settings.scheduler:
        runtime.scheduler = build_scheduler(runtime.store, runtime.board)
        runtime.scheduler.start()

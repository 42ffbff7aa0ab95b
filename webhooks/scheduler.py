"""Scheduled jobs (APScheduler 3): daily capacity, end-of-day top-up, reconciliations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from core import jobs
from core.board.base import JobBoard
from core.clock import LOCAL_TZ
from core.ledger.service import previous_day
from core.photos import LocalPhotoStore
from core.storage.uow import Store


def build_scheduler(
    store: Store, board: JobBoard, photos: LocalPhotoStore, retrain: Callable[[], Awaitable[None]] | None = None
) -> AsyncIOScheduler:
    """Every job is idempotent, so a missed or repeated run does no harm."""
    scheduler = AsyncIOScheduler(timezone=LOCAL_TZ)

    async def open_day() -> None:
        await jobs.open_capacity_day(store)

    async def topup() -> None:
        await jobs.end_of_day_topup(store)

    async def reconcile_yesterday() -> None:
        await jobs.reconcile_capacity(store, previous_day(store.clock.now()))

    async def reconcile_board() -> None:
        await jobs.reconcile_board(store, board)

    async def purge() -> None:
        await jobs.cancel_stale_drafts(store, board)
        await jobs.purge_expired_data(store, photos)

    scheduler.add_job(purge, IntervalTrigger(minutes=10), id="purge_expired_data", replace_existing=True,
                      coalesce=True, max_instances=1)  # fmt: skip
    if retrain is not None:
        scheduler.add_job(retrain, CronTrigger(day_of_week="sun", hour=3, timezone=LOCAL_TZ), id="retrain_safety",
                          replace_existing=True, coalesce=True, misfire_grace_time=24 * 3600)  # fmt: skip
    scheduler.add_job(open_day, CronTrigger(hour=0, minute=1, timezone=LOCAL_TZ), id="open_capacity_day",
                      replace_existing=True, misfire_grace_time=3600, coalesce=True)  # fmt: skip
    scheduler.add_job(topup, CronTrigger(hour=0, minute=5, timezone=LOCAL_TZ), id="end_of_day_topup",
                      replace_existing=True, misfire_grace_time=6 * 3600, coalesce=True)  # fmt: skip
    scheduler.add_job(reconcile_yesterday, CronTrigger(hour=0, minute=10, timezone=LOCAL_TZ),
                      id="reconcile_capacity", replace_existing=True, misfire_grace_time=6 * 3600, coalesce=True)  # fmt: skip
    scheduler.add_job(reconcile_board, IntervalTrigger(minutes=1), id="reconcile_board",
                      replace_existing=True, coalesce=True, max_instances=1)  # fmt: skip
    return scheduler

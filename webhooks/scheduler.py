"""Scheduled jobs (APScheduler 3): daily capacity, end-of-day top-up, reconciliations."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.board.base import JobBoard
from core.ledger.service import previous_day
from core.payments import cards
from core.ports import PaymentGateway, TransferGateway
from core.schedule import jobs
from core.seekers.photos import LocalPhotoStore
from core.shared.clock import LOCAL_TZ
from flows import campaign_notify

log = logging.getLogger(__name__)
Job = Callable[[], Awaitable[None]]
Observe = Callable[[str, str, float], None]  # (job, outcome ok|failed, seconds)


def timed(name: str, job: Job, observe: Observe | None) -> Job:
    """Report each run's outcome and duration (the failure itself is still raised and logged)."""
    if observe is None:
        return job

    async def run() -> None:
        started = time.perf_counter()
        try:
            await job()
        except BaseException:
            observe(name, "failed", time.perf_counter() - started)
            raise
        observe(name, "ok", time.perf_counter() - started)

    return run


def one_process_at_a_time(db: Database, name: str, job: Job, *, wait: bool = False) -> Job:
    """Wrap a job so that, when several app processes share a PostgreSQL database, only one runs
    it at a time.

    Without `wait` the others skip that run: for jobs that run again soon, or whose repetition
    is only wasted work (retraining the safety model in every process). With `wait` they run
    it after the holder, and find it done: for the daily ledger jobs, so that a process that
    dies mid-run (its transaction rolled back) does not leave the day without a top-up."""

    async def run() -> None:
        async with db.exclusive(f"job:{name}", wait=wait) as mine:
            if not mine:
                log.info("job %s is running in another process; skipped here", name)
                return
            await job()

    return run


def build_scheduler(
    store: Store, board: JobBoard, photos: LocalPhotoStore, retrain: Job | None = None, checkpoint: Job | None = None,
    *, payments: PaymentGateway | None = None, card_events: Job | None = None, transfers: TransferGateway | None = None,
    poll_stops: Job | None = None, observe: Observe | None = None, staging: LocalPhotoStore | None = None,
) -> AsyncIOScheduler:
    """Every job is idempotent, so a missed or repeated run does no harm; on PostgreSQL only one
    process runs a given job at a time."""
    scheduler = AsyncIOScheduler(timezone=LOCAL_TZ)

    async def open_day() -> None:
        await jobs.open_capacity_day(store)

    async def topup() -> None:
        await jobs.end_of_day_topup(store)

    async def reconcile_yesterday() -> None:
        await jobs.reconcile_capacity(store, previous_day(store.clock.now()))

    async def reconcile_board() -> None:
        await jobs.reconcile_board(store, board)

    async def settle() -> None:
        await jobs.settle_due(store)
        if card_events is not None:
            await card_events()  # Stripe events left pending (stored while another process was applying)
        if payments is not None:
            await cards.run_due(store, payments)  # capture right after settling (idempotent)

    async def card_holds() -> None:
        if payments is not None:
            await cards.flag_old_holds(store)

    async def close_proposals() -> None:
        await jobs.close_proposals(store)
        if poll_stops is not None:
            await poll_stops()  # polls of proposals closed before a crash (or with Telegram down)

    async def expire_campaigns() -> None:
        await jobs.expire_campaigns(store, board)

    async def campaign_progress() -> None:
        async with store.uow() as uow:
            await campaign_notify.flush_progress(uow)

    async def time_out() -> None:
        await jobs.time_out_stuck_orders(store, board)

    async def renew_pledges() -> None:
        await jobs.renew_pledges(store)

    async def tell_pledgers() -> None:
        await jobs.tell_pledgers(store)

    async def tell_pledgers_often() -> None:
        await jobs.tell_pledgers_often(store)
    async def pay_out() -> None:
        await jobs.run_payouts(store, transfers=transfers)

    async def purge() -> None:
        await jobs.cancel_stale_drafts(store, board)
        await jobs.purge_expired_data(store, photos)
        await jobs.sweep_unrecorded_photos(store, photos, staging)
        await jobs.end_erasures(store)

    async def retention() -> None:
        await jobs.apply_retention(store)

    def add(job: Job, trigger: IntervalTrigger | CronTrigger, job_id: str, wait: bool = False, **options: Any) -> None:
        run = one_process_at_a_time(store.db, job_id, timed(job_id, job, observe), wait=wait)
        scheduler.add_job(run, trigger, id=job_id, replace_existing=True,
                          coalesce=True, **options)  # fmt: skip

    # Frequent jobs: another process's run covers this one.
    add(purge, IntervalTrigger(minutes=10), "purge_expired_data", max_instances=1)
    add(reconcile_board, IntervalTrigger(minutes=1), "reconcile_board", max_instances=1)
    add(settle, IntervalTrigger(minutes=1), "settle_due", max_instances=1)
    add(time_out, IntervalTrigger(minutes=1), "time_out_stuck_orders", max_instances=1)
    if payments is not None:
        add(card_holds, IntervalTrigger(hours=1), "flag_old_card_holds", max_instances=1)
    add(close_proposals, IntervalTrigger(minutes=1), "close_proposals", max_instances=1)
    add(expire_campaigns, IntervalTrigger(minutes=1), "expire_campaigns", max_instances=1)
    add(tell_pledgers_often, IntervalTrigger(minutes=1), "tell_pledgers_often", max_instances=1)
    add(campaign_progress, IntervalTrigger(minutes=1), "campaign_progress", max_instances=1)
    if retrain is not None:
        add(retrain, CronTrigger(day_of_week="sun", hour=3, timezone=LOCAL_TZ), "retrain_safety", misfire_grace_time=24 * 3600)
    # Once a day, and guarded per day: every process runs them in turn; after the first, a no-op.
    add(open_day, CronTrigger(hour=0, minute=1, timezone=LOCAL_TZ), "open_capacity_day", wait=True, misfire_grace_time=3600)
    add(topup, CronTrigger(hour=0, minute=5, timezone=LOCAL_TZ), "end_of_day_topup", wait=True, misfire_grace_time=6 * 3600)
    add(retention, CronTrigger(hour=3, minute=30, timezone=LOCAL_TZ), "apply_retention", wait=True,
        misfire_grace_time=12 * 3600)  # fmt: skip
    add(reconcile_yesterday, CronTrigger(hour=0, minute=10, timezone=LOCAL_TZ), "reconcile_capacity", wait=True,
        misfire_grace_time=6 * 3600)  # fmt: skip
    add(renew_pledges, CronTrigger(hour=0, minute=20, timezone=LOCAL_TZ), "renew_pledges", wait=True,
        misfire_grace_time=12 * 3600)  # fmt: skip
    # At the day's end, so "today" in the message covers the day's meals (one message a day per
    # pledge; a meal funded in the last two minutes is left out of it, still shown by /pledges).
    add(tell_pledgers, CronTrigger(hour=23, minute=58, timezone=LOCAL_TZ), "tell_pledgers", wait=True,
        misfire_grace_time=90)  # fmt: skip
    # The payout hour is governed: the job looks every 10 minutes and runs once a day from that
    # hour on (job_runs); on PostgreSQL the other processes wait their turn and find it done.
    add(pay_out, IntervalTrigger(minutes=10), "run_payouts", wait=True, max_instances=1)
    if checkpoint is not None:
        # after the top-up and reconciliation, so the day's checkpoint includes them
        add(checkpoint, CronTrigger(hour=0, minute=20, timezone=LOCAL_TZ), "daily_checkpoint", wait=True,
            misfire_grace_time=12 * 3600)  # fmt: skip
    return scheduler

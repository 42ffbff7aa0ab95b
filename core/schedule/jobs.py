"""Scheduled jobs: each idempotent, each callable directly with an injected clock."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

from core.board.base import JobBoard
from core.campaigns import service as campaigns
from core.funding import pledges
from core.governance import appeals
from core.ledger import service as money
from core.orders import service as orders
from core.orders import timeouts
from core.orders.lifecycle import CAPACITY_DONE, CAPACITY_HELD, Status
from core.payments import connect, payouts
from core.ports import Store, TransferGateway, UnitOfWork
from core.privacy.forget import FAREWELL_KEEP
from core.seekers import safety
from core.seekers.photo_records import delete_photos
from core.seekers.photos import LocalPhotoStore
from core.shared.events import CapacityMismatch, EmbeddingsPurged, PhotosDeleted, RetentionApplied

log = logging.getLogger(__name__)


async def end_of_day_topup(store: Store, day: str | None = None) -> dict[int, int]:
    """Top up yesterday's (or `day`'s) workers to the daily minimum from the guarantee pool."""
    async with store.uow() as uow:
        return await money.daily_minimum_topup(uow, day or money.previous_day(uow.at))


async def open_capacity_day(store: Store) -> int:
    """Start today's capacity counters at each restaurant's pledge (the daily reset)."""
    async with store.uow() as uow:
        restaurants = await uow.restaurants.approved()
        for r in restaurants:
            await uow.restaurants.open_day(r.id, uow.day)
        return len(restaurants)


async def reconcile_capacity(store: Store, day: str) -> list[CapacityMismatch]:
    """Compare each counter of a day with its orders; record every mismatch."""
    async with store.uow() as uow:
        if not await uow.job_runs.claim("reconcile_capacity", day):
            return []
        held = await uow.orders.held_capacity(day, tuple(CAPACITY_HELD))
        done = await uow.orders.held_capacity(day, CAPACITY_DONE)
        found = []
        for rid, _pledged, reserved, completed in await uow.restaurants.counters(day):
            expected = held.get(rid, 0) + done.get(rid, 0)
            if reserved + completed != expected:
                mismatch = CapacityMismatch(
                    actor="scheduler", restaurant_id=rid, day=day, counter=reserved + completed, orders=expected
                )
                uow.record(mismatch)
                found.append(mismatch)
        return found


async def reconcile_board(store: Store, board: JobBoard) -> dict[str, int]:
    """Make the board agree with the orders after any failure between the two steps.

    Open jobs belong to ON_BOARD orders; claimed entries to CLAIMED orders (kept until pickup
    so late tappers learn who won); anything else is removed."""
    fixed = {"posted": 0, "removed": 0, "claims_applied": 0, "released": 0}
    async with store.reader() as uow:
        live = await uow.orders.find(statuses=[Status.ON_BOARD, Status.CLAIMED], limit=10_000)
        terms = {o.id: await money.order_terms(uow, o) for o in live}  # each job pays as its order's terms say
        restaurants = {o.restaurant_id: await uow.restaurants.get(o.restaurant_id or 0) for o in live}
    entries = {e.job.order_id: e for e in await board.entries()}
    for order in live:
        entry = entries.pop(order.id, None)
        if order.status is Status.CLAIMED:
            continue  # its entry (if any) stays until pickup
        if entry is None:
            r = restaurants[order.restaurant_id]
            assert r is not None
            await board.post(orders.job_for(order, r, terms[order.id]))
            fixed["posted"] += 1
        elif entry.claimed_by is not None:
            # The board decided a winner but the order never heard: roll the claim forward.
            async with store.uow() as uow:
                worker = await uow.workers.get(entry.claimed_by)
                if worker is None:
                    await board.release(order.id)
                    fixed["released"] += 1
                    continue
                await orders.claim(uow, order.id, worker, board, "system")
            fixed["claims_applied"] += 1
    for order_id in entries:  # jobs whose orders have moved on
        await board.remove(order_id)
        fixed["removed"] += 1
    return fixed


async def purge_expired_data(store: Store, photos: LocalPhotoStore) -> dict[str, int]:
    """Delete photos past the retention parameter and face embeddings past the duplicate
    window; both deletions go into the event log (privacy rules)."""
    async with store.uow() as uow:
        params = await uow.params.current()
        before = (uow.at - timedelta(days=params.photo_retention_days)).isoformat()
        old = await uow.photos.older_than(before)
        await delete_photos(uow, photos, old, "scheduler", "retention")
        embeddings = await uow.screening.purge_expired(uow.at)
        if embeddings:
            uow.record(EmbeddingsPurged(actor="scheduler", count=embeddings))
    return {"photos": len(old), "embeddings": embeddings}


# A photo file younger than this may belong to a transaction still running: the sweep leaves it.
UNRECORDED_AFTER = timedelta(days=1)
_IDS_PER_QUERY = 500


async def sweep_unrecorded_photos(store: Store, photos: LocalPhotoStore, staging: LocalPhotoStore | None = None) -> dict[str, int]:
    """Delete photo bytes that no record keeps, written more than a day ago. Retention goes by
    the records, so without this they would stay for ever: a photo is written before its record,
    and a transaction that then rolls back (a crash mid-batch, a failing message, a batch done
    again) leaves the file with no record; a staged inbound photo stays when its message is set
    aside as failed, or on a crash between the commit and the staging delete. Staged photos are
    kept while a pending message refers to them. A chain event counts what went (no ids)."""
    async with store.uow() as uow:
        cutoff = (uow.at - UNRECORDED_AFTER).timestamp()
        names = await photos.written_before(cutoff)
        kept: set[str] = set()
        for start in range(0, len(names), _IDS_PER_QUERY):
            kept |= await uow.photos.kept(names[start:start + _IDS_PER_QUERY])
        unrecorded = [name for name in names if name not in kept]
        for name in unrecorded:
            await photos.delete(name)
        staged: list[str] = []
        if staging is not None:
            waiting = await uow.inbox.pending_photo_refs()
            staged = [name for name in await staging.written_before(cutoff) if name not in waiting]
            for name in staged:
                await staging.delete(name)
        if unrecorded or staged:
            uow.record(PhotosDeleted(actor="scheduler", count=len(unrecorded) + len(staged), reason="unrecorded"))
    return {"photos": len(unrecorded), "staged": len(staged)}


async def apply_retention(store: Store) -> dict[str, int] | None:
    """Once a day: round exact coordinates of orders older than `order_detail_days` to about 1 km
    and delete inbox/outbox messages older than `message_log_days`; each run is a chain event
    with its counts. A second run the same day does nothing (None)."""
    async with store.uow() as uow:
        if not await uow.job_runs.claim("apply_retention", uow.day):
            return None
        params = await uow.params.current()
        before = {"order_coordinates": (uow.at - timedelta(days=params.order_detail_days)).isoformat(),
                  "messages": (uow.at - timedelta(days=params.message_log_days)).isoformat()}  # fmt: skip
        counts = {"order_coordinates": await uow.privacy.coarsen_orders(before["order_coordinates"]),
                  "messages": await uow.privacy.delete_messages(before["messages"])}  # fmt: skip
        uow.record(RetentionApplied(actor="scheduler", counts=counts, before=before))
    return counts


async def end_erasures(store: Store) -> dict[str, int]:
    """Delete the farewell messages of erased people and their web-chat sessions once the hour
    they had to read them has passed, and link codes and wrong tries older than a day
    (a chain event when anything went)."""
    async with store.uow() as uow:
        before = (uow.at - FAREWELL_KEEP).isoformat()
        counts = {"farewells": await uow.privacy.delete_farewells(before),
                  "web_sessions": await uow.privacy.delete_expired_sessions(uow.now),
                  "link_attempts": await uow.privacy.delete_link_attempts((uow.at - timedelta(days=1)).isoformat())}  # fmt: skip
        if any(counts.values()):
            uow.record(RetentionApplied(actor="scheduler", counts=counts, before={"farewells": before, "web_sessions": uow.now}))
    return counts


# Below this many real outcomes the synthetic bootstrap set trains the safety model.
MIN_REAL_OUTCOMES = 200


async def retrain_safety(store: Store, data_dir: Path, key: bytes) -> safety.SafetyModel:
    """Retrain the safety model from recorded delivery outcomes (bootstrap set until enough)."""
    async with store.reader() as uow:
        rows = await uow.screening.outcome_rows()
    real = [(safety.SafetyFeatures.from_dict(f), ok) for f, ok in rows]
    if len(real) < MIN_REAL_OUTCOMES or len({ok for _f, ok in real}) < 2:
        log.info("safety model: %d real outcomes, training on the bootstrap set", len(real))
        return await asyncio.to_thread(safety.load_or_train, data_dir, key)
    return await asyncio.to_thread(safety.load_or_train, data_dir, key, real)


async def cancel_stale_drafts(store: Store, board: JobBoard, older_than_min: int = 30) -> int:
    """Cancel screened requests the donor never paid for, so they stop holding the seeker's
    face in the duplicate window (an unpaid request must not deny someone a meal)."""
    async with store.reader() as uow:
        cutoff = (uow.at - timedelta(minutes=older_than_min)).isoformat()
        stale = [o for o in await uow.orders.find(statuses=[Status.DRAFT, Status.SCREENED], limit=1000)
                 if o.created_at < cutoff]  # fmt: skip
    cancelled = 0
    for order in stale:
        async with store.uow() as uow:
            donor = await uow.people.get(order.donor_id)
            current = await uow.orders.get(order.id)
            if donor is None or current is None or current.status not in (Status.DRAFT, Status.SCREENED):
                continue  # paid or cancelled meanwhile
            if await uow.campaigns.for_order(order.id) is not None:
                continue  # a campaign is collecting for it: expire_campaigns ends it when its time is up
            if any(p.page_open(uow.at) for p in await uow.cards.for_order(order.id)):
                continue  # the donor may be on the card page: stale only once that page has expired
            await orders.cancel(uow, order.id, donor, board)
            cancelled += 1
    return cancelled


async def expire_campaigns(store: Store, board: JobBoard) -> int:
    """Refund every gift of each campaign whose time ran out short of its target, each campaign in
    its own transaction (idempotent: an ended campaign is skipped); return how many expired."""
    async with store.reader() as uow:
        due = await uow.campaigns.due_to_expire(uow.now)
    expired = 0
    for campaign_id in due:
        async with store.uow() as uow:
            if await campaigns.close(uow, campaign_id, "expire", None, board) is not None:
                expired += 1
    return expired


async def settle_due(store: Store) -> int:
    """Settle every delivered or failed order whose dispute window has passed, each in its own
    transaction (a crash loses nothing: the next run finds the rest); return how many settled."""
    async with store.reader() as uow:
        due = await uow.orders.due_for_settlement(uow.now)
    settled = 0
    for order_id in due:
        async with store.uow() as uow:
            if await orders.settle(uow, order_id) is not None:
                settled += 1
    return settled


async def time_out_stuck_orders(store: Store, board: JobBoard) -> dict[str, int]:
    """Act on orders stuck too long at a stage (core/orders/timeouts.py); each order in its own
    transaction, each stage at most once per stay in a status, so running again does nothing."""
    async with store.reader() as uow:
        params = await uow.params.current()

        def before(minutes: int) -> str:
            return (uow.at - timedelta(minutes=minutes)).isoformat()

        due = {
            Status.AT_RESTAURANT: await uow.orders.in_status_since(Status.AT_RESTAURANT, before(params.restaurant_answer_min)),
            Status.ON_BOARD: await uow.orders.in_status_since(
                Status.ON_BOARD, before(min(params.claim_wait_min, params.claim_give_up_min))),
            Status.CLAIMED: await uow.orders.in_status_since(Status.CLAIMED, before(params.pickup_wait_min)),
            Status.PICKED_UP: await uow.orders.in_status_since(Status.PICKED_UP, before(params.delivery_wait_min)),
        }  # fmt: skip
    done: dict[str, int] = {}
    for status, stuck in due.items():
        for order in stuck:
            async with store.uow() as uow:
                for stage in await _time_out(uow, status, order.id, order.status_at, board):
                    done[stage] = done.get(stage, 0) + 1
    return done


async def _time_out(uow: UnitOfWork, status: Status, order_id: int, since: str, board: JobBoard) -> list[str]:
    """The one timeout step due for an order in `status` since `since`; the stages it did."""
    if status is Status.AT_RESTAURANT:
        return ["restaurant"] if await timeouts.restaurant_silent(uow, order_id, since) else []
    if status is Status.ON_BOARD:
        return await timeouts.unclaimed(uow, order_id, since)
    if status is Status.CLAIMED:
        stage = await timeouts.pickup_overdue(uow, order_id, since, board)
        return [stage] if stage else []
    return ["delivery"] if await timeouts.delivery_overdue(uow, order_id, since) else []


async def renew_pledges(store: Store) -> dict[int, bool]:
    """Renew the auto-renewing pledges due today, each in a transaction of its own (a donor's
    balance is locked only while their own pledge renews); True renewed, False paused."""
    async with store.reader() as uow:
        due = await uow.pledges.due_for_renewal(uow.day)
    done: dict[int, bool] = {}
    for pledge_id in due:
        async with store.uow() as uow:
            if (renewed := await pledges.renew_one(uow, pledge_id)) is not None:
                done[pledge_id] = renewed
    return done


async def tell_pledgers_often(store: Store) -> int:
    """Every minute: tell the donors who asked to hear of every use what their pledges just paid
    for, each pledge in its own transaction, at most once in OFTEN_GAP_MIN minutes each."""
    async with store.reader() as uow:
        cutoff = (uow.at - timedelta(minutes=pledges.OFTEN_GAP_MIN)).isoformat()
        due = await uow.pledges.often_due(cutoff)
    told = 0
    for pledge_id in due:
        async with store.uow() as uow:
            told += await pledges.tell_often(uow, pledge_id) is not None
    return told


async def tell_pledgers(store: Store, day: str | None = None) -> int:
    """Tell each pledger, once a day per pledge, what it paid for today (or on `day`)."""
    async with store.uow() as uow:
        return len(await pledges.tell_pledgers(uow, day or uow.day))
async def run_payouts(store: Store, day: str | None = None, transfers: TransferGateway | None = None) -> payouts.RunReport:
    """The daily payout run: today's once its governed hour has come (or `day`'s, by hand); with
    Stripe Connect, the Stripe lines are then sent as transfers (and those a previous run could
    not send, again)."""
    async with store.uow() as uow:
        report = await (payouts.run_payouts(uow, day) if day else payouts.run_if_due(uow))
    if transfers is not None:
        await connect.pay_transfers(store, transfers)
    return report


async def close_proposals(store: Store) -> dict[str, int]:
    """Decide every proposal whose time is up, each in its own transaction (decided once, even
    by two processes at the same moment: the row is locked and the status checked again)."""
    async with store.reader() as uow:
        due = await uow.governance.due(uow.now)
    outcomes: dict[str, int] = {}
    for proposal_id in due:
        async with store.uow() as uow:
            closed = await appeals.close(uow, proposal_id)  # an appeal's vote also applies its outcome
        if closed is not None:
            outcomes[closed.status.value] = outcomes.get(closed.status.value, 0) + 1
    return outcomes

"""Daily checkpoints: signed once per day even when several processes race, and verifiable offline."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

import ketpaar_verify as kv
from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.ledger.checkpoints import Signer, make_checkpoint
from core.ledger.export import MAX_PAGE, export_line, export_page
from core.ledger.params import Params
from core.ledger.service import record_deposit
from tests.clock import FixedClock
from tests.helpers import assert_ledger_invariants, chain_events
from webhooks.scheduler import build_scheduler

SIGNER = Signer(bytes(range(32)))


@pytest.mark.postgres
async def test_two_processes_sign_one_checkpoint_a_day_on_postgresql(pg_fresh_url: str) -> None:
    clock = FixedClock(datetime(2026, 11, 24, 0, 0, tzinfo=UTC))  # 05:30 IST: yesterday is the 23rd
    first, second = Database(pg_fresh_url), Database(pg_fresh_url)
    try:
        a, b = Store(first, clock), Store(second, clock)
        async with a.uow() as uow:
            await uow.params.ensure_initial(Params())
        bodies = await asyncio.gather(*(make_checkpoint(s, SIGNER) for s in (a, b, a, b)))
        assert all(body == bodies[0] for body in bodies), "every process returns the one published"
        async with b.reader() as uow:
            assert len(await uow.checkpoints.latest(10)) == 1
            signed = await chain_events(uow, "checkpoint.signed")
            before = (await uow.chain.page(signed[0].seq - 2, 1))[0]
        cp = bodies[0]
        assert len(signed) == 1, "one process published, one event says so"
        assert (cp["day"], cp["seq"], cp["head"]) == ("2026-11-23", before.seq, before.hash)
        assert (cp["seq"], cp["head"]) == (signed[0].seq - 1, signed[0].prev_hash)  # the event follows what it signed
        assert kv.check_checkpoint_signature(cp, SIGNER.public_hex) == ""
        async with a.reader() as uow:  # the log exported from PostgreSQL extends it, byte for byte
            lines, nxt = await export_page(uow, 0, MAX_PAGE)
            assert nxt is None and lines == [export_line(ev) async for ev in uow.chain.stream()]
        report = kv.verify(lines, cp["seq"])
        assert report.ok and kv.check_since(report, cp) == ""
        for statement in ("UPDATE checkpoints SET seq = 0", "DELETE FROM checkpoints"):  # published is final
            with pytest.raises(DBAPIError, match="append-only"):
                async with first.write() as conn:
                    await conn.execute(text(statement))
        await assert_ledger_invariants(a)
    finally:
        await first.dispose()
        await second.dispose()


async def test_each_checkpoint_carries_on_the_totals_of_the_last(sqlite_db: Database) -> None:
    clock = FixedClock(datetime(2026, 11, 23, 6, 30, tzinfo=UTC))
    store = Store(sqlite_db, clock)
    async with store.uow() as uow:
        await uow.params.ensure_initial(Params())
        donor = await uow.people.get_or_create("test", "cp-donor")
        await record_deposit(uow, donor.id, 50_000, "cash-1", "person:1", "")
    clock.advance(hours=24)
    first = await make_checkpoint(store, SIGNER)
    assert first["day"] == "2026-11-23" and first["totals"] == {"donor": 50_000, "external": -50_000}
    async with store.uow() as uow:
        await record_deposit(uow, donor.id, 20_000, "cash-2", "person:1", "")
    clock.advance(hours=24)
    second = await make_checkpoint(store, SIGNER)
    assert second["day"] == "2026-11-24" and second["seq"] > first["seq"]
    assert second["totals"] == {"donor": 70_000, "external": -70_000}
    assert await make_checkpoint(store, SIGNER, "2026-11-23") == first  # a day's checkpoint never changes
    await assert_ledger_invariants(store)


async def test_the_scheduler_signs_yesterday_at_0020_india_time(app_env: dict[str, Any]) -> None:
    runtime = app_env["runtime"]
    scheduler = build_scheduler(runtime.store, runtime.board, runtime.services.photos, None, runtime.checkpoint)
    job = scheduler.get_job("daily_checkpoint")
    assert job is not None and str(job.trigger) == "cron[hour='0', minute='20']"
    assert str(job.trigger.timezone) == "Asia/Kolkata"
    await job.func()  # what the scheduler runs (guarded by the one-process lock on PostgreSQL)
    published = (await app_env["client"].get("/api/checkpoints")).json()
    assert [cp["day"] for cp in published] == ["2026-11-22"]
    assert kv.check_checkpoint_signature(published[0], runtime.signer.public_hex) == ""

"""/readyz says whether a process may take traffic (and why not); /healthz stays liveness; shutdown drains."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.channel import SendResult
from bot.outbox_sender import OutboxSender
from core.adapters.sql.schema import inbox, outbox
from core.adapters.sql.uow import Store
from core.seekers.screening import PassThroughScreener
from flows.messages import Outbound
from tests.conftest import running_app


async def readyz(env: dict[str, Any]) -> tuple[int, dict[str, str]]:
    response = await env["client"].get("/readyz")
    return response.status_code, response.json()["checks"]


async def test_ready_with_its_scheduler_and_live_regardless(app_db: Path, tmp_path: Path) -> None:
    async with running_app(app_db, tmp_path / "var", settings={"scheduler": True}) as env:
        status, checks = await readyz(env)
        assert status == 200 and checks == {"database": "ok", "migrations": "ok", "scheduler": "ok"}
        assert (await env["client"].get("/healthz")).json() == {"status": "ok"}


async def test_not_ready_without_any_scheduler_on_the_embedded_database(app_env: dict[str, Any]) -> None:
    status, checks = await readyz(app_env)
    assert status == 503 and checks["scheduler"] == "none" and checks["database"] == "ok"


async def test_not_ready_when_the_schema_is_behind_the_code(app_db: Path, tmp_path: Path) -> None:
    async with running_app(app_db, tmp_path / "var", settings={"scheduler": True}) as env:
        with sqlite3.connect(app_db) as conn:  # an older release's schema, as after a half-done upgrade
            conn.execute("UPDATE alembic_version SET version_num = '0014'")
        status, checks = await readyz(env)
    assert status == 503 and checks["migrations"] == "behind"


async def test_not_ready_when_face_weights_are_missing(app_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with running_app(app_db, tmp_path / "var", settings={"scheduler": True, "screening": "faces"},
                           screener=PassThroughScreener()) as env:  # fmt: skip
        assert (await readyz(env))[1]["face_weights"] == "ok"
        monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path / "nothing-here"))
        status, checks = await readyz(env)
    assert status == 503 and checks["face_weights"] == "missing"


@pytest.mark.redis
async def test_redis_is_checked_when_configured(app_db: Path, tmp_path: Path, redis_url: str, redis_prefix: str) -> None:
    async with running_app(app_db, tmp_path / "var", redis_url, redis_prefix, settings={"scheduler": True}) as env:
        assert await readyz(env) == (200, {"database": "ok", "migrations": "ok", "scheduler": "ok", "redis": "ok"})
    shutil.copy(app_db, tmp_path / "b.db")
    async with running_app(tmp_path / "b.db", tmp_path / "var2", "redis://127.0.0.1:1/0", settings={"scheduler": True},
                           seed=False) as env:  # fmt: skip
        status, checks = await readyz(env)
    assert status == 503 and checks["redis"] == "unreachable"


@pytest.mark.postgres
async def test_on_postgres_a_process_without_a_scheduler_knows_another_one_leads(pg_fresh_url: str, tmp_path: Path) -> None:
    async with running_app(pg_fresh_url, tmp_path / "a", settings={"scheduler": False}, seed=False) as follower:
        status, checks = await readyz(follower)
        assert status == 503 and checks["scheduler"] == "none"
        async with running_app(pg_fresh_url, tmp_path / "b", settings={"scheduler": True}, seed=False) as leader:
            for _ in range(200):  # the leader task takes its lock right after start-up
                if leader["runtime"].leader:
                    break
                await asyncio.sleep(0.01)
            assert await readyz(leader) == (200, {"database": "ok", "migrations": "ok", "scheduler": "ok"})
            assert await readyz(follower) == (200, {"database": "ok", "migrations": "ok", "scheduler": "ok"})
        assert (await readyz(follower))[1]["scheduler"] == "none"  # the leader stopped: its lock went with it


@pytest.mark.postgres
async def test_a_scheduler_leading_another_database_on_the_server_does_not_count(pg_fresh_url: str, pg_url: str,
                                                                                tmp_path: Path) -> None:  # fmt: skip
    # Advisory locks belong to one database, but pg_locks lists the whole server's: a staging
    # service's leader on the same PostgreSQL must not make this one look scheduled.
    from core.adapters.sql import health
    from core.adapters.sql.db import Database

    other = Database(pg_url)
    try:
        async with other.exclusive(health.LEADER_LOCK) as held:
            assert held
            async with running_app(pg_fresh_url, tmp_path / "a", settings={"scheduler": False}, seed=False) as alone:
                status, checks = await readyz(alone)
    finally:
        await other.dispose()
    assert status == 503 and checks["scheduler"] == "none"


@pytest.mark.postgres
async def test_an_unreachable_database_is_not_ready(pg_fresh_url: str, tmp_path: Path) -> None:
    async with running_app(pg_fresh_url, tmp_path / "a", settings={"scheduler": True}, seed=False) as env:
        runtime = env["runtime"]
        await runtime.db.dispose()
        real = runtime.db.engine
        from sqlalchemy.ext.asyncio import create_async_engine

        runtime.db.engine = create_async_engine("postgresql+psycopg://postgres@127.0.0.1:1/nothing")
        try:
            status, checks = await readyz(env)
        finally:
            await runtime.db.engine.dispose()
            runtime.db.engine = real
    assert status == 503 and checks == {"database": "unreachable"}


class SlowSender:
    """A channel that holds each send until released, recording what it delivered."""

    def __init__(self) -> None:
        self.started, self.release = asyncio.Event(), asyncio.Event()
        self.sent: list[str] = []

    async def send(self, address: str, message: Outbound, *, outbox_id: int) -> SendResult:
        self.started.set()
        await self.release.wait()
        self.sent.append(message.text)
        return SendResult(ok=True, provider_message_id=f"p{outbox_id}")


async def test_on_shutdown_the_outbox_sender_finishes_its_batch_and_takes_no_other(app_env: dict[str, Any]) -> None:
    store: Store = app_env["runtime"].store
    async with store.uow() as uow:
        for i in range(5):
            await uow.outbox.enqueue("slow", f"a{i}", Outbound(f"message {i}").to_payload())
    channel = SlowSender()
    sender = OutboxSender(store, {"slow": channel}, batch=2)
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run_forever(stop))
    await channel.started.wait()  # a batch of two is being sent
    stop.set()  # SIGTERM
    channel.release.set()
    await asyncio.wait_for(task, 10)
    async with store.reader() as uow:
        rows = (await uow.conn.execute(select(outbox.c.status).where(outbox.c.channel == "slow").order_by(outbox.c.id))).scalars()
        assert list(rows) == ["sent", "sent", "pending", "pending", "pending"]
    assert channel.sent == ["message 0", "message 1"]


async def test_on_shutdown_messages_being_handled_finish_and_are_answered(app_db: Path, tmp_path: Path) -> None:
    async with running_app(app_db, tmp_path / "var") as env:
        runtime = env["runtime"]
        for i in range(3):
            await runtime.processor.receive("webchat", f"shutdown-{i}", "donor-1", {"kind": "text", "text": "/balance"})
        # the lifespan ends right away, with the three messages scheduled but not yet handled
    with sqlite3.connect(app_db) as conn:
        statuses = [r[0] for r in conn.execute(f"SELECT status FROM {inbox.name} WHERE provider_id LIKE 'shutdown-%'")]
        replies = conn.execute("SELECT count(*) FROM outbox WHERE address = 'donor-1'").fetchone()[0]
    assert statuses == ["done"] * 3 and replies >= 3

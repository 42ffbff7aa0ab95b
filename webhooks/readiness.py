"""`/readyz`: may this process take traffic? Database, Redis, schema, face weights, scheduler leader."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from core.adapters.redis.board import RedisJobBoard
from core.adapters.sql import health
from core.adapters.sql.db import Database
from core.seekers import faces
from webhooks.runtime import Runtime

log = logging.getLogger(__name__)
PROBE_TIMEOUT_S = 3.0  # a load balancer's probe must answer fast; a hung database is "not ready"
LEADER_RETRY_S = 30.0


async def hold_leadership(runtime: Runtime) -> None:
    """Hold the scheduler leader lock while this process runs the scheduler, so any process can
    tell that one runs (PostgreSQL advisory lock on its own connection; released on exit or crash)."""
    while not runtime.stop.is_set():
        try:
            async with runtime.db.exclusive(health.LEADER_LOCK) as mine:
                runtime.leader = mine
                if mine:
                    await runtime.stop.wait()
                    return
        except Exception:
            log.exception("scheduler leader lock: the database is away; trying again")
        finally:
            runtime.leader = False
        try:
            await asyncio.wait_for(runtime.stop.wait(), LEADER_RETRY_S)
        except TimeoutError:
            continue


async def _check(name: str, checks: dict[str, str], probe: Awaitable[object]) -> None:
    try:
        result = await asyncio.wait_for(probe, PROBE_TIMEOUT_S)
    except Exception as exc:  # whatever failed, the answer is the same: not ready, and why (no detail leaked)
        log.warning("readiness: %s failed: %s", name, type(exc).__name__)
        checks[name] = "unreachable"
        return
    checks[name] = str(result) if isinstance(result, str) else "ok"


async def _schema(db: Database, url: str) -> str:
    current = await health.current_revisions(db)
    return "ok" if current == health.head_revisions(url) else "behind"


async def _leader(runtime: Runtime) -> str:
    if runtime.leader:
        return "ok"
    if runtime.db.is_sqlite:
        # the embedded default is one process: its own scheduler or none
        return "ok" if runtime.scheduler is not None and runtime.scheduler.running else "none"
    return "ok" if await health.leader_known(runtime.db) else "none"


async def readiness(runtime: Runtime) -> tuple[bool, dict[str, str]]:
    """Each check's verdict ("ok" or why not) and whether all passed."""
    checks: dict[str, str] = {}
    await _check("database", checks, health.ping(runtime.db))
    if checks["database"] == "ok":
        await _check("migrations", checks, _schema(runtime.db, runtime.settings.database_url))
        await _check("scheduler", checks, _leader(runtime))
    if isinstance(runtime.board, RedisJobBoard):
        await _check("redis", checks, runtime.board.ping())
    if runtime.settings.screening == "faces":
        checks["face_weights"] = "missing" if faces.missing_weights() else "ok"
    if runtime.stop.is_set():
        checks["shutdown"] = "stopping"  # draining: the load balancer should send new work elsewhere
    return all(v == "ok" for v in checks.values()), checks

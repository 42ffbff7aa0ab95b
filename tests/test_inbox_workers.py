"""Two `ketpaar work` processes share one PostgreSQL inbox while messages keep arriving, and one of them
is killed (SIGKILL) on the way and replaced: each person's messages are processed in the order they
arrived, none is lost, none is processed twice."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from core.adapters.sql.db import Database
from core.adapters.sql.schema import inbox, outbox
from core.adapters.sql.uow import Store
from core.shared.clock import SystemClock
from webhooks.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
PEOPLE, ROUNDS = 12, 16


async def store_round(store: Store, tag: str, round_: int) -> None:
    """One message from every person, stored as `serve` does with KETPAAR_INBOX_WORKER=false."""
    async with store.uow() as uow:
        for p in range(PEOPLE):
            await uow.inbox.store("webchat", f"{tag}-{p}-{round_}", f"{tag}-{p}", {"kind": "text", "text": "/help"})


async def rows(db: Database, tag: str) -> list[tuple[int, str, str, str | None]]:
    """(id, address, status, processed_at) of this test's inbox rows, by id."""
    async with db.read() as conn:
        q = select(inbox.c.id, inbox.c.address, inbox.c.status, inbox.c.processed_at).where(
            inbox.c.address.startswith(f"{tag}-")).order_by(inbox.c.id)  # fmt: skip
        return [(int(i), a, s, t) for i, a, s, t in await conn.execute(q)]


async def until(db: Database, tag: str, done: int, deadline_s: float = 180.0) -> None:
    """Wait until `done` of this test's messages are processed (a condition, polled, not a timing)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while sum(1 for r in await rows(db, tag) if r[2] != "pending") < done:
        assert loop.time() < end, "the work processes did not process the inbox"
        await asyncio.sleep(0.05)


@pytest.mark.postgres
async def test_two_work_processes_keep_each_persons_order_and_lose_or_double_nothing_even_when_one_is_killed(
    pg_url: str, pg_db: Database, tmp_path: Path
) -> None:
    tag = f"w2-{uuid.uuid4().hex[:8]}"
    store = Store(pg_db, SystemClock())
    env = {**os.environ, "KETPAAR_DATABASE_URL": pg_url, "KETPAAR_DATA_DIR": str(tmp_path), "KETPAAR_SCREENING": "pass",
           "KETPAAR_SECRET_KEY": "test-secret", "KETPAAR_PERSON_RATE_PER_MINUTE": "0", "KETPAAR_ADMINS": "",
           "PYTHONPATH": str(ROOT)}  # fmt: skip
    work = [sys.executable, "-m", "webhooks.cli", "work"]
    async with store.uow() as uow:  # what each process's start-up would write first: already there
        await uow.params.ensure_initial(Settings().initial_params())
    for round_ in range(ROUNDS // 2):  # a backlog both processes find at start, for the same people
        await store_round(store, tag, round_)
    procs = [subprocess.Popen(work, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(2)]  # fmt: skip
    try:
        for round_ in range(ROUNDS // 2, ROUNDS):  # and messages keep arriving while both work
            await store_round(store, tag, round_)
        await until(pg_db, tag, PEOPLE * 2)
        procs[0].kill()  # SIGKILL, mid-batch or between batches: its open batch rolls back and is done again
        procs[0].wait()
        procs.append(subprocess.Popen(work, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        await until(pg_db, tag, PEOPLE * ROUNDS)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
            proc.wait()
    assert procs[0].returncode == -9 and all(p.returncode in (0, -15) for p in procs[1:]), [p.returncode for p in procs]

    stored = await rows(pg_db, tag)
    assert len(stored) == PEOPLE * ROUNDS and {s for _, _, s, _ in stored} == {"done"}  # none lost or failed
    for p in range(PEOPLE):
        mine = [at for _, address, _, at in stored if address == f"{tag}-{p}"]  # in arrival (id) order
        assert all(a is not None and b is not None and a < b for a, b in zip(mine, mine[1:], strict=False)), mine
    async with pg_db.read() as conn:
        q = select(outbox.c.address).where(outbox.c.address.startswith(f"{tag}-"))
        replies = [a for (a,) in await conn.execute(q)]
    per_person = {replies.count(f"{tag}-{p}") for p in range(PEOPLE)}
    assert len(per_person) == 1 and per_person.pop() >= ROUNDS  # every person answered alike: nothing doubled

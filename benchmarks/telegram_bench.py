"""Telegram benchmark: inbound webhook latency, and a job broadcast under Telegram's flood limits.

1. Inbound: POST /webhooks/telegram (secret check, parse with python-telegram-bot, store in the
   inbox, schedule the flows) against a bare FastAPI endpoint that only reads the JSON, both
   in-process over ASGI with the whole app running (SQLite). Sequential p50/p99 per request,
   then throughput with 20 concurrent clients; the flows run in the background meanwhile.
2. Broadcast: one job offered to N workers (300) through the outbox sender and the real SDK to
   the local fake Bot API, which answers 429 like Telegram when a bot exceeds ~30 messages/s
   or a chat ~1/s. Reports the time to deliver all, how many 429s came back, and the time to
   edit the other workers' offers to "taken". With --compare, the same broadcast once more with
   our limiter switched off, to show what the limiter saves.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import psycopg
from fastapi import APIRouter, FastAPI, Request

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.outbox_sender import OutboxSender  # noqa: E402
from bot.processor import InboxProcessor  # noqa: E402
from bot.rate_limit import ChatRateLimiter  # noqa: E402
from bot.telegram import TelegramChannel, edit_job_messages  # noqa: E402
from core.adapters.sql.db import Database  # noqa: E402
from core.adapters.sql.migrate import upgrade  # noqa: E402
from core.adapters.sql.uow import Store  # noqa: E402
from core.seekers.photos import LocalPhotoStore  # noqa: E402
from core.shared.clock import SystemClock  # noqa: E402
from flows.messages import Choice, Outbound  # noqa: E402
from tests.conftest import running_app  # noqa: E402
from tests.fake_telegram import TOKEN, FakeTelegram  # noqa: E402
from webhooks.telegram_routes import SECRET_HEADER, telegram_router  # noqa: E402

SECRET = "bench-secret"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def update(i: int) -> dict[str, Any]:
    user = 100_000 + i % 50
    return {"update_id": 1_000_000 + i, "message": {
        "message_id": i, "date": 1_790_000_000, "text": "/help",
        "from": {"id": user, "is_bot": False, "first_name": "Bench", "language_code": "en"},
        "chat": {"id": user, "type": "private"}}}  # fmt: skip


@contextlib.contextmanager
def fresh_postgres() -> Iterator[str]:
    """A new PostgreSQL database on the local server, dropped afterwards."""
    name = f"ketpaar_tgbench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def inbound(requests: int, fake: FakeTelegram, postgres: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        db: Path | str = stack.enter_context(fresh_postgres()) if postgres else Path(tmp) / "bench.db"
        redis = {"redis_url": REDIS, "redis_prefix": f"tgbench:{uuid.uuid4().hex[:8]}:"} if postgres else {}
        async with running_app(db, Path(tmp) / "var", **redis) as env:  # type: ignore[arg-type]
            runtime: Any = env["runtime"]
            channel = TelegramChannel(TOKEN, secret_token=SECRET, api_base=fake.url)

            async def no_flows(uow: Any, msg: Any) -> None:
                return None

            store_only = InboxProcessor(runtime.store, no_flows, LocalPhotoStore(Path(tmp) / "staging", os.urandom(32)))
            app = FastAPI()
            full = SimpleNamespace(store=runtime.store, processor=runtime.processor, telegram=channel)
            app.include_router(telegram_router(lambda request: full))
            bare_rt = SimpleNamespace(store=runtime.store, processor=store_only, telegram=channel)
            other = APIRouter(prefix="/stored")
            other.include_router(telegram_router(lambda request: bare_rt))
            app.include_router(other)

            @app.post("/bare")
            async def bare(request: Request) -> dict[str, bool]:
                await request.json()
                return {"ok": True}

            variants = (("bare endpoint", "/bare"), ("webhook, no flows", "/stored/webhooks/telegram"),
                        ("webhook + flows", "/webhooks/telegram"))  # fmt: skip
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                headers = {SECRET_HEADER: SECRET}
                for k, (name, path) in enumerate(variants):
                    times = []
                    for i in range(k * requests, (k + 1) * requests):
                        started = time.perf_counter()
                        response = await client.post(path, json=update(i), headers=headers)
                        times.append(time.perf_counter() - started)
                        assert response.status_code == 200, response.text
                    await runtime.processor.drain()
                    queue = list(range((k + 3) * requests, (k + 4) * requests))
                    started = time.perf_counter()

                    async def client_loop(path: str = path, queue: list[int] = queue) -> None:
                        while queue:
                            assert (await client.post(path, json=update(queue.pop()), headers=headers)).status_code == 200

                    await asyncio.gather(*(client_loop() for _ in range(20)))
                    rate = requests / (time.perf_counter() - started)
                    await runtime.processor.drain()
                    print(f"  {name:17s}: sequential p50 {pct(times, 0.5):6.2f} ms, p99 {pct(times, 0.99):6.2f} ms;"
                          f" 20 clients {rate:6.0f} updates/s")  # fmt: skip
            await store_only.drain()
            await channel.close()


async def broadcast(workers: int, limited: bool, latency_s: float) -> None:
    with tempfile.TemporaryDirectory() as tmp, FakeTelegram(enforce_limits=True, latency_s=latency_s) as fake:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        await asyncio.to_thread(upgrade, url)
        db = Database(url)
        store = Store(db, SystemClock())  # real time: rescheduled rows come due
        limiter = None if limited else ChatRateLimiter(per_second=100_000, per_chat_per_second=100_000, chat_burst=100)
        channel = TelegramChannel(TOKEN, api_base=fake.url, limiter=limiter)
        sender = OutboxSender(store, {"telegram": channel}, batch=workers, concurrency=100)
        async with store.uow() as uow:
            for w in range(workers):
                offer = Outbound(f"New job #42: pick up at Annapoorna Mess. Pay ₹30. (worker {w})",
                                 (Choice("Claim", "claim:42"),), meta={"job": 42})  # fmt: skip
                await uow.outbox.enqueue("telegram", str(200_000 + w), offer.to_payload())
        started = time.perf_counter()
        while len(fake.delivered()) < workers and time.perf_counter() - started < 120:
            if not await sender.run_once():
                await asyncio.sleep(0.1)
        sent = time.perf_counter() - started
        label = "with our limiter" if limited else "limiter off (429s still obeyed)"
        print(f"  {label}: {len(fake.delivered())}/{workers} offers in {sent:5.1f} s "
              f"({len(fake.delivered()) / sent:4.1f}/s), 429s: {fake.count_status(429)}, "
              f"in-place flood waits: {sender.stats['flood_waits']}, rescheduled: {sender.stats['retried']}")  # fmt: skip
        before = fake.count_status(429)
        started = time.perf_counter()
        edited = await edit_job_messages(store, channel, 42, "Job #42 was taken.", exclude={"200000"})
        print(f"  {label}: {edited} offers edited to 'taken' in {time.perf_counter() - started:5.1f} s, "
              f"429s: {fake.count_status(429) - before}")  # fmt: skip
        await channel.close()
        await db.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--workers", type=int, default=300)
    parser.add_argument("--latency", type=float, default=0.02, help="the fake's answer delay, seconds")
    parser.add_argument("--compare", action="store_true", help="also broadcast with the limiter off")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both",
                        help="inbound on SQLite, on PostgreSQL + Redis, or both")  # fmt: skip
    args = parser.parse_args()
    for backend in ("sqlite", "postgres") if args.backend == "both" else (args.backend,):
        label = "SQLite" if backend == "sqlite" else "PostgreSQL + Redis"
        print(f"Inbound ({args.requests} updates per variant, in-process ASGI, {label}, 50 senders):")
        with FakeTelegram() as fake:
            await inbound(args.requests, fake, backend == "postgres")
    print(f"Broadcast of one job to {args.workers} workers (fake answers in {args.latency * 1000:.0f} ms, "
          "429 above 30/s per bot or ~1/s per chat):")  # fmt: skip
    await broadcast(args.workers, True, args.latency)
    if args.compare:
        await broadcast(args.workers, False, args.latency)


if __name__ == "__main__":
    asyncio.run(main())

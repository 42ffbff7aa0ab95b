"""SQL statements per inbound message, counted (not timed): a machine-independent figure.

    python benchmarks/statements_per_message.py [--postgres] [--batch N] [--show]

Builds the real runtime (flows, router, inbox processor) on a fresh SQLite file (or, with
--postgres, a fresh PostgreSQL database and Redis for the job board), then, for each kind of
message, stores N of them from N different people and processes them as one batch (`process_batch`,
what `ketpaar work` and `serve` do), counting every statement the driver executes (a SQLAlchemy
`before_cursor_execute` listener). Prints statements per message for a batch of 1 and for a batch of
N: the first is what one person chatting alone costs, the second what a busy inbox costs per
message.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import secrets
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from PIL import Image
from sqlalchemy import event

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from inbound_load import PG_ADMIN_URL, REDIS_URL  # noqa: E402

from core.members.registration import apply_worker  # noqa: E402
from webhooks.runtime import Runtime, build_runtime  # noqa: E402
from webhooks.settings import Settings  # noqa: E402

CHENNAI = (13.0827, 80.2707)


class Counter:
    """Counts the statements sent to the database while switched on."""

    def __init__(self) -> None:
        self.on, self.count, self.seen = False, 0, list[str]()

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.on:
            self.count += 1
            self.seen.append(statement.split("\n", 1)[0][:100])

    @asynccontextmanager
    async def counting(self) -> AsyncIterator[None]:
        """Count inside the block only."""
        self.on, self.count, self.seen = True, 0, []
        try:
            yield
        finally:
            self.on = False


def photo_bytes() -> bytes:
    """A small JPEG made on the spot (no real person in it)."""
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (180, 120, 90)).save(out, "JPEG")
    return out.getvalue()


@dataclass(frozen=True)
class Case:
    """One kind of message: how to get each sender ready, then what they send."""

    name: str
    prepare: Callable[[Runtime, str], Awaitable[None]] | None
    payload: dict[str, Any]
    photo: bool = False


async def send(runtime: Runtime, address: str, payload: dict[str, Any], photo: bytes | None = None) -> None:
    """Store one web-chat message the way the accept path does (not counted)."""
    await runtime.processor.receive("webchat", secrets.token_hex(8), address, payload, photo)


async def process_all(runtime: Runtime) -> None:
    """Process everything pending (not counted)."""
    while await runtime.processor.process_batch(64):
        pass


async def make_worker(runtime: Runtime, address: str) -> None:
    """An approved, online delivery worker in Chennai."""
    async with runtime.store.uow() as uow:
        person = await uow.people.get_or_create("webchat", address)
        await apply_worker(uow, person, name="Worker", lat=CHENNAI[0], lng=CHENNAI[1], approved=True, online=True)


async def make_photo_sent(runtime: Runtime, address: str) -> None:
    """A donor who has sent a photo and is asked for the seeker's consent (an open prompt)."""
    await send(runtime, address, {"kind": "photo"}, photo_bytes())
    await process_all(runtime)


async def say_hello(runtime: Runtime, address: str) -> None:
    """Someone who has already talked to the bot once (their person row exists)."""
    await send(runtime, address, {"kind": "text", "text": "/help"})
    await process_all(runtime)


CASES = [
    Case("/help", say_hello, {"kind": "text", "text": "/help"}),
    Case("typed unknown word", say_hello, {"kind": "text", "text": "banana"}),
    Case("donor photo (asks consent)", say_hello, {"kind": "photo"}, photo=True),
    Case("button tap on open prompt (consent yes)", make_photo_sent, {"kind": "choice", "choice": "consent:yes"}),
    Case("worker /jobs", make_worker, {"kind": "text", "text": "/jobs"}),
]


async def measure(url: str, data_dir: Path, batch: int, show: bool, rounds: int) -> list[tuple[str, float, float, float]]:
    """(case, statements per message alone, per message in a batch of `batch`, least CPU ms per
    message of this process in such a batch over `rounds`) for every case."""
    os.environ.update(KETPAAR_DATABASE_URL=url, KETPAAR_DATA_DIR=str(data_dir), KETPAAR_SCREENING="pass",
                      KETPAAR_PERSON_RATE_PER_MINUTE="0", KETPAAR_ADMINS="", KETPAAR_INBOX_WORKER="false")  # fmt: skip
    runtime = await build_runtime(Settings())
    counter = Counter()
    event.listen(runtime.db.engine.sync_engine, "before_cursor_execute", counter)
    photo = photo_bytes()
    results = []
    try:
        for n, case in enumerate(CASES):
            per: list[float] = []
            cpu: list[float] = []
            for r, size in enumerate([1] + [batch] * max(1, rounds)):
                people = [f"spm-{n}-{r}-{i}-{secrets.token_hex(3)}" for i in range(size)]
                for address in people:
                    if case.prepare is not None:
                        await case.prepare(runtime, address)
                for address in people:
                    await send(runtime, address, case.payload, photo if case.photo else None)
                started = time.process_time()
                async with counter.counting():
                    handled = await runtime.processor.process_batch(size)
                cpu.append((time.process_time() - started) * 1000 / size)
                assert handled == size, f"{case.name}: {handled} of {size} handled"
                if r < 2:
                    per.append(counter.count / size)
                if show and size == 1:
                    print(f"--- {case.name}")
                    print("\n".join(f"    {s}" for s in counter.seen))
            results.append((case.name, per[0], per[1], min(cpu[1:])))
    finally:
        await runtime.db.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help="a fresh PostgreSQL database and Redis (default: SQLite)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--show", action="store_true", help="print the statements of a batch of one")
    parser.add_argument("--rounds", type=int, default=3, help="batches timed for the CPU figure (the least is shown)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ketpaar-spm-"))
    name = f"ketpaar_spm_{secrets.token_hex(4)}"
    url = f"sqlite:///{tmp / 'spm.db'}"
    if args.postgres:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        os.environ.update(KETPAAR_REDIS_URL=REDIS_URL, KETPAAR_REDIS_PREFIX=f"{name}:")
    try:
        results = asyncio.run(measure(url, tmp, args.batch, args.show, args.rounds))
    finally:
        if args.postgres:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"{'PostgreSQL' if args.postgres else 'SQLite'}: SQL statements per message (process_batch); CPU of this "
          f"process per message in a batch (least of {args.rounds}; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores: CPU time is less disturbed by other work than wall time, but not immune)")
    print(f"{'message':42} {'alone':>7} {f'batch of {args.batch}':>12} {'CPU ms/msg':>11}")
    for name, alone, batched, cpu in results:
        print(f"{name:42} {alone:7.1f} {batched:12.1f} {cpu:11.2f}")


if __name__ == "__main__":
    main()

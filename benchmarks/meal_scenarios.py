"""End-to-end meal benchmark over the web-chat HTTP API: SQLite (embedded) vs PostgreSQL + Redis.

Each scenario plays the meal of tests/test_meal_transcript.py by HTTP against a `ketpaar serve`
subprocess: the admin records `/deposit bench-donor-<i> 500`; the donor sends a photo, confirms
consent, a location, the scene (busy, lit) — screened by the real face and safety checks —
taps a meal, a tip and Pay; the restaurant taps Accept (later Ready); a free worker taps Claim,
Picked up, Delivered, sends a photo and a location; the donor must get "Order #N was delivered".
Restaurants and workers are shared by concurrent scenarios, so replies are matched by order id.
Capacity: demo restaurants pledge only 20 meals/day, so before the server starts the script seeds,
in-process with the core calls `ketpaar demo-seed` uses, `bench-rest-<k>` restaurants pledging
10,000/day (nearer than the demo ones) and one worker per concurrent scenario (a worker pool).

Measured: scenarios/s (all scenarios over wall time); p50/p99 of every POST (it only stores the
message, 202); "reply latency", POST until the awaited reply is seen (the server's long poll
re-checks every 0.2 s, a floor). Then `ketpaar ledger verify` runs on the same database, and the
server's stderr and access log are scanned for errors and non-2xx answers.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import math
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

ROOT = str(Path(__file__).resolve().parents[1])
sys.path.insert(0, ROOT)
CLI = [sys.executable, "-m", "webhooks.cli"]  # `ketpaar`, pinned to this checkout via PYTHONPATH
CHENNAI = (13.0827, 80.2707)
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"
Msg = dict[str, Any]
Pred = Callable[[Msg], bool]


def jpeg(i: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (40 + i % 200, 120, 90)).save(out, "JPEG")
    return out.getvalue()


def text(s: str) -> Pred:
    return lambda m: s in m["text"]


def _is(payload: str, verb: str, order: int | None) -> bool:
    """verb:<order>[:...], the order id compared whole ("claim:5" must not match "claim:50")."""
    parts = payload.split(":")
    return parts[0] == verb and (order is None or (len(parts) > 1 and parts[1] == str(order)))


def button(verb: str, order: int | None = None) -> Pred:
    return lambda m: any(_is(b["payload"], verb, order) for b in m["buttons"])


def pick(m: Msg, verb: str, order: int) -> str:
    return next(b["payload"] for b in m["buttons"] if _is(b["payload"], verb, order))


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))] if s else float("nan")


class Chat:
    """Client side: one shared, long-polled inbox per user; timings of every POST and reply."""

    def __init__(self, client: httpx.AsyncClient, wait_timeout: float) -> None:
        self.client, self.wait_timeout = client, wait_timeout
        self.boxes: dict[str, tuple[asyncio.Lock, list[Msg], list[int]]] = {}
        self.post_ms: list[float] = []
        self.reply_ms: dict[str, list[float]] = {}

    def box(self, user: str) -> tuple[asyncio.Lock, list[Msg], list[int]]:
        return self.boxes.setdefault(user, (asyncio.Lock(), [], [0]))

    async def post(self, user: str, body: Msg | bytes) -> None:
        started = time.perf_counter()
        kw: dict[str, Any] = {"files": {"photo": ("p.jpg", body, "image/jpeg")}} if isinstance(body, bytes) else {"json": body}
        r = await self.client.post(f"/webchat/{user}/messages", **kw)
        self.post_ms.append((time.perf_counter() - started) * 1000)
        if r.status_code != 202:
            raise RuntimeError(f"POST as {user} -> {r.status_code}: {r.text[:200]}")

    async def wait(self, user: str, pred: Pred, since: int = 0) -> Msg:
        """The first message to `user` at index >= since matching pred (bounded long polling)."""
        lock, messages, cursor = self.box(user)
        deadline, checked = time.monotonic() + self.wait_timeout, since
        while True:
            for m in messages[checked:]:
                if pred(m):
                    return m
            checked = max(checked, len(messages))
            if (left := deadline - time.monotonic()) <= 0:
                raise TimeoutError(f"{user}: no matching reply; last: {[m['text'][:60] for m in messages[-3:]]}")
            async with lock:
                if len(messages) > checked:
                    continue  # another scenario fetched new messages meanwhile
                r = await self.client.get(f"/webchat/{user}/messages", params={"after": cursor[0], "wait": min(10, left)})
                r.raise_for_status()
                body = r.json()
                messages.extend(body["messages"])
                cursor[0] = body["cursor"]

    async def step(self, name: str, user: str, body: Msg | bytes, to: str, pred: Pred) -> Msg:
        """POST as `user`, then wait for the reply to `to` that it causes."""
        mark, started = len(self.box(to)[1]), time.perf_counter()
        await self.post(user, body)
        reply = await self.wait(to, pred, mark)
        self.reply_ms.setdefault(name, []).append((time.perf_counter() - started) * 1000)
        return reply


async def scenario(chat: Chat, i: int, restaurants: int, workers: asyncio.Queue[str]) -> None:
    donor, kitchen = f"bench-donor-{i}", f"Bench Kitchen {i % restaurants + 1}"
    lat, lng = CHENNAI[0] + 0.00002 * (i % 50), CHENNAI[1] - 0.00002 * (i % 50)
    await chat.step("deposit", "admin", {"text": f"/deposit {donor} 500"}, donor, text("was added to your balance"))
    await chat.step("photo", donor, jpeg(i), donor, button("consent"))
    await chat.step("consent", donor, {"button": "consent:yes"}, donor, text("share the location"))
    await chat.step("location", donor, {"location": {"lat": lat, "lng": lng}}, donor, button("scene"))
    m = await chat.step("scene", donor, {"button": "scene:busy_lit"}, donor, button("meal"))
    meal = next(b["payload"] for b in m["buttons"] if f"· {kitchen} (" in b["label"])
    order = int(meal.split(":")[1])
    m = await chat.step("meal", donor, {"button": meal}, donor, button("tip", order))
    tip = next(b["payload"] for b in m["buttons"] if b["label"].startswith("Tip ₹10"))
    m = await chat.step("tip", donor, {"button": tip}, donor, button("pay", order))
    paid = await chat.step("pay", donor, {"button": pick(m, "pay", order)}, donor, text(f"Order #{order} for"))
    owner = "bench-rest-" + paid["text"].split(" is with Bench Kitchen ", 1)[1].split(".", 1)[0]
    m = await chat.wait(owner, button("accept", order))
    m = await chat.step("accept", owner, {"button": pick(m, "accept", order)}, owner, button("ready", order))
    ready, worker = pick(m, "ready", order), await workers.get()
    try:
        m = await chat.wait(worker, button("claim", order))
        m = await chat.step("claim", worker, {"button": pick(m, "claim", order)}, worker, button("pickup", order))
        await chat.step("ready", owner, {"button": ready}, owner, text(f"Order #{order} is marked ready"))
        m = await chat.step("pickup", worker, {"button": pick(m, "pickup", order)}, worker, button("delivered", order))
        await chat.step("delivered", worker, {"button": pick(m, "delivered", order)}, worker, text("Send a photo"))
        await chat.step("proof", worker, jpeg(i + 1), worker, text("share your location"))
        where = {"location": {"lat": lat + 0.0001, "lng": lng + 0.0001}}
        await chat.step("drop", worker, where, worker, text(f"Delivered order #{order}."))
    finally:
        workers.put_nowait(worker)
    await chat.wait(donor, text(f"Order #{order} was delivered"))


async def seed(settings_kw: dict[str, Any], restaurants: int, extra_workers: int) -> None:
    """Demo users plus bench restaurants and workers, through the core, before the server starts."""
    from core.members.registration import apply_restaurant, apply_worker
    from webhooks.demo import seed_demo
    from webhooks.runtime import build_runtime
    from webhooks.settings import Settings

    runtime = await build_runtime(Settings(**settings_kw))
    try:
        await seed_demo(runtime.store)
        async with runtime.store.uow() as uow:
            for k in range(1, restaurants + 1):
                owner = await uow.people.get_or_create("webchat", f"bench-rest-{k}")
                await uow.people.set_name(owner.id, f"Bench Kitchen {k}")
                await uow.people.set_flags(owner.id, is_member=True)
                await apply_restaurant(uow, owner, name=f"Bench Kitchen {k}", lat=CHENNAI[0] + 0.0001 * k, lng=CHENNAI[1],
                                       address=f"{k} Bench Street", menu=(("Thali", 6_000),), daily_capacity=10_000,
                                       approved=True)  # fmt: skip
            for k in range(1, extra_workers + 1):
                person = await uow.people.get_or_create("webchat", f"bench-worker-{k}")
                await uow.people.set_name(person.id, f"Bench worker {k}")
                await uow.people.set_flags(person.id, is_member=True)
                await apply_worker(uow, person, name=f"Bench worker {k}", lat=CHENNAI[0], lng=CHENNAI[1], approved=True, online=True)
    finally:
        await runtime.close()


def scan_logs(out: Path, err: Path) -> tuple[list[str], int]:
    """Distinct error/warning records and exception lines in stderr; count of non-2xx responses."""
    lines = err.read_text(errors="replace").splitlines()
    bad = [ln for ln in lines if re.search(r" (ERROR|CRITICAL|WARNING) |^[\w.]+(Error|Exception|Violation)\b", ln)]
    statuses = re.findall(r'HTTP/1\.[01]" (\d{3})', out.read_text(errors="replace") + "\n".join(lines))
    return list(dict.fromkeys(bad)), sum(1 for s in statuses if not s.startswith("2"))


async def run_config(label: str, args: argparse.Namespace, tmp: Path, db_url: str, redis_prefix: str | None) -> dict[str, Any]:
    kw: dict[str, Any] = {"database_url": db_url, "data_dir": tmp / "var", "secret_key": secrets.token_hex(16),
                          "scheduler": False, "redis_url": REDIS_URL if redis_prefix else None,
                          "redis_prefix": redis_prefix or "ketpaar:"}  # fmt: skip
    await seed(kw, args.restaurants, max(0, args.concurrency - 3))
    env = {k: v for k, v in os.environ.items() if not k.startswith("KETPAAR_")}
    env.update({f"KETPAAR_{k.upper()}": str(v) for k, v in kw.items() if v is not None}, PYTHONPATH=ROOT)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out, err = tmp / "server.out", tmp / "server.err"
    with out.open("wb") as fo, err.open("wb") as fe:
        proc = subprocess.Popen([*CLI, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, cwd=tmp, stdout=fo, stderr=fe)
    result: dict[str, Any] = {"label": label, "errors": []}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30, limits=httpx.Limits(max_connections=200)) as client:
            for _ in range(150):  # up to ~30 s for migrations and startup
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited with {proc.returncode}; see {err}")
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
            else:
                raise RuntimeError("server did not become healthy in 30 s")
            chat, sem, workers = Chat(client, args.wait_timeout), asyncio.Semaphore(args.concurrency), asyncio.Queue[str]()
            for w in [f"worker-{k}" for k in (1, 2, 3)] + [f"bench-worker-{k}" for k in range(1, args.concurrency - 2)]:
                workers.put_nowait(w)

            async def one(i: int) -> None:
                async with sem:
                    try:
                        await scenario(chat, i, args.restaurants, workers)
                    except Exception as exc:  # keep going; reported at the end
                        result["errors"].append(f"scenario {i}: {type(exc).__name__}: {exc}")

            started = time.perf_counter()
            await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(args.scenarios))), args.timeout)
            result.update(wall=time.perf_counter() - started, post_ms=chat.post_ms, reply_ms=chat.reply_ms)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    verify = subprocess.run([*CLI, "ledger", "verify"], env=env, cwd=tmp, capture_output=True, text=True, timeout=300)
    result["verify"] = ", ".join(ln for ln in verify.stdout.splitlines() if not ln.startswith("transactions"))
    result["verify"] = result["verify"] or "FAILED: " + (verify.stderr.strip().splitlines() or ["?"])[-1]
    result["verify_rc"] = verify.returncode
    result["log_problems"], result["non_2xx"] = scan_logs(out, err)
    return result


def print_result(r: dict[str, Any], n: int, concurrency: int) -> None:
    posts, replies, ok = r["post_ms"], [v for vs in r["reply_ms"].values() for v in vs], n - len(r["errors"])
    print(f"\n== {r['label']} ==")
    print(f"  scenarios        {ok} ok / {len(r['errors'])} failed  (concurrency {concurrency})")
    print(f"  wall time        {r['wall']:.2f} s")
    print(f"  throughput       {ok / r['wall']:.2f} scenarios/s")
    print(f"  POST latency     n={len(posts)}  p50 {pct(posts, 0.5):.1f} ms  p99 {pct(posts, 0.99):.1f} ms  "
          f"max {max(posts, default=0):.1f} ms")
    print(f"  reply latency    n={len(replies)}  p50 {pct(replies, 0.5):.0f} ms  p99 {pct(replies, 0.99):.0f} ms")
    print("  per step p50/p99 " + ", ".join(f"{k} {pct(v, 0.5):.0f}/{pct(v, 0.99):.0f}" for k, v in r["reply_ms"].items()) + " ms")
    print(f"  ledger verify    rc={r['verify_rc']}  {r['verify']}")
    print(f"  server log       {len(r['log_problems'])} distinct error/warning lines, {r['non_2xx']} non-2xx responses")
    for line in r["log_problems"][:8] + r["errors"][:8]:
        print(f"    ! {line[:300]}")


async def run_pg(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """A fresh database and a unique Redis prefix, both removed afterwards."""
    import psycopg
    import redis

    token = secrets.token_hex(4)
    dbname, prefix = f"ketpaar_bench_{token}", f"ketpaar-bench-{token}:"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    try:
        return await run_config("PostgreSQL + Redis", args, tmp, PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{dbname}", prefix)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        with redis.Redis.from_url(REDIS_URL) as r:
            if keys := list(r.scan_iter(match=prefix + "*", count=1000))[:100_000]:
                r.delete(*keys)


async def main(args: argparse.Namespace) -> None:
    for config in ("sqlite", "pg") if args.config == "both" else (args.config,):
        tmp = Path(tempfile.mkdtemp(prefix="ketpaar-bench-"))
        try:
            sqlite_url = f"sqlite:///{tmp / 'ketpaar.db'}"
            r = await (run_config("SQLite (embedded, no Redis)", args, tmp, sqlite_url, None) if config == "sqlite" else run_pg(args, tmp))
            print_result(r, args.scenarios, args.concurrency)
        finally:
            print(f"  server logs kept in {tmp}") if args.keep else shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--restaurants", type=int, default=2, choices=range(1, 9), help="bench restaurants (10,000 meals/day each)")
    parser.add_argument("--config", choices=["sqlite", "pg", "both"], default="both")
    parser.add_argument("--wait-timeout", type=float, default=60, help="seconds to wait for any one reply")
    parser.add_argument("--timeout", type=float, default=900, help="seconds for all scenarios of one configuration")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir with the server logs")
    asyncio.run(main(parser.parse_args()))

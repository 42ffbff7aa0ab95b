"""Inbound load, as a new user would measure it: `wrk` against `ketpaar serve`, then until the inbox is empty.

    python benchmarks/inbound_load.py [--duration 8] [--connections 32] [--people 200] [--sqlite]
                                      [--workers N | --serve-workers N] [--telegram]

One `ketpaar serve` process on a fresh PostgreSQL database with Redis (or, with --sqlite, a fresh
SQLite file), 200 web-chat people (sessions opened through the API), `wrk` with 32 connections
posting {"text":"/help"} to /webchat/messages as a random one of them for `--duration` seconds, then
waiting until no inbox row is pending. In the same run, the same `wrk` against a bare FastAPI
endpoint that only reads the JSON, under uvicorn. Prints: messages handled end to end a second
(accepted / time from the first POST until the inbox is empty), the bare endpoint's requests a
second, the ratio, the POST latency percentiles (wrk --latency), and the checks: none lost (no row
pending or failed), none doubled (every person got the same number of replies per message).
The 2 cores are shared with other work: compare the ratio, and say the machine was loaded.

With --telegram, the same on Telegram's webhook (POST /webhooks/telegram with the secret token
header), with a realistic mix: each of the 200 people is a chat that sends one kind of update, a
third each: text (alternately /help and a typed word), a button tap (a callback query: "Campaigns
near me" / "Stop these messages") and a shared location. Replies go out through the real SDK to a
local fake of the Bot API (tests/fake_telegram.py) at Telegram's pace; "end to end" is, as for web
chat, until every update is processed with its replies committed. The lost-or-doubled check is per
kind (each kind has its own number of replies per update).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"
TELEGRAM_SECRET = "load-secret-token"
sys.path.insert(0, str(ROOT))  # tests.fake_telegram, for --telegram

BARE_APP = '''
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
app = FastAPI()
@app.post("/webchat/messages")
@app.post("/webhooks/telegram")
async def post(request: Request):
    await request.json()
    return JSONResponse({"id": 0, "duplicate": False}, status_code=202)
'''

WRK_SCRIPT = '''
local tokens = {%s}
wrk.method = "POST"
wrk.body = '{"text":"/help"}'
wrk.headers["Content-Type"] = "application/json"
request = function()
  wrk.headers["Authorization"] = "Bearer " .. tokens[math.random(#tokens)]
  return wrk.format(nil, "/webchat/messages")
end
'''

# Telegram updates: person p (chat 1000 + p) always sends the kind p % 3, so that replies per update
# can be checked per kind. Each wrk thread numbers its updates from its own base (update_id unique).
TELEGRAM_SCRIPT = '''
local people = %d
local n = 0
base = 0  -- a global: setup() sets each thread's own
local thread_count = 0
setup = function(thread)
  thread:set("base", thread_count * 1000000000)
  thread_count = thread_count + 1
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Telegram-Bot-Api-Secret-Token"] = "%s"
request = function()
  n = n + 1
  local id = base + n
  local p = math.random(people) - 1
  local chat = 1000 + p
  local who = string.format('{"id":%%d,"is_bot":false,"first_name":"P%%d","language_code":"en"}', chat, chat)
  local chatj = string.format('{"id":%%d,"type":"private"}', chat)
  local body
  if p %% 3 == 0 then
    local text = (n %% 2 == 0) and "/help" or "banana"
    body = string.format('{"update_id":%%d,"message":{"message_id":%%d,"date":1700000000,"chat":%%s,"from":%%s,"text":"%%s"}}',
                         id, id, chatj, who, text)
  elseif p %% 3 == 1 then
    local data = (n %% 2 == 0) and "nearby:on" or "nearby:off"
    body = string.format('{"update_id":%%d,"callback_query":{"id":"cb%%d","from":%%s,"chat_instance":"c%%d","data":"%%s",' ..
                         '"message":{"message_id":1,"date":1700000000,"chat":%%s}}}', id, id, who, chat, data, chatj)
  else
    body = string.format('{"update_id":%%d,"message":{"message_id":%%d,"date":1700000000,"chat":%%s,"from":%%s,' ..
                         '"location":{"latitude":13.0827,"longitude":80.2707}}}', id, id, chatj, who)
  end
  return wrk.format(nil, "/webhooks/telegram", nil, body)
end
'''
TELEGRAM_KINDS = ("text", "button", "location")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


def run_wrk(port: int, script: Path, duration: int, connections: int) -> dict[str, float]:
    """Requests/s, non-2xx count and latency percentiles (ms) of one wrk run."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    result["requests"] = float(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["non2xx"] = float(bad.group(1)) if bad else 0.0
    for pct, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        result[f"p{pct}"] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return result


def bare(script: Path, duration: int, connections: int) -> dict[str, float]:
    """wrk against the bare FastAPI endpoint under uvicorn (one process, as `ketpaar serve`)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "bare_app.py").write_text(BARE_APP)
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(port), "--log-level", "warning"],
                                cwd=tmp)  # fmt: skip
        try:
            wait_up(f"http://127.0.0.1:{port}/docs", proc)
            return run_wrk(port, script, duration, connections)
        finally:
            proc.terminate()
            proc.wait()


def inbox_counts(url: str) -> dict[str, int]:
    if url.startswith("sqlite:///"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            return dict(conn.execute("SELECT status, count(*) FROM inbox GROUP BY status").fetchall())
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT status, count(*) FROM inbox GROUP BY status").fetchall())


def replies_per_message(url: str) -> dict[str, float]:
    """For every person (address): outbox rows / inbox rows (equal for all who send the same kind of
    message when nothing was lost or doubled)."""
    sql = ("SELECT i.address, i.n, coalesce(o.n, 0) FROM (SELECT address, count(*) n FROM inbox GROUP BY address) i "
           "LEFT JOIN (SELECT address, count(*) n FROM outbox GROUP BY address) o ON o.address = i.address")
    if url.startswith("sqlite:///"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            rows = conn.execute(sql).fetchall()
    else:
        with psycopg.connect(url) as conn:
            rows = conn.execute(sql).fetchall()
    return {address: round(o / i, 3) for address, i, o in rows}


def ratios_by_kind(ratios: dict[str, float], telegram: bool) -> dict[str, set[float]]:
    """The distinct replies-per-message ratios of each kind of sender (web chat: one kind)."""
    kinds: dict[str, set[float]] = {}
    for address, ratio in ratios.items():
        kind = TELEGRAM_KINDS[(int(address) - 1000) % 3] if telegram else "text"
        kinds.setdefault(kind, set()).add(ratio)
    return kinds


def out_of_order(url: str) -> int:
    """People whose messages were not processed in arrival (id) order (processed_at must grow with id)."""
    sql = "SELECT address, id, processed_at FROM inbox ORDER BY address, id"
    if url.startswith("sqlite:///"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            rows = conn.execute(sql).fetchall()
    else:
        with psycopg.connect(url) as conn:
            rows = conn.execute(sql).fetchall()
    bad, last = set(), {}
    for address, _, at in rows:
        if address in last and (at is None or last[address] is None or at <= last[address]):
            bad.add(address)
        last[address] = at
    return len(bad)


def ketpaar(args: argparse.Namespace, script_dir: Path) -> tuple[dict[str, float], float, int, dict[str, int], dict[str, float], int]:
    with contextlib.ExitStack() as stack:
        fake_url = ""
        if args.telegram:
            from tests.fake_telegram import FakeTelegram

            fake_url = stack.enter_context(FakeTelegram()).url
        return ketpaar_with(args, script_dir, fake_url)


def ketpaar_with(args: argparse.Namespace, script_dir: Path, telegram_url: str
                 ) -> tuple[dict[str, float], float, int, dict[str, int], dict[str, float], int]:  # fmt: skip
    """One run against `ketpaar serve` (Telegram's webhook when `telegram_url` names the fake Bot API)."""
    tmp = Path(tempfile.mkdtemp(prefix="ketpaar-load-"))
    name = f"ketpaar_load_{secrets.token_hex(4)}"
    if args.sqlite:
        url = f"sqlite:///{tmp / 'load.db'}"
    else:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    env = {**os.environ, "KETPAAR_DATABASE_URL": url, "KETPAAR_DATA_DIR": str(tmp), "KETPAAR_SCREENING": "pass",
           "KETPAAR_IP_RATE_PER_MINUTE": "0", "KETPAAR_PERSON_RATE_PER_MINUTE": "0",
           "KETPAAR_SESSIONS_PER_IP_PER_HOUR": "100000", "PYTHONPATH": str(ROOT)}  # fmt: skip
    if not args.sqlite:
        env.update(KETPAAR_REDIS_URL=REDIS_URL, KETPAAR_REDIS_PREFIX=f"{name}:")
    if telegram_url:
        from tests.fake_telegram import TOKEN

        env.update(KETPAAR_TELEGRAM_BOT_TOKEN=TOKEN, KETPAAR_TELEGRAM_SECRET_TOKEN=TELEGRAM_SECRET,
                   KETPAAR_TELEGRAM_API_BASE=telegram_url)  # fmt: skip
    if args.workers or args.accept_only:
        env["KETPAAR_INBOX_WORKER"] = "false"  # serve only stores; `ketpaar work` processes (or nobody)
    port = free_port()
    command = [sys.executable, "-m", "webhooks.cli", "serve", "--port", str(port)]
    if args.serve_workers:
        command += ["--workers", str(args.serve_workers)]  # N storing web processes + N `ketpaar work`
    proc = subprocess.Popen(command, env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=open(tmp / "serve.log", "wb"))
    workers = []
    try:
        wait_up(f"http://127.0.0.1:{port}/webchat/config", proc)
        for i in range(args.workers):  # after serve has migrated the database
            workers.append(subprocess.Popen([sys.executable, "-m", "webhooks.cli", "work"], env=env, cwd=tmp,
                                            stdout=subprocess.DEVNULL, stderr=open(tmp / f"work{i}.log", "wb")))  # fmt: skip
        script = script_dir / "ketpaar.lua"
        if telegram_url:
            script.write_text(TELEGRAM_SCRIPT % (args.people, TELEGRAM_SECRET))
        else:
            tokens = [httpx.post(f"http://127.0.0.1:{port}/webchat/session").json()["token"] for _ in range(args.people)]
            script.write_text(WRK_SCRIPT % ", ".join(json.dumps(t) for t in tokens))
        started = time.perf_counter()
        result = run_wrk(port, script, args.duration, args.connections)
        while (counts := inbox_counts(url)).get("pending", 0) and not args.accept_only:
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        return result, elapsed, sum(counts.values()), counts, replies_per_message(url), out_of_order(url)
    finally:
        for p in [proc, *workers]:
            p.terminate()
            p.wait()
        if not args.sqlite:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--workers", type=int, default=0,
                        help="N > 0: serve only stores (KETPAAR_INBOX_WORKER=false), N `ketpaar work` processes process")
    parser.add_argument("--serve-workers", type=int, default=0,
                        help="N > 0: `ketpaar serve --workers N` (N storing web processes and N work processes)")
    parser.add_argument("--sqlite", action="store_true", help="SQLite file, no Redis, instead of PostgreSQL + Redis")
    parser.add_argument("--telegram", action="store_true",
                        help="Telegram's webhook with a mix of text, button taps and locations, replies to a local fake Bot API")
    parser.add_argument("--accept-only", action="store_true",
                        help="nobody processes the inbox: the accept path alone (POSTs stored, none handled)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bare.lua"
        script.write_text(TELEGRAM_SCRIPT % (args.people, TELEGRAM_SECRET) if args.telegram else WRK_SCRIPT % '"x"')
        base = bare(script, args.duration, args.connections)
        result, elapsed, handled, counts, ratios, disordered = ketpaar(args, Path(tmp))
    rate = handled / elapsed
    if args.accept_only:
        print(f"accept path alone (nobody processes the inbox); {args.connections} connections, {args.people} people, "
              f"{args.duration} s of wrk; load average {os.getloadavg()[0]:.1f}")
        print(f"bare FastAPI endpoint:          {base['rps']:9,.0f} req/s   "
              f"(p50 {base.get('p50', 0):.1f} ms, p99 {base.get('p99', 0):.1f} ms)")
        print(f"ketpaar POST accepted:          {result['rps']:9,.0f} req/s   p50 {result.get('p50', 0):.1f} ms, "
              f"p99 {result.get('p99', 0):.1f} ms, non-2xx {result['non2xx']:.0f}; stored {counts}")
        return
    kinds = ratios_by_kind(ratios, args.telegram)
    intact = all(len(r) == 1 for r in kinds.values()) and not counts.get("failed")
    print(f"{'Telegram webhook, a third each text / button taps / locations' if args.telegram else 'web chat, /help'}; "
          f"database: {'SQLite' if args.sqlite else 'PostgreSQL + Redis'}; {args.connections} connections, "
          f"{args.people} people, {args.duration} s of wrk; {args.workers or 'no'} separate `ketpaar work` processes; "
          f"serve --workers {args.serve_workers or '(none)'}; "
          f"load average {os.getloadavg()[0]:.1f} on 2 cores shared with other work")
    print(f"bare FastAPI endpoint:          {base['rps']:9,.0f} req/s   (p50 {base.get('p50', 0):.1f} ms, p99 {base.get('p99', 0):.1f} ms)")
    print(f"ketpaar POST accepted:          {result['rps']:9,.0f} req/s   p50 {result.get('p50', 0):.1f} ms, "
          f"p99 {result.get('p99', 0):.1f} ms, non-2xx {result['non2xx']:.0f}")
    print(f"handled end to end:             {rate:9,.0f} msgs/s  ({handled:,} messages in {elapsed:.1f} s until the inbox was empty)")
    print(f"ratio to the bare endpoint:     {rate / base['rps']:9.3f}")
    shown = "; ".join(f"{kind} {sorted(r)}" for kind, r in sorted(kinds.items()))
    print(f"inbox statuses: {counts}; replies per message, per person of each kind: {shown} "
          f"({'none lost or doubled' if intact else 'CHECK FAILED'}); "
          f"people whose messages ran out of order: {disordered}")


if __name__ == "__main__":
    main()

"""p50 of a reply to one person chatting alone: POST a text step, long-poll until the reply is there.

    python benchmarks/reply_latency.py [--messages 200] [--sqlite]

One `ketpaar serve` process (PostgreSQL + Redis, or --sqlite), one web-chat person, messages sent
one at a time ("/help", a text step answered from the flows), each timed from the POST until the
GET /webchat/messages long poll returns its reply. Prints p50, p90, p99 in ms. Say how loaded the
machine was: on the shared 2 cores these are upper bounds.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from inbound_load import PG_ADMIN_URL, REDIS_URL, ROOT, free_port, wait_up  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--sqlite", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ketpaar-reply-"))
    name = f"ketpaar_reply_{secrets.token_hex(4)}"
    if args.sqlite:
        url = f"sqlite:///{tmp / 'reply.db'}"
    else:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    env = {**os.environ, "KETPAAR_DATABASE_URL": url, "KETPAAR_DATA_DIR": str(tmp), "KETPAAR_SCREENING": "pass",
           "KETPAAR_IP_RATE_PER_MINUTE": "0", "KETPAAR_PERSON_RATE_PER_MINUTE": "0", "PYTHONPATH": str(ROOT)}  # fmt: skip
    if not args.sqlite:
        env.update(KETPAAR_REDIS_URL=REDIS_URL, KETPAAR_REDIS_PREFIX=f"{name}:")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "webhooks.cli", "serve", "--port", str(port)], env=env, cwd=tmp,
                            stdout=subprocess.DEVNULL, stderr=open(tmp / "serve.log", "wb"))  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_up(f"{base}/webchat/config", proc)
        with httpx.Client(base_url=base, timeout=30.0) as client:
            token = client.post("/webchat/session").json()["token"]
            auth = {"Authorization": f"Bearer {token}"}
            cursor, times = 0, []
            for i in range(args.messages + 5):
                started = time.perf_counter()
                assert client.post("/webchat/messages", json={"text": "/help"}, headers=auth).status_code == 202
                while True:
                    got = client.get("/webchat/messages", params={"after": cursor, "wait": 10}, headers=auth).json()
                    if got["messages"]:
                        cursor = got["cursor"]
                        break
                if i >= 5:  # the first few warm the caches and prepared statements
                    times.append((time.perf_counter() - started) * 1000)
        times.sort()
        pct = lambda p: times[min(len(times) - 1, int(p / 100 * len(times)))]  # noqa: E731
        print(f"{'SQLite' if args.sqlite else 'PostgreSQL + Redis'}: reply to a text step (/help), {len(times)} messages, "
              f"one person alone; load average {os.getloadavg()[0]:.1f} on 2 cores")
        print(f"p50 {statistics.median(times):.1f} ms   p90 {pct(90):.1f} ms   p99 {pct(99):.1f} ms")
    finally:
        proc.terminate()
        proc.wait()
        if not args.sqlite:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()

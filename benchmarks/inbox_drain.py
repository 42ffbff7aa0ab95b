"""Where the time of one message goes: a backlog drained by one `ketpaar work`, CPU per message.

    python benchmarks/inbox_drain.py [--duration 4] [--connections 32] [--people 200] [--log-statements]

One `ketpaar serve` on a fresh PostgreSQL database with Redis that only stores (KETPAAR_INBOX_WORKER
false), `wrk` posting {"text":"/help"} as 200 web-chat people for `--duration` seconds; then serve
stops and one `ketpaar work` process drains the backlog alone. Prints the drain rate and the CPU
seconds per message of the work process (its start-up included: about 2 s in all) and of the
PostgreSQL backends serving this database (read from /proc): the floor of end-to-end throughput
on this machine is 2 cores divided by their sum plus the accept path's CPU per POST.
With --log-statements, PostgreSQL logs every statement's duration for this database only
(log_min_duration_statement = 0 on the database) and the statements that took the most server time
in all are listed (the log is read from /var/log/postgresql, as Debian keeps it).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from inbound_load import PG_ADMIN_URL, REDIS_URL, ROOT, WRK_SCRIPT, free_port, inbox_counts, run_wrk, wait_up  # noqa: E402

PG_LOG = Path("/var/log/postgresql/postgresql-15-main.log")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backends_cpu(database: str, seen: dict[int, float]) -> float:
    """CPU seconds of every backend connected to `database`, remembering those that have gone."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        pids = [int(p) for (p,) in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,))]
    for pid in pids:
        try:
            seen[pid] = cpu_seconds(pid)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return sum(seen.values())


def print_profile(path: Path, n: int = 25) -> None:
    """The functions the work process spent its samples in (py-spy's collapsed stacks), inclusive
    and own, of the samples taken while its event loop ran and was busy (start-up's imports and idle
    waits in the event loop's select left out)."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [f.split(" (")[0] for f in stack.split(";")]
        if "BaseEventLoop.run_forever" not in frames or frames[-1] in ("select", "poll", "epoll_wait", "_run_once"):
            continue
        total += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    print(f"  py-spy: {total:,} samples of the busy event loop; inclusive / own share of them:")
    for frame, k in inclusive.most_common(n):
        print(f"    {k / total:6.1%} {own[frame] / total:6.1%}  {frame}")


def top_statements(since: int, n: int = 12) -> list[tuple[float, int, str]]:
    """(total ms, count, statement) of the statements logged after byte `since`, most time first."""
    with PG_LOG.open("rb") as log:
        log.seek(since)
        text = log.read().decode("utf-8", "replace")
    total: collections.Counter[str] = collections.Counter()
    count: collections.Counter[str] = collections.Counter()
    pattern = r"duration: ([\d.]+) ms\s+(?:statement|execute [^:]*): (.*?)(?=\n\S|\Z)"
    for match in re.finditer(pattern, text, re.S):
        shape = re.sub(r"\b\d+\b", "N", re.sub(r"\$\d+", "$", " ".join(match.group(2).split())))[:110]
        total[shape] += float(match.group(1))
        count[shape] += 1
    return [(ms, count[shape], shape) for shape, ms in total.most_common(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=4)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--top", type=int, default=25, help="with --py-spy: how many functions to list")
    parser.add_argument("--py-spy", type=int, default=0, metavar="SECONDS",
                        help="also sample the work process with py-spy for this long and print where its time went")
    parser.add_argument("--log-statements", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ketpaar-drain-"))
    name = f"ketpaar_drain_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        if args.log_statements:
            conn.execute(f'ALTER DATABASE "{name}" SET log_min_duration_statement = 0')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    env = {**os.environ, "KETPAAR_DATABASE_URL": url, "KETPAAR_DATA_DIR": str(tmp), "KETPAAR_SCREENING": "pass",
           "KETPAAR_IP_RATE_PER_MINUTE": "0", "KETPAAR_PERSON_RATE_PER_MINUTE": "0",
           "KETPAAR_SESSIONS_PER_IP_PER_HOUR": "100000", "PYTHONPATH": str(ROOT), "KETPAAR_REDIS_URL": REDIS_URL,
           "KETPAAR_REDIS_PREFIX": f"{name}:", "KETPAAR_INBOX_WORKER": "false"}  # fmt: skip
    port = free_port()
    serve = subprocess.Popen([sys.executable, "-m", "webhooks.cli", "serve", "--port", str(port)], env=env, cwd=tmp,
                             stdout=subprocess.DEVNULL, stderr=open(tmp / "serve.log", "wb"))  # fmt: skip
    work = None
    try:
        wait_up(f"http://127.0.0.1:{port}/webchat/config", serve)
        tokens = [httpx.post(f"http://127.0.0.1:{port}/webchat/session").json()["token"] for _ in range(args.people)]
        script = tmp / "load.lua"
        script.write_text(WRK_SCRIPT % ", ".join(json.dumps(t) for t in tokens))
        run_wrk(port, script, args.duration, args.connections)
        backlog = inbox_counts(url).get("pending", 0)
        serve.terminate()
        serve.wait()
        mark = PG_LOG.stat().st_size if args.log_statements and PG_LOG.exists() else 0
        seen: dict[int, float] = {}
        before = backends_cpu(name, seen)
        started = time.perf_counter()
        work = subprocess.Popen([sys.executable, "-m", "webhooks.cli", "work"], env=env, cwd=tmp,
                                stdout=subprocess.DEVNULL, stderr=open(tmp / "work.log", "wb"))  # fmt: skip
        spy = None
        if args.py_spy:  # sampled from outside: the CPU figures below then include py-spy's pauses
            spy = subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(work.pid),
                                    "--rate", "200", "--duration", str(args.py_spy), "--format", "raw", "--nonblocking",
                                    "-o", str(tmp / "work.spy")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        while inbox_counts(url).get("pending", 0):
            backends_cpu(name, seen)
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        database = backends_cpu(name, seen) - before
        worker = cpu_seconds(work.pid)
        counts = inbox_counts(url)
        print(f"backlog of {backlog:,} /help messages from {args.people} people, drained by one `ketpaar work` in "
              f"{elapsed:.1f} s: {backlog / elapsed:,.0f} msgs/s; load average {os.getloadavg()[0]:.1f}")
        print(f"  CPU per message: work process {worker / backlog * 1000:.2f} ms (start-up included), "
              f"PostgreSQL backends {database / backlog * 1000:.2f} ms; inbox afterwards {counts}")
        if spy is not None:
            spy.wait()
            print_profile(tmp / "work.spy", args.top)
        if args.log_statements and PG_LOG.exists():
            print("  server time by statement (logging on, so slower than without):")
            for ms, n, shape in top_statements(mark):
                print(f"    {ms:9,.0f} ms {n:7,}x {ms / n:7.3f} ms  {shape}")
    finally:
        for proc in (serve, work):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()

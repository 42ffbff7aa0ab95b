"""The `ketpaar` command: serve, migrate, demo-seed, ledger verify and export, scheduled jobs by hand, the
treasurer's money."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bot.outbox_sender import OutboxSender
from core.adapters.sql.migrate import upgrade
from core.ledger.audit import audit
from core.ledger.chain import canonical_json
from core.ledger.checkpoints import make_checkpoint
from core.ledger.export import MAX_PAGE, export_page
from core.members.identity import admin_link_token
from core.schedule import jobs
from flows import campaign_notify
from webhooks import backup, money_cli
from webhooks.demo import seed_demo
from webhooks.doctor import Doctor, report
from webhooks.heap import tune_for_serving
from webhooks.logs import configure_logging
from webhooks.progress import progress
from webhooks.runtime import Runtime, build_runtime, start_background
from webhooks.settings import Settings
from webhooks.telegram_routes import poll_forever, set_webhook

GRACEFUL_SHUTDOWN_S = 30
WORK_NICE = 10  # `serve --workers N`: how much lower the work processes' CPU priority is than the web processes'


async def _demo_seed(settings: Settings) -> int:
    runtime = await build_runtime(settings)
    try:
        created = await seed_demo(runtime.store)
    finally:
        await runtime.close()
    print("demo users created" if created else "demo users already exist")
    return 0


async def _verify(settings: Settings, columns_every: int = 64, ranges: int = 0) -> int:
    runtime = await build_runtime(settings)
    try:
        async with runtime.store.reader() as uow:
            total, _head = await uow.chain.head()
        started = time.perf_counter()
        with progress(total, "verifying", "events") as bar:
            report = await audit(runtime.store, bar.update, columns_every=columns_every, ranges=ranges)
        elapsed = time.perf_counter() - started
    finally:
        await runtime.close()
    print(f"events: {report.events}")
    print(f"transactions: {report.transactions}")
    print(f"columns checked against the hashed bytes: {report.columns_checked} events")
    print(f"head: {report.head}")
    if report.ok:
        print(f"OK ({elapsed:.2f} s)")
        return 0
    print(f"BROKEN at seq {report.broken_seq}: {report.problem}" if report.broken_seq else f"BROKEN: {report.problem}")
    return 1


async def _cards_job(runtime: Runtime, name: str) -> int:
    """Capture, release and refund what is due and flag old holds; or compare the ledger with Stripe."""
    from core.payments import cards

    payments = runtime.services.payments
    if payments is None:
        print("cards are off: set KETPAAR_STRIPE_SECRET_KEY and KETPAAR_STRIPE_WEBHOOK_SECRET")
        return 1
    if name == "cards":
        print(await cards.run_due(runtime.store, payments), "flagged:", await cards.flag_old_holds(runtime.store))
        return 0
    problems = await cards.reconcile(runtime.store, payments)
    print("\n".join(problems) if problems else "OK: external:card agrees with Stripe to the paisa")
    return 1 if problems else 0


async def _run_job(settings: Settings, name: str, day: str | None) -> int:
    runtime = await build_runtime(settings)
    try:
        if name == "topup":
            print(await jobs.end_of_day_topup(runtime.store, day))
        elif name == "settle":
            print(await jobs.settle_due(runtime.store))
        elif name in ("cards", "cards-reconcile"):
            return await _cards_job(runtime, name)
        elif name == "renew-pledges":
            print(await jobs.renew_pledges(runtime.store))
        elif name == "tell-pledgers":
            print(await jobs.tell_pledgers(runtime.store, day))
        elif name == "expire-campaigns":
            print(await jobs.expire_campaigns(runtime.store, runtime.board))
        elif name == "campaign-progress":
            async with runtime.store.uow() as uow:
                print(await campaign_notify.flush_progress(uow))
        elif name == "retention":
            print(await jobs.apply_retention(runtime.store), await jobs.end_erasures(runtime.store))
        elif name == "purge":
            print(await jobs.purge_expired_data(runtime.store, runtime.services.photos),
                  await jobs.sweep_unrecorded_photos(runtime.store, runtime.services.photos, runtime.processor.staging))  # fmt: skip
        elif name == "close-proposals":
            print(await jobs.close_proposals(runtime.store))
            await runtime.stop_pending_polls()
        elif name == "open-day":
            print(await jobs.open_capacity_day(runtime.store))
        elif name == "checkpoint":
            if runtime.signer is None:
                print("no signing key: set KETPAAR_SIGNING_KEY (64 hex characters)", file=sys.stderr)
                return 1
            print(canonical_json(await make_checkpoint(runtime.store, runtime.signer, day)))
        elif name == "reconcile-capacity":
            from core.ledger.service import previous_day

            print(await jobs.reconcile_capacity(runtime.store, day or previous_day(runtime.store.clock.now())))
        else:
            print(await jobs.reconcile_board(runtime.store, runtime.board))
    finally:
        await runtime.close()
    return 0


async def _outbox(settings: Settings, action: str, ids: list[int]) -> int:
    runtime = await build_runtime(settings)
    try:
        sender = OutboxSender(runtime.store, {})
        if action == "failed":
            rows = await sender.list_failed()
            for row in rows:
                text = str(row.payload.get("text", ""))[:60].replace("\n", " ")
                print(f"{row.id}\t{row.status}\t{row.channel}:{row.address}\tattempts={row.attempts}\t{row.last_error or ''}\t{text}")
            print(f"{len(rows)} message(s) failed or of unknown fate")
        else:
            print(f"{await sender.retry(ids or None)} message(s) queued again")
    finally:
        await runtime.close()
    return 0


async def _telegram(settings: Settings, action: str, url: str | None) -> int:
    if not settings.telegram_bot_token:
        print("KETPAAR_TELEGRAM_BOT_TOKEN is not set", file=sys.stderr)
        return 2
    runtime = await build_runtime(settings)
    try:
        assert runtime.telegram is not None
        if action == "set-webhook":
            print(await set_webhook(runtime.telegram, url or settings.public_url))
            return 0
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, runtime.stop.set)
        await start_background(runtime)
        received = await poll_forever(runtime, runtime.telegram, runtime.stop)
        print(f"stopped after {received} update(s)")
        return 0
    finally:
        await runtime.close()


async def _train_safety(settings: Settings) -> int:
    runtime = await build_runtime(settings.model_copy(update={"screening": "pass"}))
    try:
        with progress(None, "training the safety model", "model") as bar:  # one step: the bar shows time spent
            model = await jobs.retrain_safety(runtime.store, settings.data_dir / "safety", runtime.secret)
            bar.update(1)
    finally:
        await runtime.close()
    print(f"safety model: {getattr(model, 'version', type(model).__name__)}")
    return 0


def _admin_link(settings: Settings, name: str) -> int:
    """Print a one-time web-chat sign-in link for an admin named in KETPAAR_ADMINS."""
    if ("webchat", name) not in settings.admin_addresses():
        print(f"webchat:{name} is not in KETPAAR_ADMINS; add it there and restart the service first", file=sys.stderr)
        return 2
    token = admin_link_token(settings.resolved_secret(), name, time.time())
    print(f"{settings.public_url.rstrip('/')}/webchat/admin-login?token={token}")
    print("valid once, for 15 minutes", file=sys.stderr)
    return 0


async def _work(settings: Settings) -> int:
    """Process the inbox that `serve` processes (with KETPAAR_INBOX_WORKER=false) fill, until stopped."""
    import signal

    runtime = await build_runtime(settings)
    tune_for_serving()  # a long-lived process: the collector tuned as for `serve` (webhooks.heap)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await runtime.processor.work(stop)
    finally:
        await runtime.close()
    return 0


def _serve(settings: Settings, host: str, port: int, workers: int = 0) -> int:
    import uvicorn

    from webhooks.app import create_app

    if workers > 0:
        return _serve_processes(settings, host, port, workers)
    # The app learns where it listens: the demo users exist only on a loopback address.
    # On SIGTERM uvicorn stops accepting, lets open requests finish (up to the timeout), then the
    # lifespan's close drains the inbox and lets the outbox sender end its batch.
    uvicorn.run(create_app(settings.model_copy(update={"host": host}), serving=True), host=host, port=port, log_level="info",
                access_log=settings.access_log,
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S, log_config=None)  # fmt: skip
    return 0


def _serve_processes(settings: Settings, host: str, port: int, workers: int) -> int:
    """`serve --workers N`: N web processes on one port that only store what arrives (the accept path
    never shares an event loop with the flows), and N `ketpaar work` processes sharing the inbox
    (batches claimed with SKIP LOCKED on PostgreSQL). Stopped together."""
    import os
    import subprocess

    import uvicorn

    if settings.database_url.startswith("sqlite") and workers > 1:
        print("SQLite has one writer: more than one process per role gains nothing; use PostgreSQL", file=sys.stderr)
    upgrade(settings.database_url)  # once, before any child starts (they would race on a fresh database)
    env = {**os.environ, "KETPAAR_HOST": host}
    # The work processes yield the CPU to the web processes (nice 10): under load a webhook is
    # answered first and the flows catch up, instead of every provider waiting behind the flows.
    work = [subprocess.Popen([sys.executable, "-m", "webhooks.cli", "work"], env=env, preexec_fn=lambda: os.nice(WORK_NICE))
            for _ in range(workers)]  # fmt: skip
    os.environ.update(KETPAAR_HOST=host, KETPAAR_INBOX_WORKER="false")  # read by each web process's Settings()
    try:
        # A worker starting on a busy machine takes longer than the default 5 s to answer its first
        # health check (importing the app, the lifespan): given a minute instead of being restarted.
        uvicorn.run("webhooks.asgi:app_from_env", factory=True, host=host, port=port, workers=workers, timeout_worker_healthcheck=60,
                    access_log=settings.access_log,
                    log_level="info", timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S, log_config=None)  # fmt: skip
    finally:
        for proc in work:
            proc.terminate()  # SIGTERM: each finishes its batch (or the batch rolls back and is redone)
        for proc in work:
            proc.wait()
    return 0


async def _export(settings: Settings, path: str) -> int:
    """Write the whole event log as GET /api/events serves it, for `ketpaar_verify`."""
    runtime = await build_runtime(settings)
    after, count = 0, 0
    out = sys.stdout if path == "-" else open(path, "w", encoding="utf-8")  # noqa: SIM115
    try:
        async with runtime.store.reader() as uow:
            total, _head = await uow.chain.head()
        with progress(total, "exporting", "events") as bar:
            while True:
                async with runtime.store.reader() as uow:
                    lines, nxt = await export_page(uow, after, MAX_PAGE)
                out.write("".join(line + "\n" for line in lines))
                count += len(lines)
                bar.update(len(lines))
                if nxt is None:
                    break
                after = nxt
    finally:
        if out is not sys.stdout:
            out.close()
        await runtime.close()
    print(f"exported {count} events", file=sys.stderr)
    return 0


async def _doctor(settings: Settings) -> int:
    """Check the configuration and the services it names; exit 1 when anything is broken."""
    text, code = report(await Doctor(settings).run())
    print(text)
    return code


def _backup(settings: Settings, out: Path | None) -> int:
    """Write a backup archive of the SQLite database and the data directories."""
    out = out or Path(f"ketpaar-backup-{time.strftime('%Y%m%d-%H%M%S')}.tar.gz")
    try:
        manifest = backup.backup(settings, out)
    except backup.BackupError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"backup written to {out}: {manifest.events} events, head {manifest.head}")
    print("keys are not in it: keep KETPAAR_PHOTO_KEY, KETPAAR_SIGNING_KEY and KETPAAR_SECRET_KEY (or var/*.key) "
          "safe apart from it; without the photo key no photo can be read", file=sys.stderr)  # fmt: skip
    return 0


async def _restore(settings: Settings, archive: Path, force: bool) -> int:
    """Restore a backup archive and verify the chain it brings back."""
    try:
        manifest, report = await backup.restore(settings, archive, force=force)
    except backup.BackupError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"restored the backup of {manifest.created_at}: {report.events} events, head {report.head}")
    if not report.ok:
        print(f"BROKEN: {report.problem}")
        return 1
    if (report.events, report.head) != (manifest.events, manifest.head):
        print(f"BROKEN: the backup's manifest says {manifest.events} events ending {manifest.head}")
        return 1
    print("OK: the chain verifies and matches the backup")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run one command."""
    parser = argparse.ArgumentParser(prog="ketpaar", description="Ketpaar food cooperative service")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the web service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=0, metavar="N",
                       help="N web processes that only store messages, plus N `ketpaar work` processes (default: "
                            "one process that does both)")  # fmt: skip
    sub.add_parser("work", help="process inbound messages stored by `serve` run with KETPAAR_INBOX_WORKER=false")
    sub.add_parser("migrate", help="apply database migrations")
    backup_cmd = sub.add_parser("backup", help="SQLite: copy the database (online) and photos into one archive")
    backup_cmd.add_argument("--out", type=Path, help="the archive to write (default ketpaar-backup-<time>.tar.gz)")
    restore_cmd = sub.add_parser("restore", help="SQLite: put a backup archive in place and verify its chain")
    restore_cmd.add_argument("archive", type=Path)
    restore_cmd.add_argument("--force", action="store_true", help="replace an existing database (stop the service first)")
    sub.add_parser("doctor", help="check the configuration and services; each finding with its fix (exit 1 on errors)")
    link = sub.add_parser("admin-link", help="print a one-time web-chat sign-in link for an admin")
    link.add_argument("name", help="the web-chat admin's name, as in KETPAAR_ADMINS=webchat:<name>")
    seed = sub.add_parser("demo-seed", help="create the demo web-chat users (once)")
    seed.add_argument("--if-empty", action="store_true", help="(default behaviour) do nothing if they exist")
    ledger = sub.add_parser("ledger", help="ledger tools")
    ledger.add_argument("action", choices=["verify", "export"])
    ledger.add_argument("file", nargs="?", help="with export: where to write the JSON Lines ('-': standard output)")
    ledger.add_argument("--columns-every", type=int, default=64, metavar="N",
                        help="with verify: every event's hashed bytes are chained; also compare the structured "
                             "columns of one random event in every N with them (1: of every event)")  # fmt: skip
    ledger.add_argument("--ranges", type=int, default=0, metavar="K",
                        help="with verify: chain a log of 400,000 events or more in K seq ranges, one worker "
                             "process each (0, the default: one per core on SQLite, one per two on PostgreSQL, whose server "
                             "streams each range; 1 is faster when every core is busy)")  # fmt: skip
    safety_cmd = sub.add_parser("safety", help="location safety model")
    safety_cmd.add_argument("action", choices=["train"])
    job = sub.add_parser("job", help="run a scheduled job now")
    job.add_argument("name", choices=["topup", "open-day", "reconcile-capacity", "reconcile-board", "settle",
                                             "retention", "purge", "checkpoint", "cards", "cards-reconcile",
                                             "close-proposals", "renew-pledges", "tell-pledgers", "expire-campaigns",
                                             "campaign-progress"])
    job.add_argument("--day", help="business day YYYY-MM-DD (default: yesterday)")
    outbox = sub.add_parser("outbox", help="messages that could not be delivered")
    outbox.add_argument("action", choices=["failed", "retry"])
    outbox.add_argument("ids", nargs="*", type=int, help="with retry: these ids (default: all)")
    deposits_cmd = sub.add_parser("deposits", help="money received: import a bank statement (UPI top-ups)")
    deposits_cmd.add_argument("action", choices=["import"])
    deposits_cmd.add_argument("file", type=Path, help="the bank's CSV statement (HDFC, SBI, or date,amount,reference,txn_id)")
    payouts_cmd = sub.add_parser("payouts", help="money paid out: run the payout batch, export it for the bank")
    payouts_cmd.add_argument("action", choices=["run", "export"])
    payouts_cmd.add_argument("--day", help="with run: business day YYYY-MM-DD (default: today)")
    payouts_cmd.add_argument("--batch", type=int, help="with export: batch number (default: the newest)")
    payouts_cmd.add_argument("--out", type=Path, help="with export: write the CSV here (default: standard output)")
    sub.add_parser("telegram-poll", help="long-poll Telegram (development without a public URL)")
    hook = sub.add_parser("telegram-set-webhook", help="register PUBLIC_URL/webhooks/telegram with the secret")
    hook.add_argument("--url", help="public base URL (default KETPAAR_PUBLIC_URL)")
    args = parser.parse_args(argv)
    settings = Settings()
    configure_logging(settings)
    if args.command == "serve":
        return _serve(settings, args.host, args.port, args.workers)
    if args.command == "backup":
        return _backup(settings, args.out)
    if args.command == "restore":
        return asyncio.run(_restore(settings, args.archive, args.force))
    if args.command == "doctor":
        return asyncio.run(_doctor(settings))
    if args.command == "work":
        return asyncio.run(_work(settings.model_copy(update={"inbox_worker": True})))
    if args.command == "admin-link":
        return _admin_link(settings, args.name)
    if args.command == "migrate":
        upgrade(settings.database_url)
        print("database is up to date")
        return 0
    if args.command == "demo-seed":
        return asyncio.run(_demo_seed(settings))
    if args.command == "outbox":
        return asyncio.run(_outbox(settings, args.action, args.ids))
    if args.command == "telegram-poll":
        return asyncio.run(_telegram(settings, "poll", None))
    if args.command == "telegram-set-webhook":
        return asyncio.run(_telegram(settings, "set-webhook", args.url))
    if args.command == "safety":
        return asyncio.run(_train_safety(settings))
    if args.command == "deposits":
        return asyncio.run(money_cli.import_statement(settings, args.file))
    if args.command == "payouts":
        if args.action == "run":
            return asyncio.run(money_cli.run_payouts(settings, args.day))
        return asyncio.run(money_cli.export_batch(settings, args.batch, args.out))
    if args.command == "ledger" and args.action == "export":
        return asyncio.run(_export(settings, args.file or "-"))
    if args.command == "ledger":
        return asyncio.run(_verify(settings, max(1, args.columns_every), max(0, args.ranges)))
    return asyncio.run(_run_job(settings, args.name, args.day))


if __name__ == "__main__":
    sys.exit(main())

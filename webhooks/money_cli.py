"""The treasurer's commands: import a bank statement, run and export payouts."""

from __future__ import annotations

import sys
from pathlib import Path

from core.payments import topups
from core.payments.payouts import batch_csv
from core.payments.statements import UnreadableStatement, read_statement
from core.schedule import jobs
from core.shared.clock import local_day
from webhooks.progress import progress
from webhooks.runtime import build_runtime
from webhooks.settings import Settings

ACTOR = "treasurer:cli"


def _rupees(paise: int) -> str:
    return f"₹{paise // 100}.{paise % 100:02d}"


async def import_statement(settings: Settings, path: Path) -> int:
    """`ketpaar deposits import FILE`: credit matched UPI top-ups, list the rest; exit 1 on a bad file."""
    try:
        statement = read_statement(path.read_bytes())
    except (OSError, UnreadableStatement) as exc:
        print(f"cannot import {path}: {exc}", file=sys.stderr)
        return 1
    runtime = await build_runtime(settings.model_copy(update={"screening": "pass"}))
    try:
        with progress(len(statement.credits), "importing", "rows") as bar:
            async with runtime.store.uow() as uow:
                report = await topups.import_statement(uow, statement, ACTOR, on_row=bar.update)
    finally:
        await runtime.close()
    print(f"layout: {statement.layout}")
    for txn, person, amount in report.credited:
        print(f"credited\t{txn}\t#{person}\t{_rupees(amount)}")
    for txn, person, amount, why in report.flagged:
        print(f"FLAGGED\t{txn}\t#{person}\t{_rupees(amount)}\t{why}")
    for txn, amount, ref in report.unmatched:
        print(f"unmatched\t{txn}\t{_rupees(amount)}\t{ref or '-'}\t(assign by chat: /assign {txn} #<member>)")
    for line, why in report.errors:
        print(f"unreadable\tline {line}\t{why}")
    print(f"{len(report.credited)} credited, {len(report.flagged)} flagged, {len(report.unmatched)} unmatched, "
          f"{report.already} imported before, {len(report.errors)} unreadable, {report.debits_skipped} debits skipped")  # fmt: skip
    return 0


async def run_payouts(settings: Settings, day: str | None) -> int:
    """`ketpaar payouts run [--day D]`: the payout run by hand (idempotent per day)."""
    runtime = await build_runtime(settings.model_copy(update={"screening": "pass"}))
    try:
        report = await jobs.run_payouts(runtime.store, day or local_day(runtime.store.clock.now()),
                                        transfers=runtime.services.transfers)  # fmt: skip
    finally:
        await runtime.close()
    if report.batch is None:
        print("no new batch (already run for that day, or nothing due)")
    else:
        print(f"batch {report.batch.id}: {len(report.lines)} line(s), {_rupees(sum(x.amount for x in report.lines))}")
    for person, account, amount in report.skipped:
        print(f"skipped\t#{person}\t{account}\t{_rupees(amount)}\tno payout details (told)")
    for account, amount in report.held:
        print(f"held\t{account}\t{_rupees(amount)}\ta dispute decision may still be appealed")
    return 0


async def export_batch(settings: Settings, batch_id: int | None, out: Path | None) -> int:
    """`ketpaar payouts export [--batch N] [--out FILE]`: the bank bulk-transfer CSV of a batch."""
    runtime = await build_runtime(settings.model_copy(update={"screening": "pass"}))
    try:
        async with runtime.store.reader() as uow:
            batch = await (uow.payments.batch(batch_id) if batch_id else uow.payments.latest_batch())
            lines = await uow.payments.lines(batch.id) if batch else []
    finally:
        await runtime.close()
    if batch is None:
        print("no such payout batch", file=sys.stderr)
        return 1
    with progress(len(lines), "exporting", "lines") as bar:
        text = batch_csv(lines)
        bar.update(len(lines))
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text)
        print(f"batch {batch.id} ({batch.day}): {len(lines)} line(s) written to {out}", file=sys.stderr)
    return 0

"""`ketpaar backup` / `restore` for the embedded SQLite default: the database (online backup API) and the
photo directories in one archive; a restore verifies the hash chain before it reports success."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from core.adapters.sql.db import Database
from core.adapters.sql.migrate import upgrade
from core.adapters.sql.uow import Store
from core.ledger.audit import AuditReport, audit
from core.shared.bus import MessageBus
from core.shared.clock import SystemClock
from webhooks.settings import Settings

# Encrypted seeker/delivery photos, messages' photos waiting to be handled, the safety model.
DIRECTORIES = ("photos", "inbox-photos", "safety")
PG_HELP = ("PostgreSQL: back up with pg_dump and the photo directory, e.g.\n"
           "  pg_dump --format=custom --file=ketpaar.pgdump \"$KETPAAR_DATABASE_URL\"\n"
           "  tar czf ketpaar-photos.tar.gz -C \"$KETPAAR_DATA_DIR\" photos inbox-photos safety\n"
           "restore into an empty database with pg_restore --no-owner --dbname=... ketpaar.pgdump, "
           "then run: ketpaar ledger verify")  # fmt: skip


class BackupError(Exception):
    """Why a backup or restore was refused, in words for the operator."""


@dataclass(frozen=True)
class Manifest:
    """What a backup holds: when it was taken, and the chain's length and head at that moment."""

    created_at: str
    events: int
    head: str


def sqlite_path(settings: Settings) -> Path:
    """The SQLite file behind the settings, or BackupError for another database."""
    url = settings.database_url
    if not url.startswith("sqlite:///"):
        raise BackupError(PG_HELP)
    return Path(url.removeprefix("sqlite:///"))


def backup(settings: Settings, out: Path) -> Manifest:
    """Copy the live database with SQLite's online backup API (consistent while the service writes)
    and the data directories into a .tar.gz; keys are left out on purpose (keep them apart)."""
    source = sqlite_path(settings)
    if not source.exists():
        raise BackupError(f"there is no database at {source}")
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "ketpaar.db"
        with sqlite3.connect(source) as src, sqlite3.connect(copy) as dst:
            src.backup(dst)
        with sqlite3.connect(copy) as conn:
            row = conn.execute("SELECT seq, hash FROM chain_head WHERE id = 1").fetchone()
        manifest = Manifest(datetime.now(UTC).isoformat(timespec="seconds"), int(row[0]) if row else 0, row[1] if row else "")
        (Path(tmp) / "manifest.json").write_text(json.dumps(manifest.__dict__, indent=1))
        partial = out.with_name(out.name + ".partial")
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(Path(tmp) / "manifest.json", "manifest.json")
            tar.add(copy, "ketpaar.db")
            for name in DIRECTORIES:
                if (settings.data_dir / name).is_dir():
                    tar.add(settings.data_dir / name, name)
        os.replace(partial, out)  # never a half-written archive under the real name
    out.chmod(0o600)  # it holds personal data
    return manifest


async def restore(settings: Settings, archive: Path, *, force: bool = False) -> tuple[Manifest, AuditReport]:
    """Put a backup in place of the database and data directories, migrate it, and verify the chain."""
    target = sqlite_path(settings)
    if target.exists() and not force:
        raise BackupError(f"{target} exists; stop the service and pass --force to replace it")
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(archive, "r:gz") as tar:
        try:
            tar.extractall(tmp, filter="data")  # refuses absolute paths, '..' and links out of the directory
        except tarfile.FilterError as exc:
            raise BackupError(f"{archive} is refused: {exc}") from exc
        unpacked = Path(tmp)
        if not (unpacked / "manifest.json").is_file() or not (unpacked / "ketpaar.db").is_file():
            raise BackupError(f"{archive} is not a ketpaar backup (no manifest.json or ketpaar.db)")
        manifest = Manifest(**json.loads((unpacked / "manifest.json").read_text()))
        target.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("-wal", "-shm"):  # the old database's journal must not be replayed onto the new one
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        staged = target.with_name(target.name + ".restoring")
        shutil.copyfile(unpacked / "ketpaar.db", staged)
        os.replace(staged, target)
        for name in DIRECTORIES:
            if (unpacked / name).is_dir():
                shutil.rmtree(settings.data_dir / name, ignore_errors=True)
                shutil.copytree(unpacked / name, settings.data_dir / name)
    upgrade(settings.database_url)  # a backup from an older release gets this release's schema
    db = Database(settings.database_url)
    try:
        report = await audit(Store(db, SystemClock(), MessageBus()))
    finally:
        await db.dispose()
    return manifest, report

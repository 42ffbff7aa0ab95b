"""`ketpaar backup` and `restore` (SQLite): a backup taken while the service runs restores, with its
photos, to a database whose chain verifies; a tampered or foreign archive is refused."""

from __future__ import annotations

import io
import sqlite3
import tarfile
from pathlib import Path

import pytest

from webhooks.cli import main


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "live.db"
    monkeypatch.setenv("KETPAAR_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("KETPAAR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("KETPAAR_SCHEDULER", "false")
    return db


def test_a_backup_restores_with_its_photos_and_the_chain_verifies(env: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    assert main(["demo-seed"]) == 0
    photo = tmp_path / "var" / "photos" / "ab" / "photo-1.enc"
    photo.parent.mkdir(parents=True)
    photo.write_bytes(b"encrypted bytes")
    archive = tmp_path / "backup.tar.gz"
    assert main(["backup", "--out", str(archive)]) == 0
    out = capsys.readouterr().out
    events = int(out.split(": ")[1].split()[0])
    assert events > 10 and oct(archive.stat().st_mode)[-3:] == "600"

    # the service carries on after the backup, then the disk is lost
    with sqlite3.connect(env) as conn:
        conn.execute("DELETE FROM people")  # (any damage: the restore replaces the whole file)
    env.unlink()
    photo.unlink()

    assert main(["restore", str(archive)]) == 0
    assert "OK: the chain verifies and matches the backup" in capsys.readouterr().out
    assert photo.read_bytes() == b"encrypted bytes"
    assert main(["ledger", "verify"]) == 0
    assert f"events: {events}" in capsys.readouterr().out


def test_restore_refuses_to_overwrite_without_force_and_reports_a_broken_chain(env: Path, tmp_path: Path,
                                                                              capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    assert main(["demo-seed"]) == 0
    with sqlite3.connect(env) as conn:  # history rewritten before the backup was taken
        conn.execute("UPDATE events SET actor = 'person:999' WHERE seq = 5")
    archive = tmp_path / "backup.tar.gz"
    assert main(["backup", "--out", str(archive)]) == 0
    assert main(["restore", str(archive)]) == 2
    assert "pass --force" in capsys.readouterr().err
    assert main(["restore", str(archive), "--force"]) == 1
    assert "BROKEN" in capsys.readouterr().out


def test_an_archive_that_is_not_a_backup_or_escapes_its_directory_is_refused(env: Path, tmp_path: Path,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    hostile = tmp_path / "hostile.tar.gz"
    with tarfile.open(hostile, "w:gz") as tar:
        data = b"owned"
        info = tarfile.TarInfo("../../escaped.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    assert main(["restore", str(hostile)]) == 2
    assert "is refused" in capsys.readouterr().err
    assert not (tmp_path.parent / "escaped.txt").exists()
    empty = tmp_path / "empty.tar.gz"
    with tarfile.open(empty, "w:gz"):
        pass
    assert main(["restore", str(empty)]) == 2
    assert "is not a ketpaar backup" in capsys.readouterr().err


def test_postgres_is_pointed_to_pg_dump(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("KETPAAR_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/ketpaar")
    assert main(["backup"]) == 2
    assert "pg_dump --format=custom" in capsys.readouterr().err

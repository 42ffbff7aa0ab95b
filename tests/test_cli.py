"""The ketpaar command: demo seed, ledger verify (OK, then tampered), jobs by hand."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from webhooks.cli import main


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "cli.db"
    monkeypatch.setenv("KETPAAR_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("KETPAAR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("KETPAAR_SCHEDULER", "false")
    return db


def test_ledger_verify_prints_count_and_head_then_names_a_tampered_event(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo-seed"]) == 0
    assert main(["demo-seed"]) == 0
    assert "already exist" in capsys.readouterr().out
    assert main(["ledger", "verify"]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "head: " in out
    count = int(out.split("events: ")[1].split()[0])
    assert count > 10
    with sqlite3.connect(env) as conn:
        conn.execute("""UPDATE events SET actor = 'person:999' WHERE seq = 7""")
    assert main(["ledger", "verify"]) == 1
    assert "BROKEN at seq 7" in capsys.readouterr().out


def test_a_posting_changed_behind_the_ledgers_back_fails_verify(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo-seed"]) == 0
    with sqlite3.connect(env) as conn:
        conn.execute("UPDATE postings SET amount = amount + 100 WHERE amount > 0")
    assert main(["ledger", "verify"]) == 1
    assert "does not balance" in capsys.readouterr().out


def test_scheduled_jobs_run_by_hand_are_idempotent(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo-seed"]) == 0
    assert main(["job", "topup", "--day", "2026-11-22"]) == 0
    assert main(["job", "reconcile-board"]) == 0
    assert main(["job", "open-day"]) == 0
    assert "2" in capsys.readouterr().out.splitlines()[-1]  # two restaurants opened for today

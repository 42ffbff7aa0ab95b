"""The ketpaar command: demo seed, ledger verify (OK, then tampered), jobs by hand."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import ketpaar_verify
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
    # Only a column the application reads was edited, not the hashed bytes: every event's columns.
    assert main(["ledger", "verify", "--columns-every", "1"]) == 1
    assert "BROKEN at seq 7: event 7: the stored columns differ from the hashed content" in capsys.readouterr().out
    with sqlite3.connect(env) as conn:  # the hashed bytes too: the chain itself breaks, whatever the sample
        conn.execute("""UPDATE event_bodies SET body = CAST(REPLACE(CAST(body AS TEXT), '"seq":7', '"seq":7 ') AS BLOB)
                        WHERE seq = 7""")
    assert main(["ledger", "verify"]) == 1
    assert "BROKEN at seq 7: event 7: hash does not match the content" in capsys.readouterr().out


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
    assert main(["job", "campaign-progress"]) == 0  # no campaign: nothing to tell
    assert capsys.readouterr().out.splitlines()[-1] == "0"


def test_outbox_failed_lists_given_up_messages_and_retry_queues_them(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo-seed"]) == 0
    with sqlite3.connect(env) as conn:
        conn.execute(
            "INSERT INTO outbox (channel, address, payload, status, attempts, created_at, last_error) "
            "VALUES ('telegram', '42', '{\"text\": \"New order #7\"}', 'failed', 15, '2026-11-23', 'Forbidden: bot was blocked')"
        )
    assert main(["outbox", "failed"]) == 0
    out = capsys.readouterr().out
    assert "telegram:42" in out and "bot was blocked" in out and "1 message(s)" in out
    assert main(["outbox", "retry"]) == 0
    assert "1 message(s) queued again" in capsys.readouterr().out
    with sqlite3.connect(env) as conn:
        assert conn.execute("SELECT status FROM outbox WHERE address = '42'").fetchone()[0] == "pending"


def test_telegram_set_webhook_registers_the_public_url_with_the_secret(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.fake_telegram import TOKEN, FakeTelegram

    with FakeTelegram() as fake:
        monkeypatch.setenv("KETPAAR_TELEGRAM_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("KETPAAR_TELEGRAM_SECRET_TOKEN", "s3cret")
        monkeypatch.setenv("KETPAAR_TELEGRAM_API_BASE", fake.url)
        monkeypatch.setenv("KETPAAR_OUTBOX_SENDER", "false")
        assert main(["telegram-set-webhook", "--url", "https://coop.example"]) == 0
        calls = fake.of("setWebhook")
    assert "https://coop.example/webhooks/telegram" in capsys.readouterr().out
    assert calls and calls[0].params["secret_token"] == "s3cret"


def test_safety_train_trains_and_versions_a_model(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["safety", "train"]) == 0
    assert "safety model: gb-" in capsys.readouterr().out


def test_a_signed_checkpoint_and_an_export_verify_with_the_standalone_verifier(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo-seed"]) == 0
    capsys.readouterr()
    assert main(["job", "checkpoint"]) == 0  # the demo's key is generated into the data dir
    checkpoint = tmp_path / "checkpoint.json"
    checkpoint.write_text(capsys.readouterr().out)  # the log then holds one more event: checkpoint.signed
    log = tmp_path / "events.jsonl"
    assert main(["ledger", "export", str(log)]) == 0
    assert ketpaar_verify.main([str(log), "--since", str(checkpoint)]) == 0
    assert "OK: the chain holds" in capsys.readouterr().out
    with sqlite3.connect(env) as conn:  # history rewritten behind the checkpoint's back
        conn.execute("""UPDATE events SET actor = 'person:999' WHERE seq = 3""")
    assert main(["ledger", "export", str(log)]) == 0
    assert ketpaar_verify.main([str(log), "--since", str(checkpoint)]) == 1
    assert "PROBLEM TAMPERED: event seq 3" in capsys.readouterr().out


def test_the_card_jobs_say_when_cards_are_off_and_reconcile_with_stripe_when_on(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.fake_stripe import SECRET_KEY, WEBHOOK_SECRET, FakeStripe

    assert main(["demo-seed"]) == 0
    assert main(["job", "cards"]) == 1
    assert "cards are off" in capsys.readouterr().out
    fake = FakeStripe().start()
    try:
        monkeypatch.setenv("KETPAAR_STRIPE_SECRET_KEY", SECRET_KEY)
        monkeypatch.setenv("KETPAAR_STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
        monkeypatch.setenv("KETPAAR_STRIPE_API_BASE", fake.base_url)
        assert main(["job", "cards"]) == 0
        assert main(["job", "cards-reconcile"]) == 0
    finally:
        fake.stop()
    out = capsys.readouterr().out
    assert "{} flagged: 0" in out and "OK: external:card agrees with Stripe to the paisa" in out

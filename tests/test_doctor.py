"""`ketpaar doctor`: a well-configured production setup passes; each misconfiguration is found, with a fix."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.adapters.sql.migrate import upgrade
from tests.fake_telegram import TOKEN, FakeTelegram
from webhooks.cli import main
from webhooks.doctor import Doctor, Finding, Level, report
from webhooks.settings import Settings

PUBLIC = "https://coop.example"
HEX = "ab" * 32


@pytest.fixture(scope="module")
def telegram() -> Iterator[FakeTelegram]:
    """A fake Telegram whose webhook is set to the public URL (as `ketpaar telegram-set-webhook` leaves it)."""
    with FakeTelegram() as fake:
        fake.webhook = {"url": f"{PUBLIC}/webhooks/telegram"}
        yield fake


@pytest.fixture
def good(tmp_path: Path, sqlite_template: Path, telegram: FakeTelegram, redis_url: str) -> dict[str, Any]:
    """Settings of a correctly configured public service."""
    db = tmp_path / "doctor.db"
    shutil.copy(sqlite_template, db)
    return dict(database_url=f"sqlite:///{db}", data_dir=tmp_path / "var", demo=False, public_url=PUBLIC, photo_key=HEX,
                signing_key=HEX, secret_key=HEX, metrics_token="m" * 32, admins="telegram:42,webchat:treasurer",
                telegram_bot_token=TOKEN, telegram_secret_token="s" * 32, telegram_api_base=telegram.url,
                redis_url=redis_url, upi_vpa="coop@okaxis", upi_name="Ketpaar Coop", screening="faces",
                stripe_secret_key="sk_live_" + "a" * 24, stripe_webhook_secret="whsec_" + "b" * 32)  # fmt: skip


async def diagnose(values: dict[str, Any], **doctor: Any) -> list[Finding]:
    return await Doctor(Settings(**values), **doctor).run()


def problems(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.level != Level.OK]


async def test_a_well_configured_public_service_has_no_findings(good: dict[str, Any]) -> None:
    findings = await diagnose(good)
    assert problems(findings) == []
    checks = {f.check for f in findings}
    assert {"demo", "public_url", "keys", "admins", "stripe", "upi", "screening", "disk", "database", "clock", "redis",
            "telegram"} <= checks
    text, code = report(findings)
    assert code == 0 and "0 error(s), 0 warning(s)" in text


BROKEN: list[tuple[str, dict[str, Any], str, str]] = [
    # (what, settings changed, check, words in the finding)
    ("demo on a public URL", {"demo": True}, "demo", "KETPAAR_DEMO is on"),
    ("plain http in production", {"public_url": "http://coop.example"}, "public_url", "plain http"),
    ("public URL not a URL", {"public_url": "coop.example"}, "public_url", "is not a URL"),
    ("photo key missing", {"photo_key": None}, "keys", "KETPAAR_PHOTO_KEY is unset"),
    ("photo key malformed", {"photo_key": "abc"}, "keys", "KETPAAR_PHOTO_KEY is not 64 hex"),
    ("signing key malformed", {"signing_key": "zz" * 32}, "keys", "KETPAAR_SIGNING_KEY is not 64 hex"),
    ("secret key short", {"secret_key": "hunter2"}, "keys", "shorter than 32"),
    ("metrics token short", {"metrics_token": "abc"}, "keys", "KETPAAR_METRICS_TOKEN is shorter"),
    ("admin entry without a channel", {"admins": "42"}, "admins", "not channel:address"),
    ("admin on an unknown channel", {"admins": "signal:+919800000000"}, "admins", "not channel:address"),
    ("telegram admin by @name", {"admins": "telegram:@murugan"}, "admins", "numeric user id"),
    ("sms admin without country code", {"admins": "sms:9800000000"}, "admins", "international form"),
    ("admin on a channel that is off", {"admins": "whatsapp:+919800000000"}, "admins", "not configured"),
    ("twilio half configured", {"twilio_account_sid": "AC" + "0" * 32}, "twilio", "only part"),
    ("twilio sid malformed", {"twilio_account_sid": "SK" + "0" * 32, "twilio_auth_token": "f" * 32,
                              "twilio_sms_from": "+14155550100"}, "twilio", "not AC followed"),  # fmt: skip
    ("twilio token malformed", {"twilio_account_sid": "AC" + "0" * 32, "twilio_auth_token": "secret",
                                "twilio_sms_from": "+14155550100"}, "twilio", "AUTH_TOKEN is not 32 hex"),  # fmt: skip
    ("sms sender malformed", {"twilio_account_sid": "AC" + "0" * 32, "twilio_auth_token": "f" * 32,
                              "twilio_sms_from": "04155550100"}, "twilio", "SMS_FROM"),  # fmt: skip
    ("whatsapp sender without prefix", {"twilio_account_sid": "AC" + "0" * 32, "twilio_auth_token": "f" * 32,
                                        "twilio_whatsapp_from": "+14155238886"}, "twilio", "whatsapp:+number"),  # fmt: skip
    ("whatsapp template malformed", {"twilio_account_sid": "AC" + "0" * 32, "twilio_auth_token": "f" * 32,
                                     "twilio_whatsapp_from": "whatsapp:+14155238886",
                                     "twilio_whatsapp_template_sid": "template-1"}, "twilio", "TEMPLATE_SID"),  # fmt: skip
    ("stripe publishable key", {"stripe_secret_key": "pk_live_" + "a" * 24, "stripe_webhook_secret": "whsec_" + "b" * 32},
     "stripe", "publishable key"),
    ("stripe key malformed", {"stripe_secret_key": "sk_live abc", "stripe_webhook_secret": "whsec_" + "b" * 32},
     "stripe", "not of the form sk_live"),
    ("stripe without webhook secret", {"stripe_webhook_secret": None}, "stripe", "cannot be verified"),
    ("stripe webhook secret malformed", {"stripe_secret_key": "sk_live_" + "a" * 24, "stripe_webhook_secret": "secret"},
     "stripe", "not of the form whsec_"),
    ("stripe webhook secret alone", {"stripe_secret_key": None}, "stripe", "SECRET_KEY is not"),
    ("upi id malformed", {"upi_vpa": "coop.okaxis"}, "upi", "is not a UPI id"),
    ("screening off in production", {"screening": "pass"}, "screening", "KETPAAR_SCREENING=pass"),
    ("database file missing", {"database_url": "sqlite:////nonexistent/ketpaar.db"}, "database", "does not exist"),
    ("database unreachable", {"database_url": "postgresql://postgres@127.0.0.1:1/ketpaar"}, "database", "cannot be reached"),
    ("redis unreachable", {"redis_url": "redis://127.0.0.1:1/0"}, "redis", "Redis cannot be reached"),
    ("telegram token malformed", {"telegram_bot_token": "not a token"}, "telegram", "is not of the form"),
    ("telegram token rejected", {"telegram_bot_token": "999999:WRONG-token"}, "telegram", "rejected the bot token"),
    ("telegram unreachable", {"telegram_api_base": "http://127.0.0.1:1"}, "telegram", "could not be reached"),
    ("telegram secret missing", {"telegram_secret_token": None}, "telegram", "SECRET_TOKEN is unset"),
    ("telegram secret malformed", {"telegram_secret_token": "short secret!"}, "telegram", "16-256 letters"),
]


@pytest.mark.parametrize(("what", "change", "check", "words"), BROKEN, ids=[b[0] for b in BROKEN])
async def test_each_misconfiguration_is_an_error_with_a_fix(good: dict[str, Any], what: str, change: dict[str, Any],
                                                           check: str, words: str) -> None:  # fmt: skip
    findings = await diagnose({**good, **change})
    found = [f for f in problems(findings) if f.check == check and words in f.message]
    assert found, f"{what}: not found among {problems(findings)}"
    assert found[0].level == Level.ERROR and found[0].fix
    assert report(findings)[1] == 1


WARNED: list[tuple[str, dict[str, Any], str, str]] = [
    ("signing key unset", {"signing_key": None}, "keys", "no daily checkpoints"),
    ("secret key unset", {"secret_key": None}, "keys", "each machine generates its own"),
    ("metrics token unset", {"metrics_token": None}, "keys", "/metrics is closed"),
    ("stripe test key in production", {"stripe_secret_key": "sk_test_" + "a" * 24, "stripe_webhook_secret": "whsec_" + "b" * 32},
     "stripe", "test key"),
    ("only the UPI id", {"upi_name": None}, "upi", "only one of"),
    ("twilio without a sender", {"twilio_account_sid": "AC" + "0" * 32, "twilio_auth_token": "f" * 32}, "twilio", "no sender"),
]


@pytest.mark.parametrize(("what", "change", "check", "words"), WARNED, ids=[w[0] for w in WARNED])
async def test_weaker_settings_are_warnings_with_a_fix(good: dict[str, Any], what: str, change: dict[str, Any],
                                                      check: str, words: str) -> None:  # fmt: skip
    findings = await diagnose({**good, **change})
    found = [f for f in problems(findings) if f.check == check and words in f.message]
    assert found and found[0].level == Level.WARNING and found[0].fix, f"{what}: {problems(findings)}"
    assert report(findings)[1] == 0


async def test_a_webhook_not_set_or_pointing_elsewhere_is_found(good: dict[str, Any], telegram: FakeTelegram) -> None:
    saved = telegram.webhook
    try:
        telegram.webhook = {"url": ""}
        assert "has no webhook" in problems(await diagnose(good))[0].message
        telegram.webhook = {"url": "https://old-host.example/webhooks/telegram"}
        assert "points at https://old-host.example" in problems(await diagnose(good))[0].message
        telegram.webhook = {**saved, "last_error_message": "SSL error: certificate verify failed", "last_error_date": 1}
        [warning] = problems(await diagnose(good))
        assert warning.level == Level.WARNING and "certificate verify failed" in warning.message
    finally:
        telegram.webhook = saved


async def test_schema_behind_the_code_is_found(good: dict[str, Any], tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    upgrade(f"sqlite:///{old}", "0014")
    [finding] = problems(await diagnose({**good, "database_url": f"sqlite:///{old}"}))
    assert finding.level == Level.ERROR and "ketpaar migrate" in finding.fix and "0014" in finding.message


async def test_clock_out_of_step_with_the_database_is_found(good: dict[str, Any]) -> None:
    ahead = await diagnose(good, now=lambda: datetime.now(UTC) + timedelta(minutes=3))
    [finding] = problems(ahead)
    assert finding.check == "clock" and finding.level == Level.ERROR and "timedatectl" in finding.fix


async def test_little_disk_space_is_a_warning_then_an_error(good: dict[str, Any]) -> None:
    [low] = problems(await diagnose(good, min_free_bytes=10**18))
    assert low.check == "disk" and low.level == Level.WARNING
    [full] = problems(await diagnose(good, min_free_bytes=10**18, low_free_bytes=10**18))
    assert full.check == "disk" and full.level == Level.ERROR and "KETPAAR_DATA_DIR" in full.fix


async def test_missing_face_weights_are_found(good: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path / "empty"))
    [finding] = problems(await diagnose(good))
    assert finding.check == "screening" and "install_face_weights" in finding.fix


def test_the_command_prints_fixes_and_exits_1_on_errors(good: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    for key, value in {**good, "upi_vpa": "not-a-vpa"}.items():
        monkeypatch.setenv(f"KETPAAR_{key.upper()}", str(value).lower() if isinstance(value, bool) else str(value))
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "ERROR   upi:" in out and "fix: use the cooperative account's UPI id" in out and "1 error(s)" in out
    assert TOKEN not in out and HEX not in out  # the report never prints a secret
    monkeypatch.setenv("KETPAAR_UPI_VPA", "coop@okaxis")
    assert main(["doctor"]) == 0


def test_the_demo_on_this_machine_passes_as_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    monkeypatch.setenv("KETPAAR_DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    monkeypatch.setenv("KETPAAR_DATA_DIR", str(tmp_path / "var"))
    assert main(["migrate"]) == 0
    assert main(["doctor"]) == 0
    assert "demo mode, on this machine only" in capsys.readouterr().out

"""Logs: one JSON line per inbound message with a pseudonymous person id; the whole meal's log, at DEBUG,
holds no token, secret, phone number or photo bytes."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.schedule.jobs import settle_due
from tests.channel_chat import channel_app, users_on
from tests.fake_telegram import TOKEN
from tests.fake_twilio import AUTH_TOKEN
from tests.test_every_channel import CAST, SMS_MEAL, fakes
from tests.test_meal_transcript import MEAL, SETTLED
from webhooks.logs import JsonFormatter, Redactor, TextFormatter, formatter_for, pin_noisy_loggers
from webhooks.settings import Settings

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:telegram.warnings.PTBDeprecationWarning")


class Keep(logging.Handler):
    """Keeps every record, to be formatted at the end with the app's own settings."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def everything_logged() -> Iterator[Keep]:
    """Every record at DEBUG, with the libraries that dump SQL values and request parameters held
    at WARNING as `ketpaar` does in service (pin_noisy_loggers)."""
    root = logging.getLogger()
    keep, level = Keep(), root.level
    root.addHandler(keep)
    root.setLevel(logging.DEBUG)
    previous = pin_noisy_loggers()
    try:
        yield keep
    finally:
        root.removeHandler(keep)
        root.setLevel(level)
        for name, old in previous.items():
            logging.getLogger(name).setLevel(old)


@pytest.mark.parametrize("channel", ["telegram", "whatsapp", "sms"])
async def test_the_whole_meals_log_holds_no_secret_number_or_photo(channel: str, app_db: Path, tmp_path: Path) -> None:
    users = users_on(CAST[channel])
    with fakes(channel) as (telegram, twilio), everything_logged() as keep:
        async with channel_app(app_db, tmp_path / "var", users, telegram=telegram, twilio=twilio,
                               settings={"photo_key": "cd" * 32, "log_format": "json"}) as env:  # fmt: skip
            await env["chat"].run(SMS_MEAL if channel == "sms" else MEAL)
            env["clock"].advance(minutes=30)
            assert await settle_due(env["runtime"].store) == 1
            await env["chat"].settle()
            await env["chat"].run(SETTLED)
            settings: Settings = env["runtime"].settings
    formatter = formatter_for(settings)
    assert isinstance(formatter, JsonFormatter)
    lines = [formatter.format(r) for r in keep.records]
    log = "\n".join(lines)
    for secret in (TOKEN, TOKEN.split(":")[1], AUTH_TOKEN, "test-secret", "cd" * 32):
        assert secret not in log
    for user in users.values():
        if user.channel in ("whatsapp", "sms"):
            assert user.address.removeprefix("whatsapp:").lstrip("+") not in log, user.address
    for photo_marker in ("JFIF", "\\xff\\xd8", "/9j/", "ffd8ff"):
        assert photo_marker not in log
    inbound = [json.loads(line) for line in lines if '"logger": "ketpaar.inbound"' in line]
    on_channel = [e for e in inbound if e["channel"] == channel]
    sent = (SMS_MEAL if channel == "sms" else MEAL).count(" > ")
    assert len(inbound) >= sent and on_channel  # (WhatsApp's transcript first opens each 24-hour window)
    assert all(e["outcome"] == "handled" and e["person"].startswith("person:") and e["duration_ms"] >= 0 for e in inbound)
    steps = {e["step"] for e in inbound}
    assert "location" in steps and (channel != "telegram" or "choice:claim" in steps)


def test_a_record_with_secrets_in_it_is_masked_in_json_and_in_text() -> None:
    redact = Redactor(["s3cret-token-value"])
    assert redact("key sk_live_abcdef123456 and whsec_abcdef123456") == "key <redacted> and <redacted>"
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "POST %s to %s failed; %s; %s", (
        "https://api.telegram.org/bot123456:AAH-abcdefghijk/sendMessage", "whatsapp:+919840012345",
        "Authorization: Bearer s3cret-token-value", "/mydata?t=abc.def&x=1 GET /file/bot123456%3AAAH-abcdefghijk/p.jpg"),
        None)  # fmt: skip
    for formatter in (JsonFormatter(redact), TextFormatter(redact)):
        out = formatter.format(record)
        for leaked in ("AAH-abcdefghijk", "9840012345", "s3cret-token-value", "abc.def"):
            assert leaked not in out, (leaked, out)
        assert "/sendMessage" in out and "x=1" in out  # the rest stays readable
    json.loads(JsonFormatter(redact).format(record))


def test_the_demo_logs_readable_text_and_production_json(tmp_path: Path) -> None:
    assert isinstance(formatter_for(Settings(demo=True, data_dir=tmp_path)), TextFormatter)
    assert isinstance(formatter_for(Settings(demo=False, data_dir=tmp_path)), JsonFormatter)
    assert isinstance(formatter_for(Settings(demo=False, log_format="text", data_dir=tmp_path)), TextFormatter)

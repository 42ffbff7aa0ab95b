"""Logging: JSON lines in production, readable text in the demo; secrets, phone numbers and tokens masked."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

from webhooks.settings import Settings

MASK = "<redacted>"
# Extra fields the app attaches to a record (the inbound line); anything else in `extra` is ignored.
FIELDS = ("channel", "person", "step", "outcome", "duration_ms", "job")
PATTERNS = [
    re.compile(r"bot\d{3,}(?::|%3[Aa])[A-Za-z0-9_-]+"),  # Telegram API URLs carry the token: .../bot123:ABC/sendMessage
    re.compile(r"\b\d{6,}(?::|%3[Aa])[A-Za-z0-9_-]{8,}\b"),  # a bare Telegram bot token
    re.compile(r"whatsapp:\+?\d{6,15}"),  # WhatsApp addresses
    re.compile(r"(?<![\w.])\+\d{8,15}\b"),  # international phone numbers
    re.compile(r"(?<![\w.])(?:91)?[6-9]\d{9}\b"),  # Indian mobile numbers written without +
    re.compile(r"(?i)((?:authorization|x-twilio-signature|x-telegram-bot-api-secret-token)[\"']?\s*[:=]\s*[\"']?)(?:(?:Bearer|Basic)\s+)?[^\s\"',}]+"),
    re.compile(r"([?&](?:t|token|secret|key)=)[^&\s\"']+"),  # one-time links (/mydata?t=…, admin-login?token=…)
    re.compile(r"\b[0-9a-fA-F]{64}\b"),  # 32-byte keys in hex
    re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]+|\bwhsec_[A-Za-z0-9+/=]+"),  # Stripe secrets
]


class Redactor:
    """Masks configured secrets and anything shaped like a token, phone number or key."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """The text with every secret and personal number masked."""
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        for pattern in PATTERNS:
            # a pattern with a group keeps that prefix (the header's name, the link's parameter)
            text = pattern.sub(lambda m: (m.group(1) if m.re.groups else "") + MASK, text)
        return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the app's fields, any exception."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        """The record as one redacted JSON line."""
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({name: getattr(record, name) for name in FIELDS if hasattr(record, name)})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return self.redact(json.dumps(entry, ensure_ascii=False, default=str))


class TextFormatter(logging.Formatter):
    """Readable lines for the demo and development, redacted all the same."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        """The record as text, redacted."""
        return self.redact(super().format(record))


def redactor_for(settings: Settings) -> Redactor:
    """A redactor that knows this configuration's secrets."""
    return Redactor([settings.telegram_bot_token, settings.telegram_secret_token, settings.twilio_auth_token,
                     settings.secret_key, settings.photo_key, settings.signing_key, settings.metrics_token,
                     settings.stripe_secret_key, settings.stripe_webhook_secret])  # fmt: skip


def formatter_for(settings: Settings) -> logging.Formatter:
    """JSON outside the demo (or when asked), text in it."""
    use_json = settings.log_format == "json" or (settings.log_format == "auto" and not settings.demo)
    redact = redactor_for(settings)
    return JsonFormatter(redact) if use_json else TextFormatter(redact)


# Libraries that log request parameters or SQL with its values at DEBUG/INFO (message texts,
# names, phone numbers, coordinates, token-bearing URLs): held at WARNING whatever the root level.
NOISY = ("aiosqlite", "sqlalchemy.engine", "sqlalchemy.pool", "httpx", "httpcore", "telegram", "twilio.http_client",
         "hpack", "multipart", "urllib3", "PIL")  # fmt: skip


def pin_noisy_loggers() -> dict[str, int]:
    """Hold the data-dumping libraries at WARNING; return their previous levels (to restore in tests)."""
    previous = {name: logging.getLogger(name).level for name in NOISY}
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
    return previous


def configure_logging(settings: Settings, level: int = logging.INFO) -> None:
    """Send every log record (uvicorn's too) through one redacting handler on standard error."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter_for(settings))
    handler.set_name("ketpaar")
    root = logging.getLogger()
    # replace only our own handler (a second call, e.g. in tests), never other handlers
    root.handlers[:] = [h for h in root.handlers if h.get_name() != "ketpaar"] + [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Also held here, for a server started some other way (uvicorn's own command line).
    logging.getLogger("uvicorn.access").setLevel(logging.INFO if settings.access_log else logging.WARNING)
    pin_noisy_loggers()

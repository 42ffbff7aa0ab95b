"""Service settings from the environment (prefix KETPAAR_), with embedded defaults."""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import fields
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.ledger.params import Params


def is_loopback(host: str) -> bool:
    """Whether a host name or address is this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    """Everything configurable; unset means the embedded default (SQLite, no Redis)."""

    model_config = SettingsConfigDict(env_prefix="KETPAAR_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./var/ketpaar.db"
    redis_url: str | None = None  # unset: the job board lives in the database
    redis_prefix: str = "ketpaar:"
    admins: str = "webchat:admin"  # comma-separated channel:address
    data_dir: Path = Path("./var")
    secret_key: str | None = None  # signs photo links; generated into data_dir when unset
    photo_key: str | None = None  # 64 hex chars: AES-256 key for photos at rest
    signing_key: str | None = None  # 64 hex chars: Ed25519 seed signing the daily checkpoints
    public_log: bool = False  # true: anyone may export the event log; false: members (a session) only
    screening: str = "faces"  # faces: duplicate-seeker and safety checks | pass: none (tests, development)
    demo: bool = True  # demo: keys may be generated into data_dir; demo users on loopback; false in production
    host: str = "127.0.0.1"  # the address `ketpaar serve` listens on (set by --host)
    scheduler: bool = True
    public_url: str = "http://127.0.0.1:8000"  # what providers call: signatures are checked against it
    outbox_sender: bool = True  # deliver queued Telegram/WhatsApp/SMS messages from this process
    person_rate_per_minute: int = 100  # messages handled per person a minute (more wait their turn); 0 = off
    inbox_worker: bool = True  # false: `serve` only stores inbound messages; `ketpaar work` processes them
    processing_concurrency: int = 4  # batches of inbound messages processed at once per app process (the rest wait, stored)
    ip_rate_per_minute: int = 300  # web-chat messages accepted per IP address a minute; 0 = off
    sessions_per_ip_per_hour: int = 30  # new web-chat sessions and admin sign-ins per IP address an hour
    # GET /metrics: with a token, only `Authorization: Bearer <token>`; without one, open in the
    # demo on this machine and closed (404) everywhere else.
    metrics_token: str | None = None
    log_format: str = "auto"  # auto: JSON outside the demo, readable text in it | json | text
    # One line per HTTP request (uvicorn's access log, redacted): off by default, as it costs about a
    # tenth of the accept path's CPU under load; /metrics counts requests per route and status anyway.
    access_log: bool = False

    # Telegram: no token = Telegram off.
    telegram_bot_token: str | None = None
    telegram_secret_token: str | None = None
    telegram_api_base: str = "https://api.telegram.org"  # a self-hosted Bot API server, or a test fake

    # Twilio WhatsApp + SMS: no account sid / auth token = both off.
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_api_base: str | None = None  # REST base override (a relay, or a test fake)
    twilio_whatsapp_from: str | None = None  # "whatsapp:+14155238886" or a Messaging Service "MG…"
    twilio_sms_from: str | None = None  # "+1…" or "MG…"
    twilio_whatsapp_template_sid: str | None = None  # approved "{{1}}" template, outside the 24 h window
    twilio_fallback_to_sms: bool = True  # outside the window and no template: send by SMS
    # UPI top-ups: the cooperative's own UPI id and the payee name a donor's app shows (both, or
    # /topup politely says it is not available).
    upi_vpa: str | None = None
    upi_name: str | None = None

    # Stripe cards: no secret key / webhook secret = cards off (no "Pay by card" button).
    stripe_secret_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_api_base: str | None = None  # REST base override (a test fake)
    stripe_connect: bool = False  # payouts by Stripe Connect transfers to payees' connected accounts (needs the keys)
    stripe_timeout: float = 20.0  # seconds one Stripe request may take before it is retried (idempotently)

    # Initial values of the governed parameters (used only until a proposal changes them).
    delivery_fee: int = Field(default=Params.delivery_fee, description="paise")
    worker_share_bp: int = Params.worker_share_bp
    pool_share_bp: int = Params.pool_share_bp
    infra_share_bp: int = Params.infra_share_bp
    daily_minimum: int = Params.daily_minimum
    safety_threshold_bp: int = Params.safety_threshold_bp
    duplicate_window_min: int = Params.duplicate_window_min
    duplicate_radius_m: int = Params.duplicate_radius_m
    face_match_threshold_bp: int = Params.face_match_threshold_bp
    face_sure_bp: int = Params.face_sure_bp
    pledge_daily_cap_per_requester: int = Field(default=Params.pledge_daily_cap_per_requester,
                                                description="paise: the most pledges pay a day for one requester's orders")
    photo_retention_days: int = Params.photo_retention_days
    campaign_max_minutes: int = Params.campaign_max_minutes
    min_contribution: int = Params.min_contribution
    proposal_quorum_bp: int = Params.proposal_quorum_bp
    proposal_majority_bp: int = Params.proposal_majority_bp
    voting_period_hours: int = Params.voting_period_hours
    proposal_seconds: int = Params.proposal_seconds
    membership_fee: int = Params.membership_fee
    restaurant_radius_m: int = Params.restaurant_radius_m
    max_deposit: int = Field(default=Params.max_deposit, description="paise: the most one recorded deposit may credit")
    max_price: int = Field(default=Params.max_price, description="paise: the most one meal on an alms menu may cost")
    max_pledge: int = Field(default=Params.max_pledge, description="paise: the most one campaign pledge may promise")
    max_capacity: int = Field(default=Params.max_capacity, description="meals a day one restaurant may pledge")
    max_money_pledge: int = Field(default=Params.max_money_pledge, description="paise: the most one /pledge may put aside")
    deposit_second_admin_above: int = Field(default=Params.deposit_second_admin_above, description="paise")
    dispute_window_min: int = Params.dispute_window_min
    appeal_window_hours: int = Params.appeal_window_hours
    restaurant_answer_min: int = Params.restaurant_answer_min
    claim_wait_min: int = Params.claim_wait_min
    claim_give_up_min: int = Params.claim_give_up_min
    pickup_wait_min: int = Params.pickup_wait_min
    delivery_wait_min: int = Params.delivery_wait_min
    topup_min: int = Field(default=Params.topup_min, description="paise: the least one UPI top-up may ask for")
    payout_hour: int = Field(default=Params.payout_hour, description="hour (India time) of the daily payout run")
    payout_minimum: int = Field(default=Params.payout_minimum, description="paise: the least one payout may send")
    order_detail_days: int = Params.order_detail_days
    message_log_days: int = Params.message_log_days
    card_fee_bp: int = Params.card_fee_bp
    card_fee_fixed: int = Field(default=Params.card_fee_fixed, description="paise")
    card_fee_bearer: int = Params.card_fee_bearer
    card_hold_warn_hours: int = Params.card_hold_warn_hours
    campaign_nearby_radius_m: int = Params.campaign_nearby_radius_m
    campaign_nearby_daily_cap: int = Params.campaign_nearby_daily_cap

    def initial_params(self) -> Params:
        """The parameters' setup values."""
        return Params(**{f.name: getattr(self, f.name) for f in fields(Params)})

    def admin_addresses(self) -> frozenset[tuple[str, str]]:
        """Admins as (channel, address) pairs ("whatsapp:+9198…" is stored as WhatsApp writes it)."""
        pairs = [a.strip().split(":", 1) for a in self.admins.split(",") if ":" in a]
        out = set()
        for channel, address in ((c.strip(), a.strip()) for c, a in pairs):
            if channel == "whatsapp" and not address.startswith("whatsapp:"):
                address = f"whatsapp:{address}"
            if channel and address:
                out.add((channel, address))
        return frozenset(out)

    def demo_open(self) -> bool:
        """Demo users are one click away only in demo mode on a loopback address."""
        return self.demo and is_loopback(self.host)

    def resolved_photo_key(self) -> bytes:
        """The photo encryption key; outside the demo it must be configured."""
        if self.photo_key:
            key = bytes.fromhex(self.photo_key)
            if len(key) != 32:
                raise ValueError("KETPAAR_PHOTO_KEY must be 64 hex characters (32 bytes)")
            return key
        if not self.demo:
            raise RuntimeError("KETPAAR_PHOTO_KEY is required when KETPAAR_DEMO=false: seeker photos are encrypted at rest")
        path = self.data_dir / "photo.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return bytes.fromhex(path.read_text().strip())

    def resolved_signing_key(self) -> bytes | None:
        """The checkpoint signing seed: configured, or generated into data_dir in the demo; outside
        the demo an unset key means no checkpoints are signed (nothing is signed by a throwaway key)."""
        if self.signing_key:
            seed = bytes.fromhex(self.signing_key)
            if len(seed) != 32:
                raise ValueError("KETPAAR_SIGNING_KEY must be 64 hex characters (32 bytes)")
            return seed
        if not self.demo:
            return None
        path = self.data_dir / "signing.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return bytes.fromhex(path.read_text().strip())

    def resolved_secret(self) -> bytes:
        """The signing key: configured, or created once under data_dir and kept."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.data_dir / "secret.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip().encode()

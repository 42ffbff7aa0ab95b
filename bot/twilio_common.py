"""What the Twilio WhatsApp and SMS adapters share: settings, the SDK client, errors, media."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from bot.channel import SendResult

log = logging.getLogger(__name__)

WHATSAPP_PREFIX = "whatsapp:"
MEDIA_LINK_TTL_S = 24 * 3600
HTTP_TIMEOUT_S = 15.0

# Twilio error codes that no retry can fix.
PERMANENT_CODES = {
    21211: "invalid phone number",
    21408: "sending to this region is not enabled",
    21610: "the person replied STOP (unsubscribed)",
    21612: "Twilio cannot route to this number",
    21614: "not a mobile number",
    63024: "invalid WhatsApp recipient",
}
WINDOW_CLOSED_CODE = 63016  # WhatsApp: free-form message outside the 24-hour session window


@dataclass(frozen=True)
class TwilioConfig:
    """Twilio settings (from KETPAAR_TWILIO_* and KETPAAR_PUBLIC_URL)."""

    account_sid: str
    auth_token: str
    api_base: str | None = None  # e.g. a local fake; None means the real *.twilio.com hosts
    whatsapp_from: str = ""  # "whatsapp:+14155238886"
    sms_from: str = ""  # "+1…" or a Messaging Service SID "MG…"
    public_url: str = ""  # how Twilio reaches us: webhook signatures and media links use it
    whatsapp_template_sid: str | None = None  # approved "{{1}}" template for outside the window
    fallback_to_sms: bool = True
    data_dir: Path | None = None  # keeps the Content API sids across restarts
    webhook_signing_key: str | None = None  # only if Twilio signs with a SharedKey (HMAC-SHA256)

    @property
    def enabled(self) -> bool:
        """True when credentials are configured."""
        return bool(self.account_sid and self.auth_token)

    @staticmethod
    def from_settings(settings: Any) -> TwilioConfig:
        """Read the KETPAAR_TWILIO_* settings (missing ones mean 'not configured')."""
        def text(name: str) -> str:
            return str(getattr(settings, name, None) or "")

        return TwilioConfig(
            account_sid=text("twilio_account_sid"), auth_token=text("twilio_auth_token"),
            api_base=text("twilio_api_base") or None, whatsapp_from=text("twilio_whatsapp_from"),
            sms_from=text("twilio_sms_from"), public_url=text("public_url"),
            whatsapp_template_sid=text("twilio_whatsapp_template_sid") or None,
            fallback_to_sms=bool(getattr(settings, "twilio_fallback_to_sms", True)),
            data_dir=getattr(settings, "data_dir", None),
        )  # fmt: skip

    def rebase(self, url: str) -> str:
        """Point a *.twilio.com URL at api_base when one is configured (tests, relays)."""
        if not self.api_base:
            return url
        parts = urlsplit(url)
        if not (parts.hostname or "").endswith("twilio.com"):
            return url
        return self.api_base.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")

    def trusted_media_host(self, url: str) -> bool:
        """Only Twilio's hosts (or the configured api_base) receive our credentials."""
        host = urlsplit(url).hostname or ""
        base_host = urlsplit(self.api_base).hostname if self.api_base else None
        twilio = host == "twilio.com" or host.endswith(".twilio.com")
        return twilio or (base_host is not None and host == base_host)

    @property
    def local_base(self) -> bool:
        """api_base is a loopback address (a test fake): never route it through a proxy."""
        host = urlsplit(self.api_base).hostname if self.api_base else None
        if not host:
            return False
        try:
            return host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


class _RebasedHttpClient(TwilioHttpClient):  # type: ignore[misc]  # the SDK ships no types
    """The SDK's own HTTP client, with every *.twilio.com URL sent to the configured base."""

    def __init__(self, config: TwilioConfig) -> None:
        super().__init__(timeout=HTTP_TIMEOUT_S)
        self.config = config
        if self.session is not None and config.local_base:
            self.session.trust_env = False

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        return super().request(method, self.config.rebase(url), *args, **kwargs)


def make_client(config: TwilioConfig) -> Client:
    """The official SDK client, talking to api_base when one is set."""
    if config.api_base:
        http_client: TwilioHttpClient = _RebasedHttpClient(config)
    else:
        http_client = TwilioHttpClient(timeout=HTTP_TIMEOUT_S)
    return Client(config.account_sid, config.auth_token, http_client=http_client)


class TwilioClient:
    """The Twilio SDK client of a channel, created on first use (tests pass their own)."""

    config: TwilioConfig
    _client: Client | None

    @property
    def client(self) -> Client:
        """The SDK client, created on first use."""
        if self._client is None:
            self._client = make_client(self.config)
        return self._client


def error_code(exc: BaseException) -> int | None:
    """The Twilio error code of an SDK exception, if any."""
    code = getattr(exc, "code", None)
    return int(code) if isinstance(code, int) else None


def send_failure(exc: Exception) -> SendResult:
    """Map an SDK or network error onto retry / give up."""
    if isinstance(exc, TwilioRestException | TwilioServiceException):
        status, code = int(exc.status), error_code(exc)
        said = getattr(exc, "msg", None) or getattr(exc, "detail", None) or exc.__class__.__name__
        text = f"twilio {status} code {code}: {said}"
        if status == 429 or code == 20429:
            return SendResult(ok=False, error=f"rate limited, {text}")
        if status >= 500:
            return SendResult(ok=False, error=text)
        if code in PERMANENT_CODES:
            return SendResult(ok=False, permanent_error=f"{PERMANENT_CODES[code]} ({text})")
        if status in (401, 403) or code == 20003:
            # Wrong credentials are ours to fix: keep the message waiting rather than drop it.
            return SendResult(ok=False, error=f"authentication failed (KETPAAR_TWILIO_*): {text}")
        return SendResult(ok=False, permanent_error=text)  # other 4xx: the request itself is wrong
    if isinstance(exc, requests.RequestException | OSError | TwilioException):
        return SendResult(ok=False, error=f"{type(exc).__name__}: {exc}")
    raise exc


def to_number(address: str) -> str:
    """A phone number without the channel prefix: "whatsapp:+9198…" → "+9198…"."""
    return address.removeprefix(WHATSAPP_PREFIX)


# Signed, expiring links to photos, so Twilio can fetch a photo we send on WhatsApp.
def sign_media(secret: bytes, photo_id: str, expires: int) -> str:
    """HMAC binding a media link to one photo and an expiry time."""
    return hmac.new(secret, f"media:{photo_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def media_link(secret: bytes, public_url: str, photo_id: str, now: float | None = None) -> str:
    """The absolute URL Twilio fetches a photo from: {public_url}/media/{id}?exp=&sig=."""
    expires = int((now or time.time()) + MEDIA_LINK_TTL_S)
    sig = sign_media(secret, photo_id, expires)
    return f"{public_url.rstrip('/')}/media/{photo_id}?exp={expires}&sig={sig}"


def media_link_valid(
    secret: bytes, photo_id: str, expires: int, sig: str, now: float | None = None
) -> bool:
    """Check a media link's signature and expiry."""
    if expires < (now or time.time()):
        return False
    return hmac.compare_digest(sign_media(secret, photo_id, expires), sig)


class MediaError(Exception):
    """A photo attached to an inbound message could not be downloaded."""


async def fetch_media(config: TwilioConfig, url: str, max_bytes: int) -> bytes:
    """Download an inbound MediaUrl with HTTP basic auth (account sid : auth token)."""
    url = config.rebase(url)
    if not config.trusted_media_host(url):
        raise MediaError(f"not a Twilio media URL: {url}")
    auth = (config.account_sid, config.auth_token)
    # Twilio answers with a redirect to its CDN; httpx drops the credentials on the other host.
    options: dict[str, Any] = {"timeout": 10.0, "follow_redirects": True}
    async with httpx.AsyncClient(trust_env=not config.local_base, **options) as http:
        try:
            async with http.stream("GET", url, auth=auth) as response:
                if response.status_code != 200:
                    raise MediaError(f"media download answered {response.status_code}")
                data = bytearray()
                async for chunk in response.aiter_bytes():
                    data += chunk
                    if len(data) > max_bytes:
                        raise MediaError("media larger than the photo limit")
                return bytes(data)
        except httpx.HTTPError as exc:
            raise MediaError(f"media download failed: {exc}") from exc


class InboundWindow:
    """When each WhatsApp address last wrote to us, kept in this process's memory.

    Limitation: forgotten on restart and not shared between processes (then messages go by the
    template or SMS fallback until the person writes again). Prefer a `last_inbound_at` read from
    the inbox table."""

    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        self._now = now or (lambda: datetime.now(UTC))
        self._last: dict[str, datetime] = {}

    def note(self, address: str, at: datetime | None = None) -> None:
        """Remember an inbound message from an address."""
        self._last[address] = at or self._now()

    def __call__(self, address: str) -> datetime | None:
        """The time of the address's last inbound message, if known."""
        return self._last.get(address)

"""One-time download links for a person's data: signed, expiring, single use, and on the web chat
bound to the session's address (another person's session cannot open them)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

DATA_LINK_TTL_S = 30 * 60
PUSHED, WEB = "p", "w"  # a link sent to a phone or chat app (bearer), or bound to a web-chat address
_TOKEN = re.compile(r"^([0-9]{1,12})\.([0-9]{1,12})\.([0-9a-f]{16})\.([pw])\.([A-Za-z0-9_-]{22})$")


@dataclass(frozen=True)
class DataLink:
    """What a valid token names: whose data, and the nonce that is spent when it is used."""

    person_id: int
    nonce: str


def _sig(secret: bytes, person_id: int, expires: int, nonce: str, kind: str, address: str) -> str:
    # The purpose prefix keeps these signatures apart from every other HMAC made with the key.
    msg = f"mydata|{person_id}|{expires}|{nonce}|{kind}|{address}".encode()
    return base64.urlsafe_b64encode(hmac.new(secret, msg, hashlib.sha256).digest()[:16]).rstrip(b"=").decode()


def data_link_token(secret: bytes, person_id: int, now: float, web_address: str | None = None) -> str:
    """A token for one download of a person's data within 30 minutes (bound to a web-chat
    address when given)."""
    expires, nonce = int(now) + DATA_LINK_TTL_S, secrets.token_hex(8)
    kind = WEB if web_address is not None else PUSHED
    return f"{person_id}.{expires}.{nonce}.{kind}.{_sig(secret, person_id, expires, nonce, kind, web_address or '')}"


def read_data_link(secret: bytes, token: str, now: float, web_address: str | None) -> DataLink | None:
    """The link a token names if it is well signed, unexpired and (for a web-chat link) presented
    by that web-chat address; None otherwise. Spending the nonce is the caller's job."""
    match = _TOKEN.fullmatch(token) if len(token) <= 128 else None
    if match is None:
        return None
    pid, expires, nonce, kind, sig = match.groups()
    if kind == WEB and web_address is None:
        return None
    expected = _sig(secret, int(pid), int(expires), nonce, kind, (web_address or "") if kind == WEB else "")
    if not hmac.compare_digest(expected, sig) or int(expires) < now:
        return None
    return DataLink(int(pid), nonce)

"""Web chat channel: JSON or form posts in, polled JSON messages out, signed photo links."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import re
import time
from typing import Any

from flows.messages import Outbound

CHANNEL = "webchat"
USER_ID = re.compile(r"^[A-Za-z0-9_.@+-]{1,64}$")
MAX_TEXT = 4000
LINK_TTL_S = 24 * 3600


class WebchatInputError(ValueError):
    """A request the web chat cannot accept; the message is shown to the client as-is."""


def valid_user(user: str) -> bool:
    """Web-chat addresses are short, URL-safe names."""
    return bool(USER_ID.fullmatch(user))


def parse_json(body: Any) -> dict[str, Any]:
    """Turn {"text"}, {"button"} or {"location": {"lat", "lng"}} into a neutral payload."""
    if not isinstance(body, dict):
        raise WebchatInputError('send a JSON object: {"text": ...}, {"button": ...} or {"location": {"lat": ..., "lng": ...}}')
    present = [k for k in ("text", "button", "location") if k in body]
    if len(present) != 1:
        raise WebchatInputError('send exactly one of "text", "button" or "location"')
    key = present[0]
    if key == "text":
        text = body["text"]
        if not isinstance(text, str) or not text.strip():
            raise WebchatInputError('"text" must be a non-empty string')
        if len(text) > MAX_TEXT:
            raise WebchatInputError(f'"text" is longer than {MAX_TEXT} characters')
        return {"kind": "text", "text": text}
    if key == "button":
        payload = body["button"]
        if not isinstance(payload, str) or not 0 < len(payload) <= 128:
            raise WebchatInputError('"button" must be the payload string of a button')
        return {"kind": "choice", "choice": payload}
    loc = body["location"]
    shape = '"location" must be {"lat": number, "lng": number}'
    if not isinstance(loc, dict) or "lat" not in loc or "lng" not in loc:
        raise WebchatInputError(shape)
    if any(isinstance(loc[k], bool) or not isinstance(loc[k], int | float | str) for k in ("lat", "lng")):
        raise WebchatInputError(shape)  # JSON true is not the number 1
    try:
        lat, lng = float(loc["lat"]), float(loc["lng"])
    except ValueError:
        raise WebchatInputError(shape) from None
    except OverflowError:  # an integer literal with hundreds of digits
        raise WebchatInputError("latitude and longitude must be finite numbers") from None
    if not (math.isfinite(lat) and math.isfinite(lng)):
        raise WebchatInputError("latitude and longitude must be finite numbers")
    # Impossible coordinates are still stored and answered politely by the flow.
    return {"kind": "location", "lat": lat, "lng": lng}


def session_source(secret: bytes, host: str) -> str:
    """Where a session is opened, as an opaque tag: a keyed hash of the client's network (its IPv4
    address, or its IPv6 /64, which one household or host holds), never the address itself."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        network = host  # not an address (a test client, a unix socket): the name as it is
    else:
        ip = getattr(ip, "ipv4_mapped", None) or ip
        network = str(ipaddress.ip_network(f"{ip}/64", strict=False)) if ip.version == 6 else str(ip)
    return "ip:" + hmac.new(secret, f"session-source:{network}".encode(), hashlib.sha256).hexdigest()[:32]


def sign_photo(secret: bytes, binding: str, photo_id: str, expires: int) -> str:
    """HMAC binding a photo link to one session (or one demo user) and an expiry time."""
    msg = f"{binding}:{photo_id}:{expires}".encode()
    return hmac.new(secret, msg, hashlib.sha256).hexdigest()


def photo_link(secret: bytes, binding: str, base: str, photo_id: str, now: float | None = None) -> str:
    """A signed, expiring URL under `base` for a photo shown to the holder of `binding`."""
    expires = int((now or time.time()) + LINK_TTL_S)
    return f"{base}/photos/{photo_id}?exp={expires}&sig={sign_photo(secret, binding, photo_id, expires)}"


def link_valid(secret: bytes, binding: str, photo_id: str, expires: int, sig: str, now: float | None = None) -> bool:
    """Check a photo link's signature and expiry for the caller's binding."""
    if expires < (now or time.time()) or len(sig) != 64:
        return False
    return hmac.compare_digest(sign_photo(secret, binding, photo_id, expires), sig)


def render(secret: bytes, binding: str, base: str, message_id: int, payload: dict[str, Any]) -> dict[str, Any]:
    """One outbox message as the web chat client receives it (photo links bound to the caller)."""
    message = Outbound.from_payload(payload)
    return {
        "id": message_id,
        "text": message.text,
        "buttons": [{"label": c.label, "payload": c.payload} for c in message.choices],
        "image_url": photo_link(secret, binding, base, message.photo_id) if message.photo_id else None,
        "location": message.meta.get("location"),
    }

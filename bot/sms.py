"""SMS channel (Twilio): numbered options as text, locations typed or linked, segment-aware."""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

from twilio.rest import Client

from bot.channel import SendResult
from bot.twilio_common import TwilioClient, TwilioConfig, send_failure, to_number
from flows.i18n import translator
from flows.messages import Outbound, numbered

CHANNEL = "sms"
MAX_BODY = 1600  # Twilio refuses longer bodies


def _(message: str) -> str:
    """Marker for pybabel extract; the lookup happens in phrase()."""
    return message


# Channel chrome, kept short because every SMS segment costs money (the Tamil SMS variants,
# shorter still, are in locales/ta/LC_MESSAGES/ketpaar_sms.po).
REPLY_INLINE = _("Reply {options}.")
REPLY_ITEM = _("{number} for {label}")
REPLY_LIST = _("Reply with a number.")
NO_PHOTO = _("(Photo not available by SMS.)")
CHOOSE = _("Choose")  # the WhatsApp list picker's button (at most 20 characters)

# Characters outside GSM-7 that would force the whole English message into UCS-2 (70 a part).
_GSM_SUBSTITUTES = str.maketrans({
    "₹": "Rs.", "—": "-", "–": "-", "·": "-", "•": "-", "‘": "'", "’": "'", "“": '"', "”": '"',
    "…": "...", "\u00a0": " ", "×": "x", "\t": " ",
})  # fmt: skip
_TAMIL = re.compile(r"[\u0B80-\u0BFF]")
INLINE_MAX_CHOICES, INLINE_MAX_LABEL = 3, 16


def phrase(language: str, message: str, channel: str = CHANNEL) -> str:
    """A chrome phrase in a language, in the channel's variant where the catalogs have one."""
    return translator(language, channel)(message)


def language_of(message: Outbound) -> str:
    """The message's language: meta["lang"] if set, else Tamil when its text is in Tamil script."""
    lang = message.meta.get("lang")
    if isinstance(lang, str):
        return lang
    return "ta" if _TAMIL.search(message.text) else "en"


def gsm_safe(text: str) -> str:
    """Replace typographic characters with GSM-7 ones (₹ → Rs.) so English stays 160/153."""
    return text.translate(_GSM_SUBSTITUTES)


def numbered_options(options: Sequence[tuple[int, str]], language: str, channel: str = CHANNEL) -> str:
    """ "Reply 1 for Accept, 2 for Reject." for a few short labels, else a numbered list; the
    numbers are the options' own (unique among the person's open prompts, not always 1..n)."""
    if len(options) <= INLINE_MAX_CHOICES and all(len(label) <= INLINE_MAX_LABEL for _n, label in options):
        item = phrase(language, REPLY_ITEM, channel)
        listed = ", ".join(item.format(number=n, label=label) for n, label in options)
        return phrase(language, REPLY_INLINE, channel).format(options=listed)
    lines = [f"{n} {label}" for n, label in options]
    return "\n".join([*lines, phrase(language, REPLY_LIST, channel)])


def render_text(message: Outbound, language: str, *, photo_note: bool, channel: str = CHANNEL) -> str:
    """Text, then the buttons' (else a poll's) numbered options, then a note for a dropped photo."""
    parts = [message.text.strip()]
    if message.poll is not None and not message.choices:  # buttons, when given, carry the prompt's numbers
        parts.append(message.poll.question)
        parts.append(numbered_options(list(enumerate(message.poll.options, 1)), language, channel))
    elif message.choices:
        parts.append(numbered_options(numbered(message.choices), language, channel))
    if photo_note and message.photo_id:
        parts.append(phrase(language, NO_PHOTO, channel))
    return "\n".join(p for p in parts if p)


def render_sms(message: Outbound, language: str) -> str:
    """One outbound message as an SMS body."""
    body = render_text(message, language, photo_note=True)
    if language != "ta":  # Tamil is UCS-2 anyway; keep its ₹
        body = gsm_safe(body)
    return body if len(body) <= MAX_BODY else body[: MAX_BODY - 3] + "..."


# Locations: typed coordinates or a Google / OpenStreetMap link.
_NUM = r"[-+]?[0-9]{1,3}\.[0-9]+"  # ASCII digits only: other scripts' digits are no coordinates
_PLAIN = re.compile(
    rf"^\s*({_NUM})\s*°?\s*([NS])?\s*(?:,\s*|\s+)({_NUM})\s*°?\s*([EW])?\s*$", re.IGNORECASE
)
_LINKS = (
    re.compile(rf"[?&](?:q|query|ll|destination|daddr|center)=(?:loc:)?({_NUM})\s*,\s*({_NUM})"),
    re.compile(rf"@({_NUM}),({_NUM})(?:,|$|/|\?)"),
    re.compile(rf"/place/({_NUM}),\s*({_NUM})"),
    re.compile(rf"!3d({_NUM})!4d({_NUM})"),
    re.compile(rf"#map=\d+(?:\.\d+)?/({_NUM})/({_NUM})"),
    re.compile(rf"\bgeo:({_NUM}),({_NUM})"),
)
_MLAT = re.compile(rf"[?&]mlat=({_NUM})")
_MLON = re.compile(rf"[?&]mlon=({_NUM})")


def _valid(lat: float, lng: float) -> tuple[float, float] | None:
    if math.isfinite(lat) and math.isfinite(lng) and -90 <= lat <= 90 and -180 <= lng <= 180:
        return lat, lng
    return None


def parse_sms_location(text: str) -> tuple[float, float] | None:
    """(lat, lng) from "13.0827, 80.2707", "13.0827 80.2707" or a maps link; None otherwise."""
    if match := _PLAIN.match(text):
        lat, ns, lng, ew = match.groups()
        return _valid(-float(lat) if (ns or "").upper() == "S" else float(lat),
                      -float(lng) if (ew or "").upper() == "W" else float(lng))  # fmt: skip
    decoded = unquote(text)
    if (mlat := _MLAT.search(decoded)) and (mlon := _MLON.search(decoded)):
        return _valid(float(mlat.group(1)), float(mlon.group(1)))
    for pattern in _LINKS:
        if match := pattern.search(decoded):
            return _valid(float(match.group(1)), float(match.group(2)))
    return None


def sms_payload(body: str) -> dict[str, Any]:
    """An inbound SMS body as a neutral payload: a location when it reads as one, else text."""
    if (location := parse_sms_location(body)) is not None:
        return {"kind": "location", "lat": location[0], "lng": location[1]}
    return {"kind": "text", "text": body}


class SmsChannel(TwilioClient):
    """Sends SMS through the official Twilio SDK (run in a thread: the SDK is synchronous)."""

    code = CHANNEL

    def __init__(self, config: TwilioConfig, client: Client | None = None) -> None:
        self.config = config
        self._client = client

    async def send(self, address: str, message: Outbound, *, outbox_id: int) -> SendResult:
        """Render and send one message; provider errors are reported, never raised."""
        return await self.send_body(address, render_sms(message, language_of(message)))

    async def send_body(self, address: str, body: str) -> SendResult:
        """Send a ready SMS body to a number (a "whatsapp:" prefix is dropped)."""
        sender = self.config.sms_from
        origin = {"messaging_service_sid": sender} if sender.startswith("MG") else {"from_": sender}
        create = self.client.messages.create
        try:
            sent = await asyncio.to_thread(create, to=to_number(address), body=body, **origin)
        except Exception as exc:  # noqa: BLE001 - provider errors are mapped, bugs re-raised
            return send_failure(exc)
        return SendResult(ok=True, provider_message_id=sent.sid)

"""WhatsApp channel (Twilio): quick replies, list pickers, photos, and the 24-hour window."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from twilio.rest import Client
from twilio.rest.content.v1.content import ContentList

from bot.channel import SendResult
from bot.documents import is_csv
from bot.sms import CHOOSE, SmsChannel, language_of, phrase, render_text
from bot.twilio_common import (
    WHATSAPP_PREFIX,
    WINDOW_CLOSED_CODE,
    TwilioClient,
    TwilioConfig,
    error_code,
    media_link,
    send_failure,
)
from flows.messages import Choice, Outbound

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"
SESSION_WINDOW = timedelta(hours=24)
MAX_BUTTONS, MAX_LIST = 3, 10
BUTTON_TITLE_MAX, LIST_ITEM_MAX, LIST_DESCRIPTION_MAX = 20, 24, 72
BODY_MAX, TEMPLATE_VARIABLE_MAX, TEXT_MAX = 1024, 1000, 1600
SMS_NOTE = "outside 24h window, sent by SMS"
TEMPLATE_NOTE = "outside 24h window, sent as template"
WAITING_NOTE = "outside the 24-hour WhatsApp window; waiting for the person to write"
CONTENT_CACHE_FILE = "twilio-content.json"

LastInbound = Callable[[str], "datetime | None | Awaitable[datetime | None]"]


def whatsapp_payload(form: Mapping[str, Any]) -> dict[str, Any]:
    """A Twilio WhatsApp webhook form as a neutral payload (photo bytes are fetched separately)."""
    extra = {"display_name": form["ProfileName"]} if form.get("ProfileName") else {}
    if form.get("ButtonPayload"):  # a quick-reply button
        return {"kind": "choice", "choice": str(form["ButtonPayload"]), **extra}
    if form.get("ListId"):  # a list-picker row
        return {"kind": "choice", "choice": str(form["ListId"]), **extra}
    if form.get("Latitude") and form.get("Longitude"):
        try:
            lat, lng = float(form["Latitude"]), float(form["Longitude"])
        except ValueError:
            pass
        else:
            if math.isfinite(lat) and math.isfinite(lng):  # "nan" or 400 digits is no place
                return {"kind": "location", "lat": lat, "lng": lng, **extra}
    if image_url(form):
        return {"kind": "photo", "text": str(form.get("Body") or ""), **extra}
    if attached_document(form):
        return {"kind": "document", "text": str(form.get("Body") or ""), **extra}
    return {"kind": "text", "text": str(form.get("Body") or ""), **extra}


def image_url(form: Mapping[str, Any]) -> str | None:
    """The first attached image's MediaUrl, if the message carries one."""
    try:
        count = int(form.get("NumMedia") or 0)
    except ValueError:
        return None
    for i in range(count):
        kind, url = form.get(f"MediaContentType{i}") or "image/", form.get(f"MediaUrl{i}")
        if str(kind).startswith("image/") and url:
            return str(url)
    return None


def attached_document(form: Mapping[str, Any]) -> tuple[str, bool] | None:
    """The first attached document's MediaUrl and whether it says it is CSV (a statement), if the
    message carries one: another file (a PDF, a spreadsheet) is refused politely by the flows;
    voice notes and videos are not documents."""
    try:
        count = int(form.get("NumMedia") or 0)
    except ValueError:
        return None
    for i in range(count):
        kind, url = str(form.get(f"MediaContentType{i}") or ""), form.get(f"MediaUrl{i}")
        if url and (is_csv(kind, None) or kind.startswith("application/")):
            return str(url), is_csv(kind, None)
    return None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _var(n: int) -> str:
    return "{{" + str(n) + "}}"


def interactive_layout(choices: tuple[Choice, ...]) -> tuple[dict[str, Any], dict[str, str]] | None:
    """Content API types (with {{n}} placeholders) and their variables; None: numbered text.

    Everything that changes between messages is a variable, so a handful of contents (one per
    kind and number of options) serve every message."""
    if not choices or len(choices) > MAX_LIST:
        return None
    variables: dict[str, str] = {}
    if len(choices) <= MAX_BUTTONS and all(len(c.label) <= BUTTON_TITLE_MAX for c in choices):
        actions = []
        for i, c in enumerate(choices):  # {{1}} body; then title, id per button
            n = 2 * i + 2
            actions.append({"title": _var(n), "id": _var(n + 1)})
            variables |= {str(n): c.label, str(n + 1): c.payload}
        return {"twilio/quick-reply": {"body": "{{1}}", "actions": actions}}, variables
    described = any(len(c.label) > LIST_ITEM_MAX for c in choices)  # rows then show full labels
    width = 3 if described else 2
    items = []
    for i, c in enumerate(choices):  # {{1}} body, {{2}} button; then item, id (, description)
        n = width * i + 3
        items.append({"item": _var(n), "id": _var(n + 1)})
        variables |= {str(n): _clip(c.label, LIST_ITEM_MAX), str(n + 1): c.payload}
        if described:
            items[-1]["description"] = _var(n + 2)
            variables[str(n + 2)] = _clip(c.label, LIST_DESCRIPTION_MAX)
    return {"twilio/list-picker": {"body": "{{1}}", "button": "{{2}}", "items": items}}, variables


def _json(variables: dict[str, str]) -> str:
    """Content variables as Twilio wants them: a JSON object, in {{n}} order."""
    return json.dumps({k: variables[k] for k in sorted(variables, key=int)}, ensure_ascii=False)


def _placeholders(types: dict[str, Any]) -> int:
    """How many {{n}} variables a layout uses."""
    return len(set(re.findall(r"\{\{(\d+)\}\}", json.dumps(types))))


class WhatsAppChannel(TwilioClient):
    """Sends WhatsApp messages through the official Twilio SDK and the Content API."""

    code = CHANNEL

    def __init__(
        self,
        config: TwilioConfig,
        *,
        secret: bytes,
        last_inbound_at: LastInbound,
        sms: SmsChannel | None = None,
        now: Callable[[], datetime] | None = None,
        client: Client | None = None,
    ) -> None:
        self.config, self.secret, self.last_inbound_at = config, secret, last_inbound_at
        self.sms = sms if sms is not None else (SmsChannel(config) if config.sms_from else None)
        self.now = now or (lambda: datetime.now(UTC))
        self._client = client
        self._content: dict[str, str] = self._load_cache()
        self._content_lock = asyncio.Lock()

    async def send(self, address: str, message: Outbound, *, outbox_id: int) -> SendResult:
        """Deliver inside the 24-hour window; outside it by template, SMS, or wait."""
        if not await self._window_open(address):
            return await self._outside_window(address, message, outbox_id)
        try:
            result = await self._send_session(address, message)
        except Exception as exc:  # noqa: BLE001 - provider errors are mapped, bugs re-raised
            if error_code(exc) == WINDOW_CLOSED_CODE:  # Twilio knows better than our records
                return await self._outside_window(address, message, outbox_id)
            return send_failure(exc)
        return result

    async def _window_open(self, address: str) -> bool:
        last = self.last_inbound_at(address)
        if inspect.isawaitable(last):
            last = await last
        return last is not None and self.now() - last < SESSION_WINDOW

    async def _create(self, address: str, **fields: Any) -> str:
        to = address if address.startswith(WHATSAPP_PREFIX) else WHATSAPP_PREFIX + address
        sender = self.config.whatsapp_from
        if sender.startswith("MG"):  # a Messaging Service
            origin = {"messaging_service_sid": sender}
        else:
            origin = {"from_": WHATSAPP_PREFIX + sender.removeprefix(WHATSAPP_PREFIX)}
        sent = await asyncio.to_thread(self.client.messages.create, to=to, **origin, **fields)
        return str(sent.sid)

    async def _send_session(self, address: str, message: Outbound) -> SendResult:
        """Free-form: photo by media link; buttons or list by Content API; else numbered text."""
        language = language_of(message)
        photo = None
        if message.photo_id:
            photo = [media_link(self.secret, self.config.public_url, message.photo_id)]
        # A poll goes as its buttons (quick replies Yes / No / Abstain) when it has them.
        layout = interactive_layout(message.choices) if message.poll is None or message.choices else None
        if layout is None:
            body = _clip(render_text(message, language, photo_note=False, channel=CHANNEL), TEXT_MAX)
            sid = await self._create(address, body=body, media_url=photo)
            return SendResult(ok=True, provider_message_id=sid)
        if photo:  # a photo cannot ride on an interactive message: send it just before
            await self._create(address, media_url=photo)
        types, variables = layout
        variables |= {"1": _clip(message.text, BODY_MAX)}
        if "twilio/list-picker" in types:
            variables["2"] = _clip(phrase(language, CHOOSE, CHANNEL), BUTTON_TITLE_MAX)
        sid = await self._create(address, content_sid=await self._content_sid(types),
                                 content_variables=_json(variables))  # fmt: skip
        return SendResult(ok=True, provider_message_id=sid)

    async def _outside_window(self, address: str, message: Outbound, outbox_id: int) -> SendResult:
        """The person has not written for 24 hours: approved template, else SMS, else wait."""
        template = self.config.whatsapp_template_sid
        if template:  # an approved "{{1}}" template; template variables cannot hold newlines
            lines = render_text(message, language_of(message), photo_note=False, channel=CHANNEL).splitlines()
            text = _clip(" · ".join(line for line in lines if line.strip()), TEMPLATE_VARIABLE_MAX)
            try:
                variables = _json({"1": text})
                sid = await self._create(address, content_sid=template, content_variables=variables)
            except Exception as exc:  # noqa: BLE001 - provider errors are mapped, bugs re-raised
                return send_failure(exc)
            return SendResult(ok=True, provider_message_id=sid, error=TEMPLATE_NOTE)
        if self.config.fallback_to_sms and self.sms is not None:
            number = address.removeprefix(WHATSAPP_PREFIX)
            result = await self.sms.send(number, message, outbox_id=outbox_id)
            if result.ok:
                return replace(result, error=SMS_NOTE)
            error, permanent = result.error, result.permanent_error
            return replace(result, error=error and f"{SMS_NOTE}: {error}",
                           permanent_error=permanent and f"{SMS_NOTE}: {permanent}")  # fmt: skip
        # No retry_after: each try counts, so a person who never writes again ends in the
        # visible `failed` list (retryable) rather than waiting unseen forever.
        return SendResult(ok=False, error=WAITING_NOTE)

    # Content API: one content per layout, created once, remembered in memory and on disk.
    async def _content_sid(self, types: dict[str, Any]) -> str:
        key = hashlib.sha256(json.dumps(types, sort_keys=True).encode()).hexdigest()[:24]
        async with self._content_lock:
            if key not in self._content:
                # Sample values only: no personal data is kept in Twilio's content definitions.
                samples = {str(n): "-" for n in range(1, _placeholders(types) + 1)}
                definition = {"friendly_name": f"ketpaar_{key}", "language": "en"}
                request = ContentList.ContentCreateRequest(
                    {**definition, "variables": samples, "types": types}
                )
                created = await asyncio.to_thread(self.client.content.v1.contents.create, request)
                self._content[key] = str(created.sid)
                self._save_cache()
            return self._content[key]

    def _load_cache(self) -> dict[str, str]:
        path = self.config.data_dir / CONTENT_CACHE_FILE if self.config.data_dir else None
        if path is None or not path.is_file():
            return {}
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            log.warning("ignoring an unreadable %s", path)
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _save_cache(self) -> None:
        if self.config.data_dir is None:
            return
        path = self.config.data_dir / CONTENT_CACHE_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._content, sort_keys=True))
        tmp.replace(path)

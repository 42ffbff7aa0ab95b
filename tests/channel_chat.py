"""A transcript driver for every channel: web chat, Telegram, WhatsApp and SMS.

`ChannelChat.run` reads the same transcripts as `tests.chat.Chat` — `user > text|[photo]|
[location a, b]|[tap Label]|[press payload-prefix]` and `user < expected text [Button]`, as
strictly (each `<` is the user's next message; nobody in the cast may have one left unread at the
end of a run) — but each user lives on a channel of their own. What a user sends goes in as that channel's inbound webhook
(a Telegram update with the secret header; a Twilio form with a real X-Twilio-Signature), and what
they receive is read where the provider would show it: the web-chat API, the fake Bot API's
sendMessage/sendPhoto calls (inline keyboards), or the fake Twilio's Messages.create calls
(quick replies and list pickers through the Content API, numbered text for SMS).

`[tap Label]` becomes the channel's own action: a web-chat button payload, a Telegram
callback_query, a WhatsApp ButtonPayload or ListId, or — on SMS and in numbered text — the option's
number typed as a reply (numbers are unique among the person's open prompts).

The app runs in-process with the real python-telegram-bot and Twilio SDKs talking to local fakes;
the outbox sender is not started: `settle()` delivers everything deterministically after each step.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from twilio.request_validator import RequestValidator

from bot.rate_limit import ChatRateLimiter
from core.adapters.sql.uow import Store
from core.ledger.service import record_deposit
from core.members.registration import apply_restaurant, apply_worker
from core.seekers.screening import PassThroughScreener
from tests.chat import Transcript, make_photo
from tests.clock import FixedClock
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from webhooks.demo import CHENNAI, DONOR, DONOR_DEPOSIT, RESTAURANTS, WORKERS

CHANNELS = ("webchat", "telegram", "whatsapp", "sms")
PUBLIC_URL = "http://test"
TELEGRAM_SECRET = "channel-chat-secret"
WA_FROM, SMS_FROM = "whatsapp:+14155238886", "+15005550006"
JPEG = b"\xff\xd8"
PNG = b"\x89PNG\r\n\x1a\n"

# The SMS channel writes typographic characters the GSM-7 way (₹ → "Rs."), so expectations are
# compared after the same substitutions on both sides.
_SMS_SAFE = str.maketrans({"₹": "Rs.", "—": "-", "–": "-", "·": "-", "…": "..."})
_NO_PHOTO_BY_SMS = "(Photo not available by SMS.)"


class VirtualTime:
    """A clock for the Telegram rate limiter that moves when it sleeps: sends stay paced (about
    one a second per chat) without the test waiting a real second for each message."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


class NotPossibleOnChannel(AssertionError):
    """The transcript asks a user to do what their channel cannot carry (a photo by SMS)."""


@dataclass(frozen=True)
class User:
    """A transcript name on one channel, at that channel's kind of address."""

    name: str
    channel: str
    address: str


def address_for(name: str, channel: str) -> str:
    """A per-channel address for a transcript name: the name itself on the web chat, a numeric
    chat id on Telegram, an Indian mobile number on WhatsApp ("whatsapp:+91…") and SMS."""
    if channel == "webchat":
        return name
    role, _, n = name.rpartition("-")
    number = {"donor": 1, "rest": 2, "worker": 3, "admin": 9}[role] * 1000 + int(n or 0)
    if channel == "telegram":
        return str(70_000 + number)
    phone = f"+9198400{number:05d}"
    return f"whatsapp:{phone}" if channel == "whatsapp" else phone


def users_on(channels: Mapping[str, str] | str) -> dict[str, User]:
    """The demo's cast (donor-1, rest-1/2, worker-1/2/3), each on the channel given (one
    channel for everybody, or a name → channel map with a "*" default)."""
    names = [DONOR, *(r[0] for r in RESTAURANTS), *(w[0] for w in WORKERS)]
    on = {n: channels if isinstance(channels, str) else channels.get(n, channels["*"]) for n in names}
    return {n: User(n, on[n], address_for(n, on[n])) for n in names}


async def seed_users(store: Store, users: Mapping[str, User]) -> None:
    """What webhooks.demo.seed_demo creates, with each person on their own channel and address:
    two approved restaurants with menus, three online workers, a donor with ₹1,000; the admin
    who records the deposit is webchat:admin."""
    lat, lng = CHENNAI
    async with store.uow() as uow:
        admin = await uow.people.get_or_create("webchat", "admin")  # an admin by KETPAAR_ADMINS
        await uow.people.set_name(admin.id, "Admin")
        for name, title, street, dlat, dlng, menu in RESTAURANTS:
            user = users[name]
            owner = await uow.people.get_or_create(user.channel, user.address)
            await uow.people.set_name(owner.id, title)
            await uow.people.set_flags(owner.id, is_member=True)
            await apply_restaurant(uow, owner, name=title, lat=lat + dlat, lng=lng + dlng, address=street, menu=menu,
                                   daily_capacity=20, approved=True)  # fmt: skip
        for name, title in WORKERS:
            user = users[name]
            person = await uow.people.get_or_create(user.channel, user.address)
            await uow.people.set_name(person.id, title)
            await uow.people.set_flags(person.id, is_member=True)
            await apply_worker(uow, person, name=title, lat=lat, lng=lng, approved=True, online=True)
        user = users[DONOR]
        donor = await uow.people.get_or_create(user.channel, user.address)
        await uow.people.set_name(donor.id, "Demo donor")
        await record_deposit(uow, donor.id, DONOR_DEPOSIT, "demo-seed", admin.actor, "demo deposit")


class RecordingTwilio(FakeTwilio):
    """The fake Twilio, also remembering each created content's sid → types (the fake answers
    with the sid but does not record it), so a WhatsApp message sent by ContentSid can be read
    back as the quick reply or list picker the person sees."""

    def __init__(self) -> None:
        super().__init__()
        self.content_types: dict[str, dict[str, Any]] = {}

    def _app(self) -> Any:
        inner = super()._app()

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http" or scope["path"] != "/v1/Content":
                return await inner(scope, receive, send)
            body: list[bytes] = []

            async def capture(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.body":
                    body.append(message.get("body", b""))
                await send(message)

            await inner(scope, receive, capture)
            answer = json.loads(b"".join(body) or b"{}")
            if "sid" in answer:
                self.content_types[answer["sid"]] = answer["types"]

        return app


@dataclass(frozen=True)
class Button:
    """One option as the person sees it, and how their channel answers it."""

    label: str
    kind: str  # "payload" (web chat), "callback" / "poll" (Telegram), "quick" / "list" (WhatsApp), "number" (typed)
    value: str  # the payload, callback data, id, or the number to type
    message_id: int | None = None  # Telegram: the message the keyboard is on


@dataclass
class Seen:
    """One message as received on the person's channel."""

    text: str
    buttons: list[Button] = field(default_factory=list)
    photo: bytes | str | None = None  # bytes, or a link the app serves


@dataclass
class Inbox:
    """What one user has received: all of it, and what is not yet matched."""

    count: int = 0  # web chat: the API cursor; other channels: how many provider calls were read
    unread: list[Seen] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)


class ChannelChat(Transcript):
    """Plays a transcript with every user on their own channel (see the module docstring); at the
    end of each run nobody in the cast may have an unread message."""

    def __init__(self, client: httpx.AsyncClient, runtime: Any, users: Mapping[str, User], *,
                 telegram: FakeTelegram | None = None, twilio: RecordingTwilio | None = None) -> None:  # fmt: skip
        super().__init__()
        self.client, self.runtime, self.users = client, runtime, dict(users)
        self.telegram, self.twilio = telegram, twilio
        self.inboxes: dict[str, Inbox] = {}
        self._ids = itertools.count(1)

    # ---- the transcript -------------------------------------------------------------------
    def cast(self) -> list[str]:
        """Everybody on the channels, whether or not the transcript names them."""
        return list(self.users)

    def user(self, name: str) -> User:
        """The transcript name's channel and address."""
        assert name in self.users, f"{name!r} is not in the cast {sorted(self.users)}"
        return self.users[name]

    async def settle(self) -> None:
        """Run the flows for everything received, then deliver the whole outbox."""
        await self.runtime.processor.drain()
        if self.telegram is not None:
            from webhooks.telegram_routes import _Background

            await asyncio.gather(*list(_Background.tasks))  # answerCallbackQuery
        if self.runtime.outbox is not None:
            while await self.runtime.outbox.run_once():
                pass

    async def open_whatsapp_windows(self) -> None:
        """Each WhatsApp user writes once ("help"), as members do: free-form and interactive
        messages are allowed only within 24 hours of the person's last message (outside it
        they would go by SMS). The answers are read and set aside."""
        for name, user in self.users.items():
            if user.channel == "whatsapp":
                await self.send(name, "help")
                (await self.fetch(name)).unread.clear()

    # ---- sending --------------------------------------------------------------------------
    async def send(self, name: str, what: str) -> None:
        """Send text, a photo, a location or a button tap as the user, on their channel."""
        user = self.user(name)
        if what.startswith("[photo"):
            await self._photo(user)
        elif what.startswith("[location"):
            lat, lng = (float(x) for x in what[len("[location") : -1].split(","))
            await self._location(user, lat, lng)
        elif what.startswith("[press "):  # by payload: not on SMS, which shows numbers only
            prefix = what[7:-1]
            button = await self._find(name, lambda b: b.kind != "number" and b.value.startswith(prefix),
                                      f"button with payload {prefix!r}")  # fmt: skip
            await self._tap(user, button)
        elif what.startswith("[tap "):
            label = self._norm(user, what[5:-1])
            button = await self._find(name, lambda b: self._norm(user, b.label).startswith(label),
                                      f"button starting {what[5:-1]!r}")  # fmt: skip
            await self._tap(user, button)
        else:
            await self._text(user, what)
        await self.settle()

    async def _text(self, user: User, text: str) -> None:
        if user.channel == "webchat":
            await self._webchat(user, json={"text": text})
        elif user.channel == "telegram":
            await self._telegram(self._tg_message(user, text=text))
        else:
            await self._twilio(user, Body=text)

    async def _photo(self, user: User) -> None:
        if user.channel == "webchat":
            response = await self.client.post(f"/webchat/{user.address}/messages",
                                              files={"photo": ("p.jpg", make_photo(), "image/jpeg")})  # fmt: skip
            assert response.status_code == 202, response.text
        elif user.channel == "telegram":
            assert self.telegram is not None
            file_id = f"photo-{next(self._ids)}"
            self.telegram.add_file(file_id, make_photo())
            sizes = [{"file_id": file_id, "file_unique_id": file_id, "width": 320, "height": 240}]
            await self._telegram(self._tg_message(user, photo=sizes))
        elif user.channel == "whatsapp":
            assert self.twilio is not None
            url = self.twilio.add_media(make_photo())
            await self._twilio(user, Body="", NumMedia="1", MediaUrl0=url, MediaContentType0="image/jpeg")
        else:
            raise NotPossibleOnChannel(f"{user.name} is on SMS, which cannot carry a photo")

    async def _location(self, user: User, lat: float, lng: float) -> None:
        if user.channel == "webchat":
            await self._webchat(user, json={"location": {"lat": lat, "lng": lng}})
        elif user.channel == "telegram":
            await self._telegram(self._tg_message(user, location={"latitude": lat, "longitude": lng}))
        elif user.channel == "whatsapp":
            await self._twilio(user, Body="", Latitude=str(lat), Longitude=str(lng))
        else:
            await self._twilio(user, Body=f"{lat}, {lng}")  # typed, as the flows ask SMS users to

    async def _tap(self, user: User, button: Button) -> None:
        if button.kind == "number":
            await self._text(user, button.value)
        elif button.kind == "payload":
            await self._webchat(user, json={"button": button.value})
        elif button.kind == "callback":
            update_id = next(self._ids)
            who = self._tg_from(user)
            await self._telegram({"update_id": update_id, "callback_query": {
                "id": f"cbq-{update_id}", "chat_instance": "ci", "data": button.value, "from": who,
                "message": {"message_id": button.message_id, "date": 1_790_000_000,
                            "chat": {"id": int(user.address), "type": "private"}, "text": "…"}}})  # fmt: skip
        elif button.kind == "poll":
            assert self.telegram is not None
            poll_id, index = button.value.rsplit(":", 1)
            await self._telegram(self.telegram.answer_poll(next(self._ids), poll_id, self._tg_from(user), [int(index)]))
        elif button.kind == "quick":
            await self._twilio(user, Body=button.label, ButtonText=button.label, ButtonPayload=button.value)
        elif button.kind == "list":
            await self._twilio(user, Body=button.label, ListTitle=button.label, ListId=button.value)
        else:
            raise AssertionError(f"unknown button kind {button.kind!r}")

    async def _webchat(self, user: User, **body: Any) -> None:
        response = await self.client.post(f"/webchat/{user.address}/messages", **body)
        assert response.status_code == 202, response.text

    def _tg_from(self, user: User) -> dict[str, Any]:
        return {"id": int(user.address), "is_bot": False, "first_name": user.name, "language_code": "en"}

    def _tg_message(self, user: User, **content: Any) -> dict[str, Any]:
        update_id = next(self._ids)
        message = {"message_id": update_id, "date": 1_790_000_000, "from": self._tg_from(user),
                   "chat": {"id": int(user.address), "type": "private", "first_name": user.name}, **content}  # fmt: skip
        return {"update_id": update_id, "message": message}

    async def _telegram(self, update: dict[str, Any]) -> None:
        from webhooks.telegram_routes import SECRET_HEADER

        headers = {SECRET_HEADER: TELEGRAM_SECRET}
        response = await self.client.post("/webhooks/telegram", json=update, headers=headers)
        body = response.json()  # stored; a tap is answered in the reply itself (Telegram runs the method)
        assert response.status_code == 200 and (body.get("ok") or body.get("method") == "answerCallbackQuery"), response.text

    async def _twilio(self, user: User, **fields: str) -> None:
        """A signed Twilio webhook form, as Twilio posts it (signature over public_url + path)."""
        channel = user.channel
        path = f"/webhooks/twilio/{channel}"
        form = {"MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": ACCOUNT_SID, "From": user.address,
                "To": WA_FROM if channel == "whatsapp" else SMS_FROM, **fields}  # fmt: skip
        if channel == "whatsapp":
            form.setdefault("NumMedia", "0")
            form["ProfileName"] = user.name
        signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_URL + path, form)
        response = await self.client.post(path, data=form, headers={"X-Twilio-Signature": signature})
        assert response.status_code == 200 and response.text.endswith("<Response/>"), response.text

    # ---- receiving ------------------------------------------------------------------------
    async def fetch(self, name: str) -> Inbox:
        """Pull the user's new messages from where their channel delivered them."""
        user, box = self.user(name), self.inboxes.setdefault(name, Inbox())
        if user.channel == "webchat":
            response = await self.client.get(f"/webchat/{user.address}/messages", params={"after": box.count})
            body = response.json()
            new = [Seen(m["text"], [Button(b["label"], "payload", b["payload"]) for b in m["buttons"]],
                        m["image_url"]) for m in body["messages"]]  # fmt: skip
            box.count = body["cursor"]
        else:
            everything = self._telegram_seen(user) if user.channel == "telegram" else self._twilio_seen(user)
            new, box.count = everything[box.count :], len(everything)
        box.unread.extend(new)
        box.seen.extend(new)
        return box

    def _telegram_seen(self, user: User) -> list[Seen]:
        """Every message the bot sent to the chat; a sendLocation belongs to the message before it."""
        assert self.telegram is not None
        seen: list[Seen] = []
        for call in self.telegram.delivered():
            if str(call.params.get("chat_id")) != user.address:
                continue
            if call.method == "sendLocation" and seen:
                continue  # the seeker's pin after "Job #… is yours"; the text carries the coordinates too
            text = str(call.params.get("text") or call.params.get("caption") or call.params.get("question") or "")
            keyboard = (call.params.get("reply_markup") or {}).get("inline_keyboard") or []
            message_id = (call.result or {}).get("message_id")
            buttons = [Button(b["text"], "callback", b["callback_data"], message_id) for row in keyboard for b in row]
            if call.method == "sendPoll":  # a native poll: its options are answered with poll_answer updates
                poll_id = str(((call.result or {}).get("poll") or {}).get("id"))
                options = [o if isinstance(o, str) else o["text"] for o in call.params.get("options") or []]
                buttons = [Button(o, "poll", f"{poll_id}:{i}", message_id) for i, o in enumerate(options)]
            if not buttons:
                buttons = _numbered(text)
            seen.append(Seen(text, buttons, call.file if call.method == "sendPhoto" else None))
        return seen

    def _twilio_seen(self, user: User) -> list[Seen]:
        """Every Messages.create to the address. On WhatsApp a photo sent just before an
        interactive message is shown with it; a content message is read through its content's
        types (quick reply or list picker) and variables; plain bodies may hold numbered options."""
        assert self.twilio is not None
        seen: list[Seen] = []
        photo: str | None = None
        for call in self.twilio.messages:
            if call.one("To") != user.address:
                continue
            media = (call.form.get("MediaUrl") or [None])[0]
            sid = call.one("ContentSid")
            if sid is None and not call.one("Body") and media:
                photo = media  # a photo that cannot ride on the interactive message after it
                continue
            if sid is not None:
                variables = json.loads(call.one("ContentVariables") or "{}")
                text, buttons = _content(self.twilio.content_types[sid], variables)
            else:
                text = call.one("Body") or ""
                buttons = _numbered(text)
            if user.channel == "sms" and _NO_PHOTO_BY_SMS in text:
                media = _NO_PHOTO_BY_SMS
            seen.append(Seen(text, buttons, media or photo))
            photo = None
        return seen

    async def _find(self, name: str, wanted: Callable[[Button], bool], what: str) -> Button:
        """The newest matching button. A number typed on SMS (or in numbered text) names one
        option among all the person's open prompts, so it is valid until a newer message shows
        the same number for something else (its prompt was closed and the number reused)."""
        box = await self.fetch(name)
        for index in range(len(box.seen) - 1, -1, -1):
            for button in box.seen[index].buttons:
                if not wanted(button):
                    continue
                if button.kind == "number":
                    reused = [b.label for m in box.seen[index + 1 :] for b in m.buttons if b.value == button.value]
                    assert not reused, (f"{name} would type {button.value} for {button.label!r}, "
                                        f"but that number now answers {reused[-1]!r}")  # fmt: skip
                return button
        raise AssertionError(f"{name} has no {what}; saw {[m.text for m in box.seen[-5:]]}")

    def fits(self, user: str, message: Any, text: str, buttons: list[str]) -> bool:
        """The text is in the message and each named button starts a label (SMS: compared the
        GSM-7 way on both sides)."""
        who = self.user(user)
        labels = [self._norm(who, b.label) for b in message.buttons]
        wanted = [self._norm(who, b) for b in buttons if b != "photo"]
        return self._norm(who, text) in self._norm(who, message.text) and all(
            any(lab.startswith(b) for lab in labels) for b in wanted
        )

    def show(self, user: str, message: Any) -> str:
        """The text as the channel delivered it, its options and whether a photo rides along."""
        extras = [b.label for b in message.buttons] + (["photo"] if message.photo else [])
        return f"({self.user(user).channel}) {message.text!r}" + "".join(f" [{e}]" for e in extras)

    async def check_photo(self, user: str, message: Any) -> None:
        """The photo really reaches the person: uploaded JPEG bytes, or a link the app serves."""
        assert message.photo, f"expected a photo with {message.text!r}"
        if self.user(user).channel == "sms":
            assert message.photo == _NO_PHOTO_BY_SMS  # SMS says so instead of showing it
            return
        data = message.photo
        if isinstance(data, str):
            served = await self.client.get(data)
            assert served.status_code == 200, (data, served.text)
            data = served.content
        # Photos are re-encoded JPEG; a UPI top-up's QR code is PNG.
        assert data.startswith((JPEG, PNG)), f"the photo with {message.text!r} is not a JPEG or PNG"

    @staticmethod
    def _norm(user: User, text: str) -> str:
        return text.translate(_SMS_SAFE) if user.channel == "sms" else text


_INLINE = re.compile(r"^Reply (.+)\.$")
_INLINE_ITEM = re.compile(r"(\d+) for (.+?)(?=, \d+ for |$)")
_LIST_ITEM = re.compile(r"^(\d+)\.? (.+)$")


def _numbered(text: str) -> list[Button]:
    """Options written into the text: "Reply 1 for Accept, 2 for Reject." or "1 Label" lines
    ended by "Reply with a number." (SMS, WhatsApp beyond ten options), or "1. Label" lines at
    the end (Telegram, when a payload is too long for a button). English chrome only."""
    lines = [line for line in text.splitlines() if line != _NO_PHOTO_BY_SMS]
    if lines and (inline := _INLINE.match(lines[-1])) and lines[-1] != "Reply with a number.":
        return [Button(label, "number", n) for n, label in _INLINE_ITEM.findall(inline.group(1))]
    if lines and lines[-1] == "Reply with a number.":
        lines = lines[:-1]
    items: list[Button] = []
    for line in reversed(lines):
        if not (match := _LIST_ITEM.match(line)):
            break
        items.insert(0, Button(match.group(2), "number", match.group(1)))
    # Numbered options are consecutive (one prompt's numbers), though not always from 1.
    consecutive = all(int(b.value) == int(items[0].value) + i for i, b in enumerate(items))
    return items if items and consecutive else []


def _content(types: dict[str, Any], variables: dict[str, str]) -> tuple[str, list[Button]]:
    """A Content API message as WhatsApp shows it: the body, and the buttons or list rows."""
    def fill(template: str) -> str:
        return re.sub(r"\{\{(\d+)\}\}", lambda m: variables[m.group(1)], template)

    if "twilio/quick-reply" in types:
        layout = types["twilio/quick-reply"]
        return fill(layout["body"]), [Button(fill(a["title"]), "quick", fill(a["id"])) for a in layout["actions"]]
    if "twilio/list-picker" in types:
        layout = types["twilio/list-picker"]
        return fill(layout["body"]), [Button(fill(i["item"]), "list", fill(i["id"])) for i in layout["items"]]
    raise AssertionError(f"unexpected content types {sorted(types)}")


@asynccontextmanager
async def channel_app(db_path: Path | str, data_dir: Path, users: Mapping[str, User], *,
                      telegram: FakeTelegram | None = None, twilio: RecordingTwilio | None = None,
                      clock: Any = None, screener: Any = None,
                      settings: Mapping[str, Any] | None = None) -> AsyncIterator[dict[str, Any]]:  # fmt: skip
    """Start the app in-process with Telegram and/or Twilio configured against the fakes, the cast
    seeded on their channels and the outbox delivered by `ChannelChat.settle` (no sender task).
    Seekers are not screened unless a screener is given (the transcripts are about channels)."""
    from webhooks.app import create_app
    from webhooks.settings import Settings

    clock = clock or FixedClock(datetime(2026, 11, 23, 6, 30, tzinfo=UTC))  # noon IST
    url = db_path if isinstance(db_path, str) else f"sqlite:///{db_path}"
    providers: dict[str, Any] = {}
    if telegram is not None:
        providers |= {"telegram_bot_token": TOKEN, "telegram_secret_token": TELEGRAM_SECRET,
                      "telegram_api_base": telegram.url}  # fmt: skip
    if twilio is not None:
        providers |= {"twilio_account_sid": ACCOUNT_SID, "twilio_auth_token": AUTH_TOKEN,
                      "twilio_api_base": twilio.base_url, "twilio_whatsapp_from": WA_FROM,
                      "twilio_sms_from": SMS_FROM}  # fmt: skip
    overrides = {**providers, **(settings or {})}
    config = Settings(database_url=url, data_dir=data_dir, scheduler=False, secret_key="test-secret",
                      public_url=PUBLIC_URL, outbox_sender=False, **overrides)  # fmt: skip
    app = create_app(config, clock=clock, screener=screener or PassThroughScreener())
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        await seed_users(runtime.store, users)
        if runtime.telegram is not None:
            virtual = VirtualTime()
            runtime.telegram.limiter = ChatRateLimiter(clock=virtual.clock, sleep=virtual.sleep)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            chat = ChannelChat(client, runtime, users, telegram=telegram, twilio=twilio)
            await chat.open_whatsapp_windows()
            yield {"app": app, "runtime": runtime, "client": client, "clock": clock, "chat": chat}


# The web wording of the shared transcripts, as SMS says it (ketpaar_sms.po: SMS has nothing to tap).
SMS_WORDING = {
    "Tap Ready when it is packed.": "When it is packed, reply Ready.",
    "When the person has the meal, tap Delivered.": "When the person has the meal, reply Delivered.",
}


def on_sms(transcript: str) -> str:
    """A web-chat transcript with the lines SMS words differently rewritten as SMS says them."""
    for web, sms in SMS_WORDING.items():
        transcript = transcript.replace(web, sms)
    return transcript

"""Telegram channel: neutral messages to Bot API calls (python-telegram-bot), updates back."""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Literal, NamedTuple

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from bot.channel import SendResult
from bot.documents import is_csv
from bot.rate_limit import ChatRateLimiter
from core.ports import Store
from core.seekers.photos import MAX_BYTES, LocalPhotoStore
from flows.messages import Choice, Outbound, numbered

log = logging.getLogger(__name__)

CODE = "telegram"
DEFAULT_API_BASE = "https://api.telegram.org"
MAX_TEXT = 4096  # Bot API limits
MAX_CAPTION = 1024
MAX_CALLBACK_BYTES = 64
LANGUAGES = ("ta", "en")
MAX_PROGRESS = 10_000


@dataclass(frozen=True)
class Part:
    """One Bot API call of a neutral message (a long text or a photo with buttons needs several)."""

    kind: Literal["text", "photo", "poll", "location"]
    text: str = ""
    keyboard: InlineKeyboardMarkup | None = None
    photo: bytes | None = None
    options: tuple[str, ...] = ()
    lat: float = 0.0
    lng: float = 0.0
    main: bool = False  # the part whose id is kept (to edit it, or to match a poll's answers)


class TelegramChannel:
    """Sends outbox messages through one bot, within Telegram's rate limits."""

    code = CODE

    def __init__(self, token: str, *, secret_token: str = "", api_base: str = DEFAULT_API_BASE,
                 photos: LocalPhotoStore | None = None, limiter: ChatRateLimiter | None = None,
                 connections: int = 64) -> None:  # fmt: skip
        base = api_base.rstrip("/")
        self._requests = (HTTPXRequest(connection_pool_size=connections, read_timeout=15, pool_timeout=10),
                          HTTPXRequest(connection_pool_size=2))  # fmt: skip
        self.bot = Bot(token, base_url=f"{base}/bot", base_file_url=f"{base}/file/bot",
                       request=self._requests[0], get_updates_request=self._requests[1])  # fmt: skip
        self.secret_token, self.photos = secret_token, photos
        self.limiter = limiter or ChatRateLimiter()
        # Parts already delivered of a message whose later part failed, so a retry by this
        # process resumes instead of repeating them (a crash forgets this: at-least-once).
        self._progress: dict[int, list[Message]] = {}

    @classmethod
    def from_settings(cls, settings: Any, photos: LocalPhotoStore | None = None) -> TelegramChannel:
        """Build from KETPAAR_TELEGRAM_BOT_TOKEN, _SECRET_TOKEN and _API_BASE."""
        return cls(settings.telegram_bot_token, secret_token=settings.telegram_secret_token or "",
                   api_base=settings.telegram_api_base or DEFAULT_API_BASE, photos=photos)  # fmt: skip

    async def start(self) -> None:
        """Open connections and check the token (getMe)."""
        await self.bot.initialize()

    async def close(self) -> None:
        """Close connections (also when `start` was never called: Bot.shutdown skips that case)."""
        await self.bot.shutdown()
        await asyncio.gather(*(r.shutdown() for r in self._requests))

    async def send(self, address: str, message: Outbound, *, outbox_id: int) -> SendResult:
        """Deliver one message; report provider errors instead of raising them."""
        parts = await self.render(message)
        if outbox_id not in self._progress and len(self._progress) >= MAX_PROGRESS:
            del self._progress[next(iter(self._progress))]  # rows given up on long ago
        done = self._progress.setdefault(outbox_id, [])
        try:
            for part in parts[len(done):]:
                await self.limiter.acquire(address)
                done.append(await self._send_part(address, part))
        except RetryAfter as exc:
            seconds = retry_seconds(exc)
            self.limiter.retry_after(seconds, address)
            return SendResult(ok=False, retry_after=seconds, error=str(exc))
        except (Forbidden, BadRequest, ChatMigrated) as exc:  # blocked, chat gone, message refused
            self._progress.pop(outbox_id, None)
            return SendResult(ok=False, permanent_error=f"{type(exc).__name__}: {exc}")
        except TelegramError as exc:  # network, timeout (maybe delivered: at-least-once), 5xx, bad token
            return SendResult(ok=False, error=f"{type(exc).__name__}: {exc}")
        self._progress.pop(outbox_id, None)
        return SendResult(ok=True, provider_message_id=_provider_id(parts, done))

    async def edit(self, address: str, provider_message_id: str, message: Outbound) -> SendResult:
        """Replace the text (and buttons) of a message sent before, e.g. a campaign's progress.

        A message that cannot be edited any more (deleted by the person, too old) is a permanent
        error: the caller sends a new one instead. "Not modified" (the same text) counts as done."""
        text, keyboard = _buttons(message.text, message.choices)
        text = split_text(text, MAX_TEXT)[0]
        try:
            message_id = int(provider_message_id.split("/")[0])
            await self.limiter.acquire(address)
            await self.bot.edit_message_text(text, chat_id=address, message_id=message_id, reply_markup=keyboard)
        except ValueError:
            return SendResult(ok=False, permanent_error=f"not a message id: {provider_message_id!r}")
        except RetryAfter as exc:
            seconds = retry_seconds(exc)
            self.limiter.retry_after(seconds, address)
            return SendResult(ok=False, retry_after=seconds, error=str(exc))
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return SendResult(ok=True, provider_message_id=provider_message_id)
            return SendResult(ok=False, permanent_error=f"BadRequest: {exc}")
        except (Forbidden, ChatMigrated) as exc:
            return SendResult(ok=False, permanent_error=f"{type(exc).__name__}: {exc}")
        except TelegramError as exc:
            return SendResult(ok=False, error=f"{type(exc).__name__}: {exc}")
        return SendResult(ok=True, provider_message_id=provider_message_id)

    async def render(self, message: Outbound) -> list[Part]:
        """Split a neutral message into Bot API calls, by Telegram's capabilities and limits."""
        # A poll carries its own options: the same answers as buttons would only say it twice.
        text, keyboard = _buttons(message.text, () if message.poll else message.choices)
        photo = await self.photos.get(message.photo_id) if message.photo_id and self.photos else None
        if message.photo_id and photo is None:
            log.warning("photo %s is gone; sending the text alone", message.photo_id)
        parts: list[Part] = []
        if photo is not None:
            caption, text = split_text(text, MAX_CAPTION)
            parts.append(Part("photo", caption, photo=photo))
        while text.strip():
            chunk, text = split_text(text, MAX_TEXT)
            parts.append(Part("text", chunk))
        if message.poll:
            parts.append(Part("poll", message.poll.question[:300], options=tuple(o[:100] for o in message.poll.options)))
        if not parts:
            parts.append(Part("text", "…"))  # buttons or a location need a message to hang on
        main = len(parts) - 1
        parts[main] = replace(parts[main], keyboard=keyboard, main=True)
        location = message.meta.get("location")
        if location:
            parts.append(Part("location", lat=float(location[0]), lng=float(location[1])))
        return parts

    async def _send_part(self, chat: str, part: Part) -> Message:
        if part.kind == "photo" and part.photo is not None:
            return await self.bot.send_photo(chat, part.photo, caption=part.text or None, reply_markup=part.keyboard)
        if part.kind == "poll":
            return await self.bot.send_poll(chat, part.text, list(part.options), is_anonymous=False,
                                            reply_markup=part.keyboard)  # fmt: skip
        if part.kind == "location":
            return await self.bot.send_location(chat, latitude=part.lat, longitude=part.lng)
        return await self.bot.send_message(chat, part.text, reply_markup=part.keyboard)


def split_text(text: str, limit: int) -> tuple[str, str]:
    """Cut off the longest head within `limit` (Telegram counts UTF-16 units, so an emoji is 2),
    at a line or word break when one is near the end; return (head, rest). Nothing is lost."""
    units = 0
    for i, char in enumerate(text):  # noqa: B007 (i, where the loop stopped, is the cut point)
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            break
    else:
        return text, ""
    breaks = max(text.rfind("\n", 0, i), text.rfind(" ", 0, i))
    cut = breaks + 1 if breaks >= i * 0.8 else i
    return text[:cut], text[cut:]


def _buttons(text: str, choices: tuple[Choice, ...]) -> tuple[str, InlineKeyboardMarkup | None]:
    """One inline button per row; if a payload does not fit Telegram's 64 bytes, numbered lines
    instead, with each option's own number (the flows map a typed number onto its prompt)."""
    if not choices:
        return text, None
    if all(0 < len(c.payload.encode()) <= MAX_CALLBACK_BYTES for c in choices):
        return text, InlineKeyboardMarkup([[InlineKeyboardButton(c.label, callback_data=c.payload)] for c in choices])
    lines = "\n".join(f"{n}. {label}" for n, label in numbered(choices))
    return f"{text}\n\n{lines}", None


def _provider_id(parts: list[Part], sent: list[Message]) -> str | None:
    """The main part's message id, plus the poll's id for polls ("812/poll/5000")."""
    for part, message in zip(parts, sent, strict=True):
        if part.main:
            poll = f"/poll/{message.poll.id}" if message.poll else ""
            return f"{message.message_id}{poll}"
    return None


def retry_seconds(exc: RetryAfter) -> float:
    """`retry_after` in seconds (PTB 22 warns when it is read as an int; accept both forms)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class Parsed(NamedTuple):
    """An update in neutral form, ready for InboxProcessor.receive."""

    provider_id: str
    address: str
    payload: dict[str, Any]
    photo_file_id: str | None = None
    callback_query_id: str | None = None  # to answer after storing (stops the button's spinner)


def parse_update(data: dict[str, Any], bot: Bot) -> Parsed | None:
    """Turn a Telegram update into a neutral inbound message; None for updates we ignore.

    The provider id joins update_id with the message's own identity: Telegram restarts
    update_ids at random after a week without updates, so update_id alone could collide with
    an old one, while a redelivery of the same update still gets the same id."""
    update = Update.de_json(data, bot)
    if update.callback_query is not None:
        query = update.callback_query
        chat = query.message.chat if query.message is not None else None
        if (chat is not None and chat.type != "private") or not query.data:
            return None
        return Parsed(f"{update.update_id}:cb:{query.id}", str(query.from_user.id),
                      {"kind": "choice", "choice": query.data, **_who(query.from_user)}, None, query.id)  # fmt: skip
    if update.poll_answer is not None:
        answer = update.poll_answer
        if answer.user is None:
            return None  # an anonymous vote: it cannot count as a member's
        return Parsed(f"{update.update_id}:poll:{answer.poll_id}:{answer.user.id}", str(answer.user.id),
                      {"kind": "poll_answer", "poll_id": answer.poll_id, "poll_options": list(answer.option_ids),
                       **_who(answer.user)})  # fmt: skip
    message = update.message
    if message is None or message.chat.type != "private":
        return None  # edits, channel posts, groups, membership changes
    provider_id, who = f"{update.update_id}:{message.chat.id}:{message.message_id}", _who(message.from_user)
    if message.photo:
        largest = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        return Parsed(provider_id, str(message.chat.id), {"kind": "photo", "text": message.caption or "", **who}, largest.file_id)
    document = message.document
    if document is not None and (document.mime_type or "").startswith("image/"):
        return Parsed(provider_id, str(message.chat.id), {"kind": "photo", "text": message.caption or "", **who}, document.file_id)
    if document is not None and is_csv(document.mime_type, document.file_name):
        # A bank statement a treasurer sends (the flows refuse it from anyone else).
        return Parsed(provider_id, str(message.chat.id), {"kind": "document", "text": message.caption or "", **who}, document.file_id)
    if message.location is not None:
        loc = message.location
        return Parsed(provider_id, str(message.chat.id), {"kind": "location", "lat": loc.latitude, "lng": loc.longitude, **who})
    # Stickers, voice notes, contacts: empty text, so the flows answer instead of staying silent.
    return Parsed(provider_id, str(message.chat.id), {"kind": "text", "text": message.text or "", **who})


def _who(user: Any) -> dict[str, Any]:
    if user is None:
        return {}
    code = (user.language_code or "").split("-", 1)[0].lower()
    return {"language_hint": code if code in LANGUAGES else None, "display_name": user.full_name}


async def download_photo(bot: Bot, file_id: str, max_bytes: int = MAX_BYTES) -> bytes:
    """Fetch a photo (getFile, then the file URL); too big → b"" (the flows ask for another)."""
    file = await bot.get_file(file_id)
    if file.file_size and file.file_size > max_bytes:
        return b""
    return bytes(await file.download_as_bytearray())


async def edit_job_messages(store: Store, channel: TelegramChannel | Bot, order_id: int,
                            text: str | Callable[[str], str], *, exclude: Collection[str] = ()) -> int:  # fmt: skip
    """Edit every delivered offer of a job (meta {"job": order_id}) to `text`, without buttons.

    `text` may be a function of the worker's chat id (to word it in their language). Returns how
    many messages were edited; failures (a message deleted by the worker) are logged."""
    async with store.reader() as uow:
        rows = [r for r in await uow.outbox.sent_with_meta(CODE, "job", order_id)
                if r.provider_message_id and r.address not in exclude]  # fmt: skip
    bot, limiter = (channel.bot, channel.limiter) if isinstance(channel, TelegramChannel) else (channel, None)

    async def edit(chat: str, message_id: int) -> bool:
        for _attempt in range(3):
            try:
                if limiter is not None:
                    await limiter.acquire(chat)
                await bot.edit_message_text(text(chat) if callable(text) else text, chat_id=chat, message_id=message_id)
                return True
            except RetryAfter as exc:
                if limiter is None:
                    await asyncio.sleep(retry_seconds(exc))
                else:
                    limiter.retry_after(retry_seconds(exc), chat)  # the next acquire waits it out
            except TelegramError as exc:  # e.g. the worker deleted the message
                log.warning("job %s: could not edit the offer sent to %s: %s", order_id, chat, exc)
                return False
        log.warning("job %s: flood control kept the offer to %s from being edited", order_id, chat)
        return False

    done = await asyncio.gather(*(edit(r.address, int(str(r.provider_message_id).split("/")[0])) for r in rows))
    return sum(done)


POLL_CLOSED = "poll has already been closed"  # Telegram's words when stopPoll is called twice


async def stop_polls(store: Store, channel: TelegramChannel | Bot, meta_key: str, meta_value: int) -> int:
    """Stop every native poll sent with meta {meta_key: meta_value}; return how many are stopped (see _stop_all)."""
    return sum(1 for outcome in await _stop_all(store, channel, meta_key, meta_value) if outcome == "stopped")


async def stop_pending_polls(store: Store, channel: TelegramChannel | Bot, proposal_ids: list[int] | None = None) -> int:
    """Stop the polls of closed proposals marked "stop pending" (those given, else every marked one,
    as the close job does after a crash between the close's commit and stopPoll); a proposal's mark
    is cleared once none of its polls is left to retry. Return how many proposals were finished."""
    if proposal_ids is None:
        async with store.reader() as uow:
            proposal_ids = await uow.governance.polls_stop_pending()
    finished = 0
    for proposal_id in proposal_ids:
        if "retry" in await _stop_all(store, channel, "proposal", proposal_id):
            continue  # Telegram not reached, or flood control: the next run of the close job tries again
        async with store.uow() as uow:
            await uow.governance.set_polls_stop_pending(proposal_id, False)
        finished += 1
    return finished


async def _stop_all(store: Store, channel: TelegramChannel | Bot, meta_key: str, meta_value: int) -> list[str]:
    """Stop every native poll sent with meta {meta_key: meta_value} (a closed proposal's polls), so
    members see it closed in Telegram; one outcome per poll: stopped (already stopped counts), gone
    (the chat deleted, the bot blocked: nothing to do) or retry (Telegram not reached, flood control).

    Safe to run again: a poll stopped before is "already closed" to Telegram, which counts as done.
    A poll that cannot be stopped (the chat deleted, the bot blocked) is logged, never fatal: a vote
    after close is refused by the flows anyway."""
    async with store.reader() as uow:
        rows = [r for r in await uow.outbox.sent_with_meta(CODE, meta_key, meta_value)
                if "/poll/" in str(r.provider_message_id or "")]  # fmt: skip
    bot, limiter = (channel.bot, channel.limiter) if isinstance(channel, TelegramChannel) else (channel, None)

    async def stop(chat: str, message_id: int) -> str:
        for _attempt in range(3):
            try:
                if limiter is not None:
                    await limiter.acquire(chat)
                await bot.stop_poll(chat, message_id)
                return "stopped"
            except RetryAfter as exc:
                if limiter is None:
                    await asyncio.sleep(retry_seconds(exc))
                else:
                    limiter.retry_after(retry_seconds(exc), chat)
            except BadRequest as exc:
                if POLL_CLOSED in str(exc).lower():
                    return "stopped"  # stopped before (the close job or this function ran twice)
                log.warning("%s %s: could not stop the poll sent to %s: %s", meta_key, meta_value, chat, exc)
                return "gone"
            except (NetworkError, TimedOut) as exc:  # Telegram not reached: worth trying again
                log.warning("%s %s: could not reach Telegram to stop the poll sent to %s: %s", meta_key, meta_value, chat, exc)
                return "retry"
            except TelegramError as exc:  # the chat is gone, the bot blocked
                log.warning("%s %s: could not stop the poll sent to %s: %s", meta_key, meta_value, chat, exc)
                return "gone"
        log.warning("%s %s: flood control kept the poll to %s from being stopped", meta_key, meta_value, chat)
        return "retry"

    return list(await asyncio.gather(*(stop(r.address, int(str(r.provider_message_id).split("/")[0])) for r in rows)))

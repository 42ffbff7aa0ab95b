"""A small fake of the Telegram Bot API on 127.0.0.1 that records every call.

It answers with complete objects (python-telegram-bot 22.8 insists on Bot API 9.6/10 fields such
as a poll's `allows_revoting` and `members_only`), can be told to fail a method (e.g. 429 with
`retry_after`), and can enforce Telegram's flood limits for benchmarks."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.local_server import LocalServer

TOKEN = "123456:TEST-token"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "Ketpaar", "username": "ketpaar_test_bot",
            "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False}  # fmt: skip
RAW_FIELDS = {"text", "caption", "question", "callback_query_id", "file_id", "url", "secret_token", "chat_id"}
SENDS = {"sendMessage", "sendPhoto", "sendPoll", "sendLocation"}
LIMITED = SENDS | {"editMessageText", "stopPoll"}  # what flood control counts


class Refused(Exception):
    """A method's own refusal (Telegram's 400s), answered with this status and description."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


@dataclass
class Call:
    """One request the fake received, and what it answered."""

    method: str
    params: dict[str, Any]
    status: int
    at: float
    file: bytes | None = None
    result: Any = None  # what the fake answered (e.g. the Message with its message_id)


@dataclass
class FloodRule:
    """A GCRA limit like Telegram's: `rate` per second with a `burst`, plus some slack."""

    rate: float
    burst: int = 1
    slack_s: float = 0.05  # network jitter between our sender and this fake
    tat: dict[str, float] = field(default_factory=dict)

    def allow(self, key: str, now: float) -> bool:
        interval, tolerance = 1 / self.rate, (self.burst - 1) / self.rate
        tat = max(self.tat.get(key, now), now)
        if tat - tolerance - self.slack_s > now:
            return False
        self.tat[key] = tat + interval
        return True


class FakeTelegram:
    """The fake server; use as a context manager (`with FakeTelegram() as tg:`)."""

    def __init__(self, token: str = TOKEN, *, enforce_limits: bool = False, latency_s: float = 0.0) -> None:
        self.token, self.latency_s = token, latency_s
        self.calls: list[Call] = []
        self.files: dict[str, tuple[str, bytes]] = {}
        self.updates: list[dict[str, Any]] = []
        self.blocked: set[str] = set()  # chats that blocked the bot (403)
        self.deleted_chats: set[str] = set()  # chats deleted by the user: any call about them is 400 "chat not found"
        self.edits: dict[tuple[str, int], str] = {}
        self.deleted: set[tuple[str, int]] = set()  # messages the user deleted: editing them fails (400)
        self.webhook: dict[str, Any] = {"url": ""}  # what setWebhook registered (getWebhookInfo answers it)
        self._failures: dict[str, deque[tuple[int, str, int | None]]] = defaultdict(deque)
        self._ids = itertools.count(1)
        self._polls = itertools.count(5000)
        self.polls: dict[str, dict[str, Any]] = {}  # poll id -> the poll as sent (chat, options, voters)
        self._lock = threading.Lock()
        self._limits = (FloodRule(30, 1), FloodRule(1, 3)) if enforce_limits else None
        self._http: LocalServer | None = None
        self.url = ""

    # ---- control from tests -------------------------------------------------------------
    def fail(self, method: str, status: int = 429, description: str = "Too Many Requests: retry after 1",
             retry_after: int | None = 1, times: int = 1) -> None:  # fmt: skip
        """Make the next `times` calls of `method` fail this way."""
        with self._lock:
            self._failures[method].extend([(status, description, retry_after)] * times)

    def add_file(self, file_id: str, data: bytes) -> None:
        """A file the bot can fetch with getFile and download."""
        self.files[file_id] = (f"photos/{file_id}.jpg", data)

    def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates."""
        with self._lock:
            self.updates.append(update)

    def answer_poll(self, update_id: int, poll_id: str, user: dict[str, Any], option_ids: list[int]) -> dict[str, Any]:
        """The poll_answer update Telegram sends when a user votes in a non-anonymous poll (an empty
        `option_ids` retracts the vote). Only polls the bot sent, with options they have, are answerable;
        the fake counts the user's current answer on the poll as Telegram does."""
        with self._lock:
            poll = self.polls[poll_id]
            assert not poll["is_closed"], "Telegram sends no answers for a stopped poll"
            assert not poll["is_anonymous"], "an anonymous poll sends no poll_answer updates"
            assert all(0 <= i < len(poll["options"]) for i in option_ids), f"poll {poll_id} has no option {option_ids}"
            poll["voters"][user["id"]] = list(option_ids)
        persistent = [poll["options"][i]["persistent_id"] for i in option_ids]
        return {"update_id": update_id, "poll_answer": {"poll_id": poll_id, "option_ids": list(option_ids),
                                                        "option_persistent_ids": persistent, "user": user}}  # fmt: skip

    def of(self, method: str, status: int = 200) -> list[Call]:
        """Calls of one method that got this status."""
        with self._lock:
            return [c for c in self.calls if c.method == method and c.status == status]

    def delivered(self) -> list[Call]:
        """Every message actually accepted (sendMessage/Photo/Poll/Location with 200)."""
        with self._lock:
            return [c for c in self.calls if c.method in SENDS and c.status == 200]

    def count_status(self, status: int) -> int:
        """How many calls were answered with this HTTP status."""
        with self._lock:
            return sum(1 for c in self.calls if c.status == status)

    # ---- lifecycle ----------------------------------------------------------------------
    def __enter__(self) -> FakeTelegram:
        self._http = LocalServer(self.app(), "Telegram", loop="asyncio")
        self.url = self._http.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._http is not None
        self._http.stop()

    # ---- the API ------------------------------------------------------------------------
    def app(self) -> FastAPI:
        """The ASGI app serving /bot<token>/<method> and /file/bot<token>/<path>."""
        app = FastAPI()

        @app.api_route("/bot{token}/{method}", methods=["GET", "POST"])
        async def api(token: str, method: str, request: Request) -> Response:
            params, upload = await _read_params(request)
            if self.latency_s:
                await asyncio.sleep(self.latency_s)
            if token != self.token:
                return self._answer(method, params, 401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            with self._lock:
                status, body = self._handle(method, params, upload)
            if method == "getUpdates" and not body["result"] and float(params.get("timeout") or 0) > 0:
                body = await self._long_poll(params)
            return self._answer(method, params, status, body, upload)

        @app.get("/file/bot{token}/{path:path}")
        async def download(token: str, path: str) -> Response:
            found = [data for p, data in self.files.values() if p == path]
            if token != self.token or not found:
                return Response(status_code=404)
            return Response(found[0], media_type="application/octet-stream")

        return app

    def _answer(self, method: str, params: dict[str, Any], status: int, body: dict[str, Any],
                upload: bytes | None = None) -> JSONResponse:  # fmt: skip
        with self._lock:
            self.calls.append(Call(method, params, status, time.monotonic(), upload, body.get("result")))
        return JSONResponse(body, status_code=status)

    def _handle(self, method: str, params: dict[str, Any], upload: bytes | None) -> tuple[int, dict[str, Any]]:
        if self._failures[method]:
            status, description, retry_after = self._failures[method].popleft()
            return status, _error(status, description, retry_after)
        chat = str(params.get("chat_id", ""))
        if method in SENDS and chat in self.blocked:
            return 403, _error(403, "Forbidden: bot was blocked by the user")
        if method in LIMITED and self._limits and not self._within_limits(chat):
            return 429, _error(429, "Too Many Requests: retry after 1", 1)
        if chat and chat in self.deleted_chats:
            return 400, _error(400, "Bad Request: chat not found")
        if method == "editMessageText" and (chat, int(params.get("message_id", 0))) in self.deleted:
            return 400, _error(400, "Bad Request: message to edit not found")
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return 404, _error(404, "Not Found: method not found")
        try:
            return 200, {"ok": True, "result": handler(params, upload)}
        except Refused as exc:
            return exc.status, _error(exc.status, exc.description)

    def _within_limits(self, chat: str) -> bool:
        assert self._limits is not None
        overall, per_chat = self._limits
        now = time.monotonic()
        return per_chat.allow(chat, now) and overall.allow("", now)

    async def _long_poll(self, params: dict[str, Any]) -> dict[str, Any]:
        deadline = time.monotonic() + float(params["timeout"])
        while time.monotonic() < deadline and not (self._http and self._http.stopping):
            await asyncio.sleep(0.02)
            with self._lock:
                result = self._m_getUpdates(params, None)
            if result:
                return {"ok": True, "result": result}
        return {"ok": True, "result": []}

    def _message(self, chat: str, **content: Any) -> dict[str, Any]:
        return {"message_id": next(self._ids), "date": int(time.time()), "from": BOT_USER,
                "chat": {"id": _int(chat), "type": "private"}, **content}  # fmt: skip

    def _m_getMe(self, params: dict[str, Any], upload: bytes | None) -> Any:
        return BOT_USER

    def _m_sendMessage(self, params: dict[str, Any], upload: bytes | None) -> Any:
        extra = {"reply_markup": params["reply_markup"]} if params.get("reply_markup") else {}
        return self._message(str(params["chat_id"]), text=params["text"], **extra)

    def _m_sendPhoto(self, params: dict[str, Any], upload: bytes | None) -> Any:
        photo = [{"file_id": f"sent-{next(self._ids)}", "file_unique_id": "u", "width": 320, "height": 240,
                  "file_size": len(upload or b"")}]  # fmt: skip
        extra = {"reply_markup": params["reply_markup"]} if params.get("reply_markup") else {}
        return self._message(str(params["chat_id"]), photo=photo, caption=params.get("caption", ""), **extra)

    def _m_sendPoll(self, params: dict[str, Any], upload: bytes | None) -> Any:
        options = [{"text": o if isinstance(o, str) else o["text"], "voter_count": 0, "persistent_id": str(i)}
                   for i, o in enumerate(params["options"])]  # fmt: skip
        poll = {"id": str(next(self._polls)), "question": params["question"], "options": options,
                "total_voter_count": 0, "is_closed": False, "is_anonymous": bool(params.get("is_anonymous", True)),
                "type": params.get("type", "regular"), "allows_multiple_answers": False,
                "allows_revoting": True, "members_only": False}  # fmt: skip
        message = self._message(str(params["chat_id"]), poll=poll)
        self.polls[poll["id"]] = {**poll, "chat_id": str(params["chat_id"]), "voters": {},  # under _lock (_handle)
                                  "message_id": message["message_id"]}  # fmt: skip
        return message

    def _m_stopPoll(self, params: dict[str, Any], upload: bytes | None) -> Any:
        """Close a poll the bot sent in that chat; Telegram refuses a second stop and an unknown message."""
        chat, message_id = str(params["chat_id"]), int(params["message_id"])
        found = [p for p in self.polls.values() if p["chat_id"] == chat and p["message_id"] == message_id]
        if not found:
            raise Refused(400, "Bad Request: message with poll to stop not found")
        poll = found[0]
        if poll["is_closed"]:
            raise Refused(400, "Bad Request: poll has already been closed")
        poll["is_closed"] = True
        options = [{**o, "voter_count": sum(1 for v in poll["voters"].values() if i in v)}
                   for i, o in enumerate(poll["options"])]  # fmt: skip
        shown = {k: v for k, v in poll.items() if k not in ("chat_id", "voters", "message_id")}
        return {**shown, "options": options, "total_voter_count": sum(1 for v in poll["voters"].values() if v)}

    def _m_sendLocation(self, params: dict[str, Any], upload: bytes | None) -> Any:
        location = {"latitude": float(params["latitude"]), "longitude": float(params["longitude"])}
        return self._message(str(params["chat_id"]), location=location)

    def _m_editMessageText(self, params: dict[str, Any], upload: bytes | None) -> Any:
        chat, message_id = str(params["chat_id"]), int(params["message_id"])
        self.edits[(chat, message_id)] = params["text"]
        return {"message_id": message_id, "date": int(time.time()), "edit_date": int(time.time()),
                "chat": {"id": _int(chat), "type": "private"}, "text": params["text"]}  # fmt: skip

    def _m_answerCallbackQuery(self, params: dict[str, Any], upload: bytes | None) -> Any:
        return True

    def _m_setWebhook(self, params: dict[str, Any], upload: bytes | None) -> Any:
        self.webhook = {"url": str(params.get("url", ""))}
        return True

    def _m_deleteWebhook(self, params: dict[str, Any], upload: bytes | None) -> Any:
        self.webhook = {"url": ""}
        return True

    def _m_getWebhookInfo(self, params: dict[str, Any], upload: bytes | None) -> Any:
        return {"has_custom_certificate": False, "pending_update_count": len(self.updates), **self.webhook}

    def _m_getFile(self, params: dict[str, Any], upload: bytes | None) -> Any:
        path, data = self.files[params["file_id"]]
        return {"file_id": params["file_id"], "file_unique_id": "u", "file_size": len(data), "file_path": path}

    def _m_getUpdates(self, params: dict[str, Any], upload: bytes | None) -> Any:
        offset = int(params.get("offset") or 0)
        self.updates = [u for u in self.updates if u["update_id"] >= offset]  # confirmed ones are dropped
        return list(self.updates[: int(params.get("limit") or 100)])


def _error(status: int, description: str, retry_after: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return body


def _int(chat: str) -> int | str:
    return int(chat) if chat.lstrip("-").isdigit() else chat


async def _read_params(request: Request) -> tuple[dict[str, Any], bytes | None]:
    """Form fields (PTB JSON-encodes non-string values) or a JSON body; plus an uploaded file."""
    if request.headers.get("content-type", "").startswith("application/json"):
        return dict(await request.json()), None
    params: dict[str, Any] = {}
    upload: bytes | None = None
    form = await request.form()
    try:
        for key, value in form.multi_items():
            if not isinstance(value, str):
                upload = await value.read()
                continue
            if key in RAW_FIELDS:
                params[key] = value
                continue
            try:
                params[key] = json.loads(value)
            except ValueError:
                params[key] = value
    finally:
        await form.close()
    for key, value in list(params.items()):
        if isinstance(value, str) and value.startswith("attach://"):
            params[key] = "<upload>"
    return params, upload

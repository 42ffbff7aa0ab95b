"""A small local fake of the Twilio REST API (Messages, Content, media), recording every call."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.local_server import LocalServer

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "fake-auth-token"


@dataclass
class Call:
    """One request the fake received."""

    method: str
    path: str
    auth: tuple[str, str] | None
    form: dict[str, list[str]] = field(default_factory=dict)
    json: Any = None
    status: int = 0

    def one(self, key: str) -> str | None:
        """The first value of a form field."""
        values = self.form.get(key)
        return values[0] if values else None


@dataclass
class Failure:
    """A queued error answer for the next matching request."""

    status: int
    code: int
    message: str
    match: str


class FakeTwilio:
    """Serves the fake on 127.0.0.1 (a free port) from a background thread."""

    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        self.account_sid, self.auth_token = account_sid, auth_token
        self.calls: list[Call] = []
        self.media: dict[str, tuple[bytes, str]] = {}
        self._failures: deque[Failure] = deque()
        self._lock = threading.Lock()
        self._http: LocalServer | None = None
        self.base_url = ""

    # --- control -------------------------------------------------------------------------
    def start(self) -> FakeTwilio:
        """Start serving; returns self once the port accepts connections."""
        self._http = LocalServer(self._app(), "Twilio", ws="none")
        self.base_url = self._http.start()
        return self

    def stop(self) -> None:
        """Stop the server thread."""
        if self._http is not None:
            self._http.stop()

    def reset(self) -> None:
        """Forget calls, media and queued failures (between tests)."""
        with self._lock:
            self.calls.clear()
            self.media.clear()
            self._failures.clear()

    def fail_next(self, status: int, code: int, message: str = "fake failure", *, match: str = "Messages",
                  times: int = 1) -> None:  # fmt: skip
        """Answer the next `times` requests whose path contains `match` with a Twilio error."""
        with self._lock:
            self._failures.extend(Failure(status, code, message, match) for _ in range(times))

    def add_media(self, data: bytes, content_type: str = "image/jpeg") -> str:
        """Host a media file as Twilio does for inbound MMS/WhatsApp; return its MediaUrl."""
        media_sid = "ME" + uuid.uuid4().hex
        self.media[media_sid] = (data, content_type)
        return f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages/MM{uuid.uuid4().hex}/Media/{media_sid}"

    # --- what was received ---------------------------------------------------------------
    @property
    def messages(self) -> list[Call]:
        """Successful Messages.create calls, oldest first."""
        return [c for c in self.calls if c.path.endswith("/Messages.json") and c.status == 201]

    @property
    def contents(self) -> list[Call]:
        """Successful Content API creations, oldest first."""
        return [c for c in self.calls if c.path == "/v1/Content" and c.status == 201]

    @property
    def media_fetches(self) -> list[Call]:
        """Media downloads (with the credentials they carried)."""
        return [c for c in self.calls if "/Media/" in c.path]

    # --- the API ---------------------------------------------------------------------------
    def _record(self, call: Call) -> Response | None:
        """Record a call; answer 401 for bad credentials or a queued failure, else None."""
        with self._lock:
            self.calls.append(call)
            if call.auth != (self.account_sid, self.auth_token):
                call.status = 401
                return _error(401, 20003, "Authenticate")
            failure = next((f for f in self._failures if f.match in call.path), None)
            if failure is not None:
                self._failures.remove(failure)
                call.status = failure.status
                return _error(failure.status, failure.code, failure.message)
        return None

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/2010-04-01/Accounts/{sid}/Messages.json")
        async def create_message(sid: str, request: Request) -> Response:
            form = await request.form()
            call = Call("POST", request.url.path, _basic_auth(request), {k: form.getlist(k) for k in form})  # type: ignore[misc]
            if (refused := self._record(call)) is not None:
                return refused
            call.status = 201
            body = {
                "sid": "SM" + uuid.uuid4().hex, "account_sid": sid, "to": call.one("To"), "from": call.one("From"),
                "body": call.one("Body") or "", "status": "queued",
                "num_media": str(len(call.form.get("MediaUrl", []))),
                "messaging_service_sid": call.one("MessagingServiceSid"), "direction": "outbound-api",
                "uri": f"/2010-04-01/Accounts/{sid}/Messages.json",
            }  # fmt: skip
            return JSONResponse(body, status_code=201)

        @app.post("/v1/Content")
        async def create_content(request: Request) -> Response:
            call = Call("POST", request.url.path, _basic_auth(request), json=await request.json())
            if (refused := self._record(call)) is not None:
                return refused
            call.status = 201
            return JSONResponse({**call.json, "sid": "HX" + uuid.uuid4().hex, "account_sid": self.account_sid},
                                status_code=201)  # fmt: skip

        @app.get("/2010-04-01/Accounts/{sid}/Messages/{message_sid}/Media/{media_sid}")
        async def get_media(sid: str, message_sid: str, media_sid: str, request: Request) -> Response:
            call = Call("GET", request.url.path, _basic_auth(request))
            if (refused := self._record(call)) is not None:
                return refused
            if media_sid not in self.media:
                call.status = 404
                return _error(404, 20404, "The requested resource was not found")
            call.status = 200
            data, content_type = self.media[media_sid]
            return Response(data, media_type=content_type)

        return app


def _basic_auth(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password


def _error(status: int, code: int, message: str) -> Response:
    more_info = f"https://www.twilio.com/docs/errors/{code}"
    body = {"code": code, "message": message, "more_info": more_info, "status": status}
    return Response(json.dumps(body), status_code=status, media_type="application/json")

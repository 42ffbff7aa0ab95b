"""A transcript driver for conversation tests over the web-chat API (in-process ASGI)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import Any

import httpx
from PIL import Image

from core.adapters.sql.uow import Store
from core.members.identity import open_session
from webhooks.demo import DEMO_USERS

LINE = re.compile(r"^\s*(\S+)\s+([<>])\s?(.*)$")


def make_photo(color: tuple[int, int, int] = (180, 120, 90), size: tuple[int, int] = (320, 240)) -> bytes:
    """A small JPEG made on the spot (no real person in it)."""
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG")
    return out.getvalue()


@dataclass
class Inbox:
    """What one user has received and not yet matched."""

    cursor: int = 0
    unread: list[dict[str, Any]] = field(default_factory=list)
    seen: list[dict[str, Any]] = field(default_factory=list)


class Chat:
    """Runs transcripts: `user > text|[photo]|[location a, b]|[tap Label]|[press payload-prefix]`,
    `user < expected text [Button]`."""

    def __init__(self, client: httpx.AsyncClient, drain: Any, store: Store | None = None) -> None:
        self.client, self.drain, self.store = client, drain, store
        self.inboxes: dict[str, Inbox] = {}
        self.photos: dict[str, bytes] = {}
        self.tokens: dict[str, str] = {}

    async def headers(self, user: str) -> dict[str, str]:
        """Demo users need no session (demo mode on loopback); anyone else signs in with one,
        opened for that test name by core, as the server does for a new visitor."""
        if user in DEMO_USERS or self.store is None:
            return {}
        if user not in self.tokens:
            async with self.store.uow() as uow:
                self.tokens[user], _session = await open_session(uow, user)
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    async def post(self, user: str, **body: Any) -> httpx.Response:
        """POST to the user's messages with their credentials."""
        headers = {**await self.headers(user), **body.pop("headers", {})}
        return await self.client.post(f"/webchat/{user}/messages", headers=headers, **body)

    async def run(self, transcript: str) -> None:
        """Play a transcript line by line, asserting every expectation."""
        for raw in transcript.strip().splitlines():
            if not raw.strip() or raw.strip().startswith("#"):
                continue
            match = LINE.match(raw)
            assert match, f"unreadable transcript line: {raw!r}"
            user, arrow, rest = match.groups()
            if arrow == ">":
                await self.send(user, rest.strip())
            else:
                await self.expect(user, rest.strip())

    async def send(self, user: str, what: str) -> httpx.Response:
        """Send text, a photo, a location or a button tap as `user`."""
        if what.startswith("[photo"):
            name = what[len("[photo"):-1].strip(": ")
            data = self.photos[name] if name else make_photo()  # `[photo: name]` sends a registered image
            response = await self.post(user, files={"photo": ("p.jpg", data, "image/jpeg")})
        elif what.startswith("[location"):
            lat, lng = (float(x) for x in what[len("[location"):-1].split(","))
            response = await self.post(user, json={"location": {"lat": lat, "lng": lng}})
        elif what.startswith("[press "):
            response = await self.post(user, json={"button": await self.payload(user, what[7:-1])})
        elif what.startswith("[tap "):
            response = await self.post(user, json={"button": await self.button(user, what[5:-1])})
        else:
            response = await self.post(user, json={"text": what})
        assert response.status_code == 202, response.text
        await self.drain()
        return response

    async def fetch(self, user: str) -> Inbox:
        """Pull new messages for a user."""
        box = self.inboxes.setdefault(user, Inbox())
        response = await self.client.get(f"/webchat/{user}/messages", params={"after": box.cursor}, headers=await self.headers(user))
        body = response.json()
        box.unread.extend(body["messages"])
        box.seen.extend(body["messages"])
        box.cursor = body["cursor"]
        return box

    async def button(self, user: str, label_prefix: str) -> str:
        """The payload of the newest button whose label starts with the given text."""
        box = await self.fetch(user)
        for message in reversed(box.seen):
            for b in message["buttons"]:
                if b["label"].startswith(label_prefix):
                    return str(b["payload"])
        raise AssertionError(f"{user} has no button starting {label_prefix!r}; saw {[m['text'] for m in box.seen[-5:]]}")

    async def payload(self, user: str, prefix: str) -> str:
        """The newest button payload starting with a prefix (language-independent taps)."""
        box = await self.fetch(user)
        for message in reversed(box.seen):
            for b in message["buttons"]:
                if b["payload"].startswith(prefix):
                    return str(b["payload"])
        raise AssertionError(f"{user} has no button with payload {prefix!r}")

    async def expect(self, user: str, expected: str) -> dict[str, Any]:
        """Consume messages until one contains the expected text (and the [buttons] named)."""
        buttons = re.findall(r"\[([^\]]+)\]", expected)
        text = re.sub(r"\s*\[[^\]]+\]", "", expected).strip()
        box = await self.fetch(user)
        while box.unread:
            message = box.unread.pop(0)
            labels = [b["label"] for b in message["buttons"]]
            if text in message["text"] and all(any(lab.startswith(b) for lab in labels) for b in buttons if b != "photo"):
                if "photo" in buttons:
                    assert message["image_url"], f"expected a photo with {message['text']!r}"
                return message
        raise AssertionError(f"{user} did not receive {expected!r}; recent: {[m['text'] for m in box.seen[-6:]]}")

    async def nothing_for(self, user: str) -> None:
        """Assert the user has no unread message."""
        box = await self.fetch(user)
        assert not box.unread, f"{user} got unexpected messages: {[m['text'] for m in box.unread]}"

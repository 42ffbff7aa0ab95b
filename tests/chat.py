"""A transcript driver for conversation tests over the web-chat API (in-process ASGI)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
from PIL import Image

from core.adapters.sql.uow import Store
from core.members.identity import open_session
from webhooks.demo import DEMO_USERS

LINE = re.compile(r"^\s*(\S+)\s+(<\*|[<>])\s?(.*)$")
# `user < …` acknowledges one message whatever it says (for text that is not the test's point).
ANY_ONE = frozenset({"…", "..."})


def make_photo(color: tuple[int, int, int] = (180, 120, 90), size: tuple[int, int] = (320, 240)) -> bytes:
    """A small JPEG made on the spot (no real person in it)."""
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG")
    return out.getvalue()


def expectation(expected: str) -> tuple[str, list[str]]:
    """The text and the [bracketed] button labels (or [photo]) of an expectation line."""
    return re.sub(r"\s*\[[^\]]+\]", "", expected).strip(), re.findall(r"\[([^\]]+)\]", expected)


class Transcript:
    """The strict reading shared by the drivers: `user < text` is the user's NEXT unread message,
    in order; `user <* text` skips to the first unread one that matches (use it only with a comment
    why); `user < …` takes any one message. At the end of every `run`, no user this chat has seen
    may have an unread message left. A driver supplies send, fetch, fits, show and check_photo."""

    def __init__(self, cast: Iterable[str] = ()) -> None:
        self.appeared: dict[str, None] = dict.fromkeys(cast)  # the known cast, then every user sent for or read

    async def send(self, user: str, what: str) -> object:
        """Send a transcript `>` line as the user."""
        raise NotImplementedError

    async def fetch(self, user: str) -> Any:
        """Pull the user's new messages into their inbox (with an `unread` list)."""
        raise NotImplementedError

    def fits(self, user: str, message: Any, text: str, buttons: list[str]) -> bool:
        """Whether a message holds the text and has buttons starting with each label."""
        raise NotImplementedError

    def show(self, user: str, message: Any) -> str:
        """A message as one readable line for a failure."""
        raise NotImplementedError

    async def check_photo(self, user: str, message: Any) -> None:
        """Assert the message really carries a photo."""
        raise NotImplementedError

    def cast(self) -> list[str]:
        """The users whose inboxes must be empty at the end of a run."""
        return list(self.appeared)

    async def run(self, transcript: str) -> None:
        """Play a transcript line by line, asserting every expectation, then that nothing is left unread."""
        for raw in transcript.strip().splitlines():
            if not raw.strip() or raw.strip().startswith("#"):
                continue
            match = LINE.match(raw)
            assert match, f"unreadable transcript line: {raw!r}"
            user, arrow, rest = match.groups()
            if arrow == ">":
                await self.send(user, rest.strip())
            elif arrow == "<*":
                await self.skip_to(user, rest.strip())
            else:
                await self.expect(user, rest.strip())
        await self.all_read()

    async def expect(self, user: str, expected: str) -> Any:
        """Take the user's next unread message, which must contain the expected text (and the
        [buttons] named; [photo]: it carries a photo)."""
        box = await self.fetch(user)
        if not box.unread:
            raise AssertionError(f"{user}: nothing more arrived\n  expected: {expected!r}\n"
                                 f"  last seen: {self._shown(user, box.seen[-3:])}")  # fmt: skip
        message = box.unread[0]
        if expected not in ANY_ONE:
            text, buttons = expectation(expected)
            if not self.fits(user, message, text, buttons):
                raise AssertionError(f"{user}: the next message is not the one expected\n"
                                     f"  expected: {expected!r}\n  arrived:  {self.show(user, message)}\n"
                                     f"  unread after it: {self._shown(user, box.unread[1:])}")  # fmt: skip
            if "photo" in buttons:
                await self.check_photo(user, message)
        return box.unread.pop(0)

    async def skip_to(self, user: str, expected: str) -> Any:
        """Acknowledge unread messages up to and including the first one that matches."""
        box = await self.fetch(user)
        text, buttons = expectation(expected)
        for i, message in enumerate(box.unread):
            if self.fits(user, message, text, buttons):
                del box.unread[: i + 1]
                return message
        raise AssertionError(f"{user} did not receive {expected!r}; unread: {self._shown(user, box.unread)}")

    async def all_read(self) -> None:
        """Assert that every user in the cast has read (matched) every message they received."""
        left = []
        for user in self.cast():
            box = await self.fetch(user)
            left += [f"  {user}: {shown}" for shown in self._shown(user, box.unread)]
        assert not left, "unexpected messages:\n" + "\n".join(left)

    async def nothing_for(self, user: str) -> None:
        """Assert the user has no unread message."""
        box = await self.fetch(user)
        assert not box.unread, f"{user} got unexpected messages: {self._shown(user, box.unread)}"

    def _shown(self, user: str, messages: list[Any]) -> list[str]:
        return [self.show(user, m) for m in messages]


@dataclass
class Inbox:
    """What one user has received and not yet matched."""

    cursor: int = 0
    unread: list[dict[str, Any]] = field(default_factory=list)
    seen: list[dict[str, Any]] = field(default_factory=list)


class Chat(Transcript):
    """Runs transcripts over the web-chat API: `user > text|[photo]|[location a, b]|[tap Label]|
    [press payload-prefix]`, `user < expected text [Button]` (strictly the next message, see
    Transcript)."""

    def __init__(self, client: httpx.AsyncClient, drain: Any, store: Store | None = None, cast: Iterable[str] = ()) -> None:
        super().__init__(cast)
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
        self.appeared.setdefault(user)
        headers = {**await self.headers(user), **body.pop("headers", {})}
        return await self.client.post(f"/webchat/{user}/messages", headers=headers, **body)

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
        self.appeared.setdefault(user)
        box = self.inboxes.setdefault(user, Inbox())
        response = await self.client.get(f"/webchat/{user}/messages", params={"after": box.cursor}, headers=await self.headers(user))
        assert response.status_code == 200, f"{user} cannot read their messages: {response.status_code} {response.text}"
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

    def fits(self, user: str, message: Any, text: str, buttons: list[str]) -> bool:
        """The text is in the message and each named button starts one of its labels."""
        labels = [b["label"] for b in message["buttons"]]
        return text in message["text"] and all(any(lab.startswith(b) for lab in labels) for b in buttons if b != "photo")

    def show(self, user: str, message: Any) -> str:
        """The text, its buttons and whether a photo rides along."""
        extras = [b["label"] for b in message["buttons"]] + (["photo"] if message.get("image_url") else [])
        return repr(message["text"]) + "".join(f" [{e}]" for e in extras)

    async def check_photo(self, user: str, message: Any) -> None:
        """The message carries a photo link."""
        assert message["image_url"], f"expected a photo with {message['text']!r}"

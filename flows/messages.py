"""The channel-neutral message model every adapter translates to and from."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Kind = Literal["text", "photo", "location", "choice", "poll_answer", "document"]
# Outbound meta key: the message replaces the one sent before under the same value, edited in
# place where the channel can (Telegram), else sent as a new message.
REPLACES = "replaces"


@dataclass(frozen=True)
class Inbound:
    """One message from a person, whatever the channel."""

    channel: str
    address: str
    kind: Kind
    text: str = ""
    photo: bytes | None = None  # loaded from the staging store before the flows see it (a document's bytes too)
    lat: float | None = None
    lng: float | None = None
    choice: str | None = None  # a button's payload
    poll_id: str | None = None
    poll_options: tuple[int, ...] = ()
    language_hint: str | None = None  # e.g. Telegram's language_code
    display_name: str | None = None


@dataclass(frozen=True)
class Choice:
    """A button: what it says, what it sends back, and the number a reply can type for it
    (unique among the person's open prompts; set when the message is delivered)."""

    label: str
    payload: str
    number: int | None = None


def numbered(choices: tuple[Choice, ...]) -> list[tuple[int, str]]:
    """(number, label) to show for each option where numbers are typed (SMS, numbered text):
    the option's own number, else its position (a message stored before prompts numbered it)."""
    return [(c.number if c.number is not None else i, c.label) for i, c in enumerate(choices, 1)]


@dataclass(frozen=True)
class Poll:
    """A question with options, answered once per member."""

    question: str
    options: tuple[str, ...]
    ref: str  # what the answer belongs to, e.g. "proposal:3"


@dataclass(frozen=True)
class Outbound:
    """One message to a person: text, optional buttons, optional photo, optional poll."""

    text: str
    choices: tuple[Choice, ...] = ()
    photo_id: str | None = None
    poll: Poll | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # e.g. {"job": 42} so adapters can edit it later

    def to_payload(self) -> dict[str, Any]:
        """Plain JSON form kept in the outbox."""
        return asdict(self)

    @staticmethod
    def from_payload(data: dict[str, Any]) -> Outbound:
        """Rebuild from the outbox JSON."""
        poll = data.get("poll")
        return Outbound(
            text=data["text"],
            choices=tuple(Choice(**c) for c in data.get("choices", ())),
            photo_id=data.get("photo_id"),
            poll=Poll(poll["question"], tuple(poll["options"]), poll["ref"]) if poll else None,
            meta=data.get("meta", {}),
        )

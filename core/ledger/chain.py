"""The SHA-256 hash chain over canonical JSON, and its verification."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    """Serialise with sorted keys, no spaces, UTF-8 characters kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class ChainedEvent:
    """One stored event of the log."""

    seq: int
    type: str
    occurred_at: str
    actor: str
    data: dict[str, Any]
    prev_hash: str
    hash: str

    def body(self) -> dict[str, Any]:
        """The hashed part of the event."""
        return event_body(self.seq, self.type, self.occurred_at, self.actor, self.data)


def event_body(seq: int, type_: str, occurred_at: str, actor: str, data: Any) -> dict[str, Any]:
    """The dictionary whose canonical JSON is hashed."""
    return {"seq": seq, "type": type_, "occurred_at": occurred_at, "actor": actor, "data": data}


def link_hash(prev_hash: str, body: dict[str, Any]) -> str:
    """hash = sha256(prev_hash + canonical_json(event))."""
    return hashlib.sha256((prev_hash + canonical_json(body)).encode("utf-8")).hexdigest()


class ChainCheck:
    """The one verification of the chain: feed events in seq order, each is checked against the last."""

    def __init__(self) -> None:
        self.head, self.count = GENESIS, 0

    def add(self, ev: ChainedEvent) -> str:
        """Check the next event and move past it; return what is wrong with it ("" when it holds)."""
        if ev.seq != self.count + 1:
            return "missing or reordered event"
        if ev.prev_hash != self.head:
            return "prev_hash does not match"
        if link_hash(self.head, ev.body()) != ev.hash:
            return "hash does not match the content"
        self.head, self.count = ev.hash, self.count + 1
        return ""

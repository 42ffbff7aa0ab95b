"""The SHA-256 hash chain over canonical JSON, and its verification."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
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


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of a chain verification."""

    count: int
    head: str
    broken_seq: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        """True when every link checked out."""
        return self.broken_seq is None


def verify(events: Iterable[ChainedEvent]) -> VerifyResult:
    """Recompute the chain in seq order; name the first broken seq."""
    prev, count, expected_seq = GENESIS, 0, 1
    for ev in events:
        if ev.seq != expected_seq:
            return VerifyResult(count, prev, expected_seq, "missing or reordered event")
        if ev.prev_hash != prev:
            return VerifyResult(count, prev, ev.seq, "prev_hash does not match")
        if link_hash(prev, ev.body()) != ev.hash:
            return VerifyResult(count, prev, ev.seq, "hash does not match the content")
        prev, count, expected_seq = ev.hash, count + 1, expected_seq + 1
    return VerifyResult(count, prev)

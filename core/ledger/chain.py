"""The SHA-256 hash chain over canonical JSON, and its verification."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat
from json.encoder import encode_basestring as _quote  # what json.dumps(ensure_ascii=False) uses
from operator import itemgetter
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
    return link_hash_text(prev_hash, canonical_json(body))


def link_hash_text(prev_hash: str, hashed: str) -> str:
    """hash = sha256(prev_hash + the canonical JSON text of the event, as stored)."""
    return hashlib.sha256((prev_hash + hashed).encode("utf-8")).hexdigest()


# (body,): what the fast audit reads of every event, in seq order: the UTF-8 bytes hashed after
# prev_hash (hash = sha256(prev_hash + body)).
HashedRow = tuple[bytes]
class ChainFold:
    """Chained SHA-256 over hashed bodies fed chunk by chunk, by whatever thread reads them: the
    audit's hot loop and nothing else (hash = sha256(prev_hash + body), from `start`)."""

    def __init__(self, start: str = GENESIS, tell: Callable[[int], None] | None = None) -> None:
        self.start, self.head, self.count, self._tell = start, start, 0, tell

    def rows(self, rows: Sequence[HashedRow]) -> None:
        """Chain these (body,) rows after the head."""
        self._chain(map(itemgetter(0), rows), len(rows))

    def values(self, count: int, value: Callable[[int, int], bytes]) -> None:
        """Chain the bodies `value(i, 0)` for i in range(count) after the head: a driver's result
        read in place (libpq's PQgetvalue), without building a row object per event."""
        self._chain(map(value, range(count), repeat(0, count)), count)

    def _chain(self, bodies: Iterable[bytes], count: int) -> None:
        """The hot loop: chain `count` bodies after the head (`map` over C callables: no Python
        frame per body but this loop's)."""
        prev, sha256 = self.head, hashlib.sha256
        for body in bodies:
            prev = sha256(prev.encode() + body).hexdigest()
        self.head = prev
        self.count += count
        if self._tell is not None:
            self._tell(count)

    def absorb(self, other: ChainFold) -> ChainFold:
        """Take over the result of the same range chained elsewhere (a thread or process of its own)."""
        self.start, self.head, self.count = other.start, other.head, other.count
        if self._tell is not None:
            self._tell(other.count)
        return self


# (seq, type, occurred_at, actor, data, prev_hash, hash, body): the structured columns checked against body.
StoredColumns = tuple[int, str, str, str, str, str, str, bytes]


def spliced_body(seq: int, type_: str, occurred_at: str, actor: str, data: str) -> str:
    """The canonical JSON of an event body built from its stored columns (`data` is stored canonical),
    without parsing `data`: equal to the stored body exactly when the columns say what was hashed."""
    q = _quote
    return f'{{"actor":{q(actor)},"data":{data},"occurred_at":{q(occurred_at)},"seq":{int(seq)},"type":{q(type_)}}}'

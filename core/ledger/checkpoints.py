"""Daily checkpoints: the chain's head, length and totals, signed with the cooperative's Ed25519 key.

A member who saved yesterday's checkpoint proves with `ketpaar_verify --since` that today's log
extends it. The signed bytes are CHECKPOINT_DOMAIN + canonical JSON of every field but the
signature (the same rule as ketpaar_verify.checkpoint_message)."""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from core.ledger.chain import GENESIS, canonical_json
from core.ledger.service import previous_day
from core.ports import Store, UnitOfWork
from core.shared.events import CheckpointSigned

CHECKPOINT_DOMAIN = b"ketpaar checkpoint v1\n"
PAGE = 5000


class Signer:
    """The cooperative's Ed25519 signing key (a 32-byte seed)."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise ValueError("the signing key is 32 bytes (64 hex characters)")
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_hex = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()

    def sign(self, message: bytes) -> str:
        """The signature of `message`, hex."""
        return self._key.sign(message).hex()


def checkpoint_message(body: dict[str, Any]) -> bytes:
    """The bytes a checkpoint's signature covers: everything but the signature itself."""
    return CHECKPOINT_DOMAIN + canonical_json({k: v for k, v in body.items() if k != "signature"}).encode("utf-8")


async def totals_until(uow: UnitOfWork, start_seq: int, start: dict[str, int], until: int) -> dict[str, int]:
    """Balances per kind of account after event `until`, carried on from `start` after `start_seq`."""
    totals, after = dict(start), start_seq
    while after < until:
        page = await uow.chain.page(after, min(PAGE, until - after))
        if not page:
            break
        for ev in page:
            if ev.type == "ledger.transaction":
                for account, amount in ev.data["postings"]:
                    kind = str(account).split(":", 1)[0]
                    totals[kind] = totals.get(kind, 0) + int(amount)
        after = page[-1].seq
    return {k: v for k, v in sorted(totals.items()) if v}


async def make_checkpoint(store: Store, signer: Signer, day: str | None = None) -> dict[str, Any]:
    """Sign and store the checkpoint closing business `day` (yesterday by default), once: a second
    run returns the stored one."""
    async with store.uow() as uow:
        day = day or previous_day(uow.at)
        if stored := await uow.checkpoints.for_day(day):
            return dict(json.loads(stored))
        seq, head = await uow.chain.head()
        previous = [json.loads(b) for b in await uow.checkpoints.latest()]
        # carry on from the last checkpoint rather than replaying the whole chain every day
        base_seq, base_totals = 0, {}
        if previous and int(previous[0]["seq"]) <= seq:
            base_seq, base_totals = int(previous[0]["seq"]), {str(k): int(v) for k, v in previous[0]["totals"].items()}
        totals = await totals_until(uow, base_seq, base_totals, seq)
        body: dict[str, Any] = {"day": day, "seq": seq, "head": head if seq else GENESIS, "totals": totals,
                                "issued_at": uow.now, "key": signer.public_hex}  # fmt: skip
        body["signature"] = signer.sign(checkpoint_message(body))
        if not await uow.checkpoints.add(day, seq, body["head"], canonical_json(body)):
            # another process signed this day meanwhile: the first one published stands
            stored = await uow.checkpoints.for_day(day)
            assert stored is not None
            return dict(json.loads(stored))
        # members who opted in are told (flows/notify.py); the event follows the head it signs
        uow.record(CheckpointSigned(actor="scheduler", day=day, seq=seq, head=body["head"]))
    return body


async def latest_checkpoints(store: Store, limit: int = 1) -> list[dict[str, Any]]:
    """The newest published checkpoints, newest first."""
    async with store.reader() as uow:
        return [dict(json.loads(b)) for b in await uow.checkpoints.latest(limit)]

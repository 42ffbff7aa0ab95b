"""Whole-ledger audit: the hash chain, balanced transactions, postings matching the chain."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from core.ledger.chain import GENESIS, spliced_body
from core.ports import Store

LEDGER_TX = "ledger.transaction"


@dataclass(frozen=True)
class AuditReport:
    """What `ketpaar ledger verify` prints."""

    events: int
    head: str
    transactions: int
    problem: str = ""  # empty when everything checks out
    broken_seq: int | None = None
    columns_checked: int = 0  # events whose structured columns were compared with the hashed bytes

    @property
    def ok(self) -> bool:
        """True when the chain and the ledger agree with themselves and each other."""
        return not self.problem


async def audit(store: Store, *, columns_every: int = 1) -> AuditReport:
    """Recompute the chain over the stored hashed bytes, check the structured columns say the same
    (every event, or every `columns_every`-th plus all ledger transactions), and check every ledger
    transaction balances and matches its chained event."""
    chained: dict[int, list[list[object]]] = {}
    count, head, sha256 = 0, GENESIS, hashlib.sha256
    async with store.reader() as uow:
        # Pass 1, the hot loop: read and hash. Nothing is parsed except ledger transactions.
        async for rows in uow.chain.hashed():
            for seq, type_, prev_hash, digest, body in rows:
                if seq != count + 1:
                    return AuditReport(count, head, 0, f"event {count + 1}: missing or reordered event", count + 1)
                if prev_hash != head:
                    return AuditReport(count, head, 0, f"event {seq}: prev_hash does not match", seq)
                if sha256((head + body).encode()).hexdigest() != digest:
                    return AuditReport(count, head, 0, f"event {seq}: hash does not match the content", seq)
                count, head = seq, digest
                if type_ == LEDGER_TX:
                    data = json.loads(body)["data"]
                    chained[data["tx_id"]] = data["postings"]
        head_seq, head_hash = await uow.chain.head()
        if (head_seq, head_hash) != (count, head):
            return AuditReport(count, head, 0, f"chain head says seq {head_seq}, log ends at {count}", count + 1)
        # Pass 2: the columns the application reads must say exactly what was hashed.
        checked = 0
        async for cols in uow.chain.columns(columns_every, (LEDGER_TX,)):
            for seq, type_, occurred_at, actor, data_text, body in cols:
                checked += 1
                if spliced_body(seq, type_, occurred_at, actor, data_text) != body:
                    problem = f"event {seq}: the stored columns differ from the hashed content"
                    return AuditReport(count, head, 0, problem, seq, checked)
        # Pass 3: the ledger tables against the chain.
        n = 0
        async for tx_id, _kind, _ref, lines in uow.ledger.transactions():
            n += 1
            if sum(int(str(a)) for _, a in lines) != 0:
                return AuditReport(count, head, n, f"ledger transaction {tx_id} does not balance", None, checked)
            if chained.pop(tx_id, None) != lines:
                return AuditReport(count, head, n, f"ledger transaction {tx_id} differs from its chained event", None, checked)
        if chained:
            missing = sorted(chained)[:5]
            return AuditReport(count, head, n, f"chained transactions missing from the ledger: {missing}", None, checked)
    return AuditReport(count, head, n, columns_checked=checked)

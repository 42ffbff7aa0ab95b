"""Whole-ledger audit: the hash chain, balanced transactions, postings matching the chain."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.ledger.chain import ChainCheck
from core.ports import Store


@dataclass(frozen=True)
class AuditReport:
    """What `ketpaar ledger verify` prints."""

    events: int
    head: str
    transactions: int
    problem: str = ""  # empty when everything checks out
    broken_seq: int | None = None

    @property
    def ok(self) -> bool:
        """True when the chain and the ledger agree with themselves and each other."""
        return not self.problem


async def audit(store: Store, progress: Callable[[int], None] | None = None) -> AuditReport:
    """Recompute the chain, check every transaction balances and matches its chained event
    (`progress` is told every 1000 events: the command's progress bar)."""
    chained: dict[int, list[list[object]]] = {}
    check = ChainCheck()
    async with store.reader() as uow:
        async for ev in uow.chain.stream():
            if problem := check.add(ev):
                return AuditReport(check.count, check.head, 0, f"event {check.count + 1}: {problem}", check.count + 1)
            if ev.type == "ledger.transaction":
                chained[ev.data["tx_id"]] = ev.data["postings"]
            if progress is not None and check.count % 1000 == 0:
                progress(1000)
        count, prev = check.count, check.head
        head_seq, head_hash = await uow.chain.head()
        if (head_seq, head_hash) != (count, prev):
            return AuditReport(count, prev, 0, f"chain head says seq {head_seq}, log ends at {count}", count + 1)
        n = 0
        async for tx_id, _kind, _ref, lines in uow.ledger.transactions():
            n += 1
            if sum(int(str(a)) for _, a in lines) != 0:
                return AuditReport(count, prev, n, f"ledger transaction {tx_id} does not balance")
            if chained.pop(tx_id, None) != lines:
                return AuditReport(count, prev, n, f"ledger transaction {tx_id} differs from its chained event")
        if chained:
            return AuditReport(count, prev, n, f"chained transactions missing from the ledger: {sorted(chained)[:5]}")
    return AuditReport(count, prev, n)

"""Whole-ledger audit: the hash chain, balanced transactions, postings matching the chain."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import secrets
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass
from functools import partial

from core.ledger.chain import GENESIS, ChainFold, spliced_body
from core.ports import Store, UnitOfWork

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


async def audit(store: Store, progress: Callable[[int], None] | None = None, *, columns_every: int = 1,
                ranges: int = 1, range_min: int = 200_000) -> AuditReport:  # fmt: skip
    """Recompute the chain over the stored hashed bytes; check the structured columns say the same
    (of every event, or of one random event in every `columns_every`); check every ledger
    transaction balances and matches its chained event (`progress` is told how many events each
    chunk held: the command's progress bar; `ranges` caps how many seq ranges a long log is read
    in at once, in processes of their own, each at least `range_min` events; 0, which `ketpaar
    ledger verify` uses: what suits the store on this machine; on 1M events and 2 cores, SQLite in
    two ranges takes 1.1-1.4x bare SHA-256, PostgreSQL in one pass 1.9x. The passes after the first
    run while it does; their findings count only if the chain holds)."""
    # One snapshot for every pass: events committed meanwhile must not look like a broken chain.
    async with store.reader(snapshot=True) as uow:
        # Pass 1, the hot loop: read the hashed bytes and chain SHA-256 over them, nothing else
        # (any stored hash that does not follow is named afterwards, by the slow walk). The
        # adapter may read and hash the log in seq ranges at once, each from the stored prev_hash
        # of its first event: the chain holds when each range starts where the one before ended.
        head_seq, head_hash = await uow.chain.head()
        folding = await uow.chain.begin_fold(partial(ChainFold, tell=_told(progress)), head_seq, ranges=ranges,
                                             range_min=range_min)  # fmt: skip
        # Passes 2 and 3 run while the hash loop does (on PostgreSQL it reads on a connection of
        # its own); they assume the chain holds, and their findings count only if it does.
        try:
            found = await _columns_and_ledger(uow, head_seq, head_hash, columns_every)
        finally:
            folds = await folding
        count, head = sum(f.count for f in folds), folds[-1].head
        linked = all(f.start == before.head for before, f in itertools.pairwise(folds)) and folds[0].start == GENESIS
        if not linked or head != head_hash or count != head_seq:
            return await _name_break(uow, head_seq)
        return found


async def _columns_and_ledger(uow: UnitOfWork, count: int, head: str, columns_every: int) -> AuditReport:
    """Passes 2 and 3 of the audit of a chain of `count` events ending at `head`: the report
    of the first problem they find, or the clean report."""
    # Pass 2: the columns the application reads must say exactly what was hashed.
    seqs = None if columns_every <= 1 else _sample(count, columns_every)
    if seqs is not None and await uow.chain.event_rows() != (count, min(count, 1), count):
        # the hashed bytes are all there, but an event's row is missing (or one is extra):
        # a sample would likely miss it, the full walk names it
        return await _name_break(uow, count)
    confirmed = 0
    if seqs is not None:  # what the store can confirm itself is not read here
        confirmed, seqs = await uow.chain.unconfirmed_columns(seqs)
    checked, broken = await _compare_columns(uow, seqs, count, head)
    checked += confirmed
    if broken is not None:
        return broken
    # Pass 3: the ledger tables against the chain (the postings as hashed, not as the columns say).
    chained: dict[int, list[list[object]]] = {}
    async for rows in uow.chain.bodies(LEDGER_TX):
        for (body,) in rows:
            data = json.loads(body)["data"]
            chained[data["tx_id"]] = data["postings"]
    n = 0
    async with aclosing(uow.ledger.transactions()) as recorded:
        async for tx_id, _kind, _ref, lines in recorded:
            n += 1
            if sum(int(str(a)) for _, a in lines) != 0:
                return AuditReport(count, head, n, f"ledger transaction {tx_id} does not balance", None, checked)
            if chained.pop(tx_id, None) != lines:
                problem = f"ledger transaction {tx_id} differs from its chained event"
                return AuditReport(count, head, n, problem, None, checked)
    if chained:
        missing = sorted(chained)[:5]
        return AuditReport(count, head, n, f"chained transactions missing from the ledger: {missing}", None, checked)
    return AuditReport(count, head, n, columns_checked=checked)


def _told(progress: Callable[[int], None] | None) -> Callable[[int], None] | None:
    """`progress`, callable from the threads that hash the chain (it runs on this event loop)."""
    if progress is None:
        return None
    loop = asyncio.get_running_loop()

    def tell(n: int) -> None:
        loop.call_soon_threadsafe(progress, n)

    return tell


def _sample(count: int, every: int) -> list[int]:
    """One seq drawn at random in each block of `every` (a forger cannot know which are looked at)."""
    return [s for start in range(1, count + 1, every) if (s := start + secrets.randbelow(every)) <= count]


async def _compare_columns(uow: UnitOfWork, seqs: list[int] | None, count: int,
                           head: str) -> tuple[int, AuditReport | None]:  # fmt: skip
    """(events compared, the report of the first whose columns or stored hashes differ from its
    hashed bytes, or None); with `seqs` None every event, also checking the stored links."""
    checked, prev, sha256 = 0, GENESIS, hashlib.sha256
    async with aclosing(uow.chain.columns(seqs)) as stored:  # a break closes its cursor at once
        async for cols in stored:
            for seq, type_, occurred_at, actor, data_text, prev_hash, digest, body in cols:
                checked += 1
                if seqs is None and (seq != checked or prev_hash != prev):
                    return checked, await _name_break(uow, count)
                if prev_hash is None:  # a hashed body whose event row is gone (outer join: no columns)
                    return checked, AuditReport(count, head, 0, f"event {seq}: its structured columns are missing", seq, checked)
                if sha256(prev_hash.encode() + body).hexdigest() != digest:
                    return checked, AuditReport(count, head, 0, f"event {seq}: its stored hash does not match", seq, checked)
                if spliced_body(seq, type_, occurred_at, actor, data_text).encode() != body:
                    problem = f"event {seq}: the stored columns differ from the hashed content"
                    return checked, AuditReport(count, head, 0, problem, seq, checked)
                prev = digest
    return checked, None


async def _name_break(uow: UnitOfWork, head_seq: int) -> AuditReport:
    """Walk the chain slowly, row by row, and name the first event that does not follow."""
    n, head, sha256 = 0, GENESIS, hashlib.sha256
    async with aclosing(uow.chain.columns(None)) as stored:
        async for cols in stored:
            for seq, _type, _at, _actor, _data, prev_hash, digest, body in cols:
                n += 1
                if seq != n or prev_hash is None:  # prev_hash None: the body is there, its event row not
                    return AuditReport(n - 1, head, 0, f"event {n}: missing or reordered event", n)
                if prev_hash != head:
                    return AuditReport(n - 1, head, 0, f"event {n}: prev_hash does not match", n)
                if sha256(head.encode() + body).hexdigest() != digest:
                    return AuditReport(n - 1, head, 0, f"event {n}: hash does not match the content", n)
                head = digest
    return AuditReport(n, head, 0, f"chain head says seq {head_seq}, log ends at {n}", n + 1)

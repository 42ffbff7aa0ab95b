"""Ledger, event chain and parameter repositories."""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import os
import sqlite3
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from sqlalchemy import TextClause, and_, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.adapters.sql import chain_worker
from core.adapters.sql.schema import chain_head, event_bodies, events, ledger_transactions, parameters, postings
from core.adapters.sql.sqlhelpers import is_postgres, new_id
from core.ledger.chain import (
    GENESIS,
    ChainedEvent,
    ChainFold,
    HashedRow,
    StoredColumns,
    canonical_json,
    event_body,
    link_hash_text,
)
from core.ledger.model import InsufficientFunds, LedgerConflict, Transaction, is_guarded
from core.ledger.params import PARAM_NAMES, Params
from core.shared.events import DomainEvent, LedgerTransactionRecorded, ParameterChanged


def _debits(txs: Sequence[Transaction]) -> tuple[list[str], dict[str, int]]:
    """(the guarded accounts these transactions take from in all, sorted; every account's net move)."""
    debits: dict[str, int] = {}
    for tx in txs:
        for p in tx.postings:
            debits[p.account] = debits.get(p.account, 0) + p.amount
    return sorted(a for a, d in debits.items() if d < 0 and is_guarded(a)), debits


@functools.lru_cache(maxsize=32)
def _insert_statement(postings: int) -> TextClause:
    """PostgreSQL: one transaction and its `postings` postings in one statement, written out once per size."""
    lines = ", ".join(f"(CAST(:a{i} AS VARCHAR), CAST(:v{i} AS BIGINT), {i})" for i in range(postings))
    return text("WITH tx AS (INSERT INTO ledger_transactions (kind, ref, memo, occurred_at, day) "
                "VALUES (:kind, :ref, :memo, :occurred_at, :day) RETURNING id) "
                f"INSERT INTO postings (tx_id, account, amount) SELECT tx.id, l.account, l.amount "
                f"FROM tx, (VALUES {lines}) AS l(account, amount, n) ORDER BY l.n RETURNING tx_id")  # fmt: skip


@functools.lru_cache(maxsize=128)
def _fast_statement(postings_per_tx: tuple[int, ...], guarded: int) -> TextClause:
    """`LedgerRepo._fast`'s statement for transactions of these numbers of postings and this many
    guarded accounts: written out once per shape (allocations and batches repeat a few shapes),
    as rebuilding and compiling it on every call cost more client time than the database's work."""
    heads = ", ".join(f"(CAST(:k{n} AS VARCHAR), CAST(:r{n} AS VARCHAR), CAST(:m{n} AS VARCHAR), {n})"
                      for n in range(len(postings_per_tx)))  # fmt: skip
    lines = ", ".join(f"(CAST(:k{n} AS VARCHAR), CAST(:r{n} AS VARCHAR), CAST(:a{n}_{i} AS VARCHAR), "
                      f"CAST(:v{n}_{i} AS BIGINT), {n}, {i})" for n, count in enumerate(postings_per_tx) for i in range(count))  # fmt: skip
    fits = "".join(f" AND (SELECT coalesce(sum(amount), 0) FROM postings WHERE account = CAST(:g{g} AS VARCHAR)) "
                   f"+ CAST(:d{g} AS BIGINT) >= 0" for g in range(guarded))  # fmt: skip
    # Ids in the given order (the rows are inserted sorted); postings in posting order.
    return text(f"WITH h(kind, ref, memo, n) AS (VALUES {heads}), "
                "ok AS (SELECT NOT EXISTS (SELECT 1 FROM ledger_transactions t JOIN h ON t.kind = h.kind AND t.ref = h.ref)"
                f"{fits} AS ok), "
                "tx AS (INSERT INTO ledger_transactions (kind, ref, memo, occurred_at, day) "
                "SELECT h.kind, h.ref, h.memo, :occurred_at, :day FROM h WHERE (SELECT ok FROM ok) "
                "ORDER BY h.n RETURNING id, kind, ref), "
                "p AS (INSERT INTO postings (tx_id, account, amount) SELECT tx.id, l.account, l.amount FROM tx "
                f"JOIN (VALUES {lines}) AS l(kind, ref, account, amount, n, i) ON l.kind = tx.kind AND l.ref = tx.ref "
                "ORDER BY l.n, l.i) "
                "SELECT id, kind, ref FROM tx")  # fmt: skip


class LedgerRepo:
    """Balanced transactions in integer paise; balances are sums of postings."""

    def __init__(self, conn: AsyncConnection, now: str, day: str, collect: Any) -> None:
        self.conn, self.now, self.day, self._collect = conn, now, day, collect

    async def postings_of(self, tx_id: int) -> list[tuple[str, int]]:
        """The (account, amount) lines of one transaction, in posting order."""
        q = select(postings.c.account, postings.c.amount).where(postings.c.tx_id == tx_id).order_by(postings.c.id)
        return [(str(a), int(v)) for a, v in await self.conn.execute(q)]

    async def existing(self, kind: str, ref: str) -> int | None:
        """The id of an already recorded transaction with this kind and ref."""
        q = select(ledger_transactions.c.id).where(
            ledger_transactions.c.kind == kind, ledger_transactions.c.ref == ref
        )
        return (await self.conn.execute(q)).scalar_one_or_none()

    async def record(self, tx: Transaction, actor: str = "system") -> int:
        """Write a transaction (once per kind+ref) after checking guarded balances; return its id.

        The same kind+ref again with the same postings is the same transaction (idempotent);
        with different postings it is a different one under a reused ref: refused loudly."""
        if is_postgres(self.conn):
            return (await self._fast([tx], actor))[0]
        return await self._record_one(tx, actor)

    async def _record_one(self, tx: Transaction, actor: str) -> int:
        """`record` in plain statements: lock, check (idempotency and guarded balances), insert."""
        debits: dict[str, int] = {}
        for p in tx.postings:
            debits[p.account] = debits.get(p.account, 0) + p.amount
        guarded = sorted(a for a, d in debits.items() if d < 0 and is_guarded(a))
        for account in guarded:  # first, so the read below sees what an earlier holder committed
            await self._lock(account)
        # One round trip for the idempotency check and every guarded balance (a replay takes the
        # locks too, briefly: harmless, and it keeps the lock before the read on every path).
        lt = ledger_transactions
        found_q = select(lt.c.id).where(lt.c.kind == tx.kind, lt.c.ref == tx.ref).scalar_subquery()
        sums = [select(func.coalesce(func.sum(postings.c.amount), 0)).where(postings.c.account == a).scalar_subquery()
                for a in guarded]  # fmt: skip
        found, *balances = (await self.conn.execute(select(found_q, *sums))).one()
        if found is not None:
            stored = sorted(await self.postings_of(found))
            if stored != sorted((p.account, p.amount) for p in tx.postings):
                raise LedgerConflict(tx.kind, tx.ref, found)
            return int(found)
        for account, balance in zip(guarded, balances, strict=True):
            if int(balance) + debits[account] < 0:
                raise InsufficientFunds(account, int(balance), -debits[account])
        tx_id = await self._insert(tx)
        self._collect(
            [
                LedgerTransactionRecorded(
                    actor=actor,
                    tx_id=tx_id,
                    kind=tx.kind,
                    ref=tx.ref,
                    postings=[[p.account, p.amount] for p in tx.postings],
                )
            ]
        )
        return tx_id

    async def record_many(self, txs: Sequence[Transaction], actor: str = "system") -> list[int]:
        """Write several transactions as `record` writes each, in order; return their ids. Refused as
        a whole (InsufficientFunds) before anything is written when together they would drive a
        guarded account negative. PostgreSQL in two round trips whatever their number (`_fast`)."""
        if is_postgres(self.conn) and txs and len({(tx.kind, tx.ref) for tx in txs}) == len(txs):
            return await self._fast(txs, actor)
        if len(txs) > 1:
            guarded, debits = _debits(txs)
            for account in guarded:
                await self._lock(account)
            await self._check_together(txs, guarded, debits)
        return [await self._record_one(tx, actor) for tx in txs]

    async def _fast(self, txs: Sequence[Transaction], actor: str) -> list[int]:
        """PostgreSQL: every guarded account's lock (sorted: one total order), then one statement
        that inserts the transactions and their postings only when none of them is recorded yet
        and every guarded balance stays non-negative — read after the locks, so what an earlier
        holder committed is seen. When it inserts nothing, the plain check says why (a replay is
        idempotent, a reused ref or a shortfall is refused) with the locks still held."""
        guarded, debits = _debits(txs)
        if len(guarded) == 1:
            await self._lock(guarded[0])
        elif guarded:
            await self.conn.execute(text("SELECT count(pg_advisory_xact_lock(hashtext(a))) FROM "
                                         "(SELECT a FROM unnest(CAST(:accounts AS VARCHAR[])) AS a ORDER BY a) AS s"),
                                    {"accounts": guarded})  # fmt: skip
        args: dict[str, Any] = {"occurred_at": self.now, "day": self.day}
        for n, tx in enumerate(txs):
            args.update({f"k{n}": tx.kind, f"r{n}": tx.ref, f"m{n}": tx.memo})
            for i, p in enumerate(tx.postings):
                args.update({f"a{n}_{i}": p.account, f"v{n}_{i}": p.amount})
        for g, account in enumerate(guarded):
            args.update({f"g{g}": account, f"d{g}": debits[account]})
        q = _fast_statement(tuple(len(tx.postings) for tx in txs), len(guarded))
        ids = {(str(k), str(r)): int(i) for i, k, r in await self.conn.execute(q, args)}
        if not ids:  # a shortfall (raised, nothing written) or a replay, each then as `record` does
            await self._check_together(txs, guarded, debits)
            return [await self._record_one(tx, actor) for tx in txs]
        tx_ids = [ids[(tx.kind, tx.ref)] for tx in txs]
        self._collect([LedgerTransactionRecorded(actor=actor, tx_id=tx_id, kind=tx.kind, ref=tx.ref,
                                                 postings=[[p.account, p.amount] for p in tx.postings])
                       for tx_id, tx in zip(tx_ids, txs, strict=True)])  # fmt: skip
        return tx_ids

    async def _check_together(self, txs: Sequence[Transaction], guarded: list[str], debits: dict[str, int]) -> None:
        """Raise InsufficientFunds when these transactions together would drive a guarded account
        negative (the caller holds the accounts' locks); a replay in whole or in part is left to
        `_record_one` per transaction (idempotent, or LedgerConflict for a reused ref)."""
        lt = ledger_transactions
        found_q = select(func.count()).where(or_(*(and_(lt.c.kind == tx.kind, lt.c.ref == tx.ref) for tx in txs)))
        sums = [select(func.coalesce(func.sum(postings.c.amount), 0)).where(postings.c.account == a).scalar_subquery()
                for a in guarded]  # fmt: skip
        found, *balances = (await self.conn.execute(select(found_q.scalar_subquery(), *sums))).one()
        if found:
            return
        for account, balance in zip(guarded, balances, strict=True):
            if int(balance) + debits[account] < 0:
                raise InsufficientFunds(account, int(balance), -debits[account])

    async def _insert(self, tx: Transaction) -> int:
        """Store the transaction and its postings (in posting order); return its id. PostgreSQL
        in one round trip: the postings are inserted from the transaction's RETURNING."""
        values = {"kind": tx.kind, "ref": tx.ref, "memo": tx.memo, "occurred_at": self.now, "day": self.day}
        if is_postgres(self.conn):
            args = {f"{k}{i}": v for i, p in enumerate(tx.postings) for k, v in (("a", p.account), ("v", p.amount))}
            q = _insert_statement(len(tx.postings))
            return int((await self.conn.execute(q, {**values, **args})).scalars().all()[0])  # a row per posting
        tx_id = new_id(await self.conn.execute(ledger_transactions.insert().values(**values)))
        await self.conn.execute(postings.insert(), [{"tx_id": tx_id, "account": p.account, "amount": p.amount}
                                                    for p in tx.postings])  # fmt: skip
        return tx_id

    async def _lock(self, account: str) -> None:
        """Serialise spending from one account across connections (PostgreSQL)."""
        if is_postgres(self.conn):
            await self.conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:a))"), {"a": account})

    async def balance(self, account: str, *, lock: bool = False) -> int:
        """Sum of an account's postings in paise; `lock` holds spending from it until commit
        (the same per-account lock `record` takes before a debit)."""
        if lock:
            await self._lock(account)
        q = select(func.coalesce(func.sum(postings.c.amount), 0)).where(postings.c.account == account)
        return int((await self.conn.execute(q)).scalar_one())

    async def balances(self, prefix: str = "") -> dict[str, int]:
        """Every account (optionally under a prefix) with its balance."""
        q = select(postings.c.account, func.sum(postings.c.amount)).group_by(postings.c.account)
        if prefix:
            q = q.where(postings.c.account.startswith(prefix))
        return {a: int(b) for a, b in await self.conn.execute(q)}

    async def credits_on_day(self, prefix: str, day: str, kinds: Sequence[str]) -> dict[str, int]:
        """Per account under `prefix`, the paise credited on a business day by these kinds."""
        lt = ledger_transactions
        q = (
            select(postings.c.account, func.sum(postings.c.amount))
            .join(lt, lt.c.id == postings.c.tx_id)
            .where(postings.c.account.startswith(prefix), lt.c.day == day, lt.c.kind.in_(list(kinds)))
            .group_by(postings.c.account)
        )
        return {a: int(b) for a, b in await self.conn.execute(q)}

    async def transactions(self) -> AsyncGenerator[tuple[int, str, str, list[list[Any]]], None]:
        """Every transaction with its postings, in id order: (id, kind, ref, [[account, amount]])."""
        q = (
            select(ledger_transactions.c.id, ledger_transactions.c.kind, ledger_transactions.c.ref,
                   postings.c.account, postings.c.amount)
            .join(postings, postings.c.tx_id == ledger_transactions.c.id)
            .order_by(ledger_transactions.c.id, postings.c.id)
        )  # fmt: skip
        current: tuple[int, str, str, list[list[Any]]] | None = None
        result = await self.conn.stream(q.execution_options(yield_per=5000))  # flat memory on long ledgers
        try:
            async for tx_id, kind, ref, account, amount in result:
                if current is None or current[0] != tx_id:
                    if current is not None:
                        yield current
                    current = (tx_id, kind, ref, [])
                current[3].append([account, int(amount)])
        finally:  # a caller that stops early closes the server-side cursor now, not at GC
            await result.close()
        if current is not None:
            yield current


_cursors = itertools.count(1)


def new_cursor() -> int:
    """A number for a server-side cursor's name, unique in this process."""
    return next(_cursors)


async def _prefetched(cur: Any, batch: int) -> AsyncIterator[list[Any]]:
    """The cursor's rows in chunks, the next chunk already being fetched (by the database server or
    the driver's thread) while the caller works through this one."""
    pending = asyncio.ensure_future(cur.fetchmany(batch))
    try:
        while rows := await pending:
            pending = asyncio.ensure_future(cur.fetchmany(batch))
            yield rows
    finally:  # the caller stopped early (a broken chain): the cursor closes after the last fetch
        if not pending.done():
            pending.cancel()
        await asyncio.gather(pending, return_exceptions=True)


_ROOT = str(Path(__file__).resolve().parents[3])  # where `core` is importable from, for the workers


async def _in_processes(jobs: list[dict[str, Any]]) -> list[ChainFold]:
    """Run each range job in a `chain_worker` process of its own, all at once; their folds in order."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (_ROOT, os.environ.get("PYTHONPATH", "")) if p)}

    async def one(job: dict[str, Any]) -> ChainFold:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "core.adapters.sql.chain_worker", env=env,
                                                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)  # fmt: skip
        out, _ = await proc.communicate(json.dumps(job).encode())  # the job (and any password) on stdin
        if proc.returncode != 0:
            raise RuntimeError(f"chain worker for seq range {job['after']}..{job['upto']} failed ({proc.returncode})")
        result = json.loads(out)
        done = ChainFold(result["start"])
        done.head, done.count = result["head"], int(result["count"])
        return done

    return list(await asyncio.gather(*(one(job) for job in jobs)))


def _sqlite_fold(conn: sqlite3.Connection, done: ChainFold, batch: int) -> None:
    """Feed every event's hashed bytes, in seq order, to `done` (in aiosqlite's thread)."""
    cur = conn.execute("SELECT body FROM event_bodies ORDER BY seq")
    try:
        while rows := cur.fetchmany(batch):
            done.rows(rows)
    finally:
        cur.close()


def _dumps(value: str) -> str:
    """A JSON string exactly as canonical_json writes it."""
    return json.dumps(value, ensure_ascii=False)


# The audit's sampled column check, on the server (ok is NULL when a column is: not confirmed).
_CONFIRM_COLUMNS = text(
    "SELECT count(*) FILTER (WHERE ok), coalesce(array_agg(seq) FILTER (WHERE NOT ok), '{}') FROM ("
    "SELECT b.seq, coalesce(e.hash = encode(sha256(convert_to(e.prev_hash, 'UTF8') || b.body), 'hex') "
    "AND b.body = convert_to('{\"actor\":' || to_json(e.actor)::text || ',\"data\":' || e.data "
    "|| ',\"occurred_at\":' || to_json(e.occurred_at)::text || ',\"seq\":' || e.seq::text "
    "|| ',\"type\":' || to_json(e.type)::text || '}', 'UTF8'), false) AS ok "
    "FROM event_bodies b LEFT JOIN events e ON e.seq = b.seq WHERE b.seq = ANY(CAST(:seqs AS BIGINT[]))) AS s"
)

_EVENT_KEYS = ("seq", "type", "occurred_at", "actor", "data", "prev_hash", "hash")


@functools.lru_cache(maxsize=64)
def _append_statement(n: int) -> TextClause:
    """PostgreSQL: `n` events, their hashed bodies and the moved head in one statement. Written out
    as text, once per `n`: SQLAlchemy's multi-row insert constructs, built and compiled anew on every
    commit, cost more client time than the database spends on the statement (every write commits one)."""
    keys = ", ".join(_EVENT_KEYS)
    rows = ", ".join("(" + ", ".join(f":{k}{i}" for k in _EVENT_KEYS) + ")" for i in range(n))
    bodies = ", ".join(f"(:seq{i}, :body{i})" for i in range(n))
    return text(f"WITH appended AS (INSERT INTO events ({keys}) VALUES {rows}), "
                f"bodies AS (INSERT INTO event_bodies (seq, body) VALUES {bodies}) "
                "UPDATE chain_head SET seq = :head_seq, hash = :head_hash WHERE id = 1")  # fmt: skip


class ChainRepo:
    """The append-only, hash-chained event log."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def append(self, items: Sequence[DomainEvent], occurred_at: str) -> None:
        """Append events after the locked head, in order."""
        if not items:
            return
        q = select(chain_head.c.seq, chain_head.c.hash).where(chain_head.c.id == 1)
        if is_postgres(self.conn):
            q = q.with_for_update()
        seq, prev = (await self.conn.execute(q)).one()
        rows, bodies = [], []
        for ev in items:
            seq += 1
            data = json.loads(canonical_json(ev.data()))  # exactly what will be stored and re-read
            hashed = canonical_json(event_body(seq, ev.type, occurred_at, ev.actor, data))
            digest = link_hash_text(prev, hashed)
            rows.append(
                {"seq": seq, "type": ev.type, "occurred_at": occurred_at, "actor": ev.actor,
                 "data": canonical_json(data), "prev_hash": prev, "hash": digest}
            )  # fmt: skip
            bodies.append({"seq": seq, "body": hashed.encode()})
            prev = digest
        if is_postgres(self.conn):  # the events, their bodies and the head in one round trip
            args: dict[str, Any] = {"head_seq": seq, "head_hash": prev}
            for n, (row, body) in enumerate(zip(rows, bodies, strict=True)):
                args.update({f"{k}{n}": row[k] for k in _EVENT_KEYS})
                args[f"body{n}"] = body["body"]
            await self.conn.execute(_append_statement(len(rows)), args)
            return
        move_head = update(chain_head).where(chain_head.c.id == 1).values(seq=seq, hash=prev)
        await self.conn.execute(events.insert(), rows)
        await self.conn.execute(event_bodies.insert(), bodies)  # same transaction: both or neither
        await self.conn.execute(move_head)

    async def head(self) -> tuple[int, str]:
        """(seq, hash) of the newest event."""
        q = select(chain_head.c.seq, chain_head.c.hash).where(chain_head.c.id == 1)
        seq, digest = (await self.conn.execute(q)).one()
        return int(seq), str(digest)

    async def page(self, after: int, limit: int) -> list[ChainedEvent]:
        """Up to `limit` stored events with seq > `after`, in seq order."""
        q = select(events).where(events.c.seq > after).order_by(events.c.seq).limit(limit)
        return [ChainedEvent(r.seq, r.type, r.occurred_at, r.actor, json.loads(r.data), r.prev_hash, r.hash)
                for r in await self.conn.execute(q)]  # fmt: skip

    async def unconfirmed_columns(self, seqs: Sequence[int]) -> tuple[int, list[int]]:
        """(events confirmed by the store, seqs left for the caller to check; see the port).
        PostgreSQL checks on the server, in one statement, what `audit` checks in Python (sha256,
        and the body spliced from the columns with to_json quoting, which writes a JSON string
        exactly as Python's json.dumps(ensure_ascii=False) does): during the audit the client's
        core is busy with the hash loop and the server's is not. SQLite leaves them all."""
        if not is_postgres(self.conn) or not seqs:
            return 0, list(seqs)
        row = (await self.conn.execute(_CONFIRM_COLUMNS, {"seqs": [int(s) for s in seqs]})).one()
        return int(row[0]), sorted(int(s) for s in row[1])

    async def export_lines(self, after: int, limit: int) -> list[tuple[int, str]]:
        """(seq, published line) of up to `limit` events after `after`: the canonical JSON of the
        event with its hashes, spliced from the stored canonical `data` without re-serialising it."""
        q = select(events).where(events.c.seq > after).order_by(events.c.seq).limit(limit)
        out = []
        for r in await self.conn.execute(q):
            # keys in sorted order, as canonical_json writes them; `data` is stored canonical
            out.append((r.seq, f'{{"actor":{_dumps(r.actor)},"data":{r.data},"hash":{_dumps(r.hash)},'
                               f'"occurred_at":{_dumps(r.occurred_at)},"prev_hash":{_dumps(r.prev_hash)},'
                               f'"seq":{int(r.seq)},"type":{_dumps(r.type)}}}'))  # fmt: skip
        return out

    async def stream(self, batch: int = 5000) -> AsyncIterator[ChainedEvent]:
        """Every stored event in seq order, read in batches."""
        after = 0
        while True:
            q = select(events).where(events.c.seq > after).order_by(events.c.seq).limit(batch)
            rows = list(await self.conn.execute(q))
            if not rows:
                return
            for r in rows:
                yield ChainedEvent(r.seq, r.type, r.occurred_at, r.actor, json.loads(r.data), r.prev_hash, r.hash)
            after = rows[-1].seq


    async def fold_hashed(self, fold: Callable[[str], ChainFold], upto: int, *, ranges: int = 0,
                          range_min: int = 200_000) -> list[ChainFold]:  # fmt: skip
        """Chain every stored event's hashed bytes in seq order, as this transaction sees them, off
        the event loop; a long log in up to `ranges` seq ranges in processes of their own (see the port)."""
        return await (await self.begin_fold(fold, upto, ranges=ranges, range_min=range_min))

    async def begin_fold(self, fold: Callable[[str], ChainFold], upto: int, *, ranges: int = 0,
                         range_min: int = 200_000) -> asyncio.Future[list[ChainFold]]:  # fmt: skip
        """`fold_hashed` started: what it needs of this connection is done when this returns, and
        the future ends with its folds; meanwhile this unit of work may read on (see the port)."""
        # 0: one range per core on SQLite; on PostgreSQL one per two cores, since each range's
        # backend works about as hard streaming it as its worker does hashing it (on 2 cores and 1M
        # events: one pass 1.9x bare SHA-256, two ranges 2.4x).
        cores = os.cpu_count() or 1
        parts = max(1, min(ranges or (cores // 2 if is_postgres(self.conn) else cores), upto // max(1, range_min)))
        raw: Any = (await self.conn.get_raw_connection()).driver_connection  # psycopg or aiosqlite
        url = self.conn.engine.url
        if not is_postgres(self.conn):
            if parts > 1 and url.database not in (None, "", ":memory:"):
                # Each process reads in a transaction of its own: events up to the audited head
                # never change, so the last range stops at that head, and anything stored past it
                # in this transaction's snapshot is counted here (the count check then fails).
                cuts: list[int | None] = [None, *(upto * i // parts for i in range(1, parts)), upto]
                beyond = (await self.conn.execute(text("SELECT count(*) FROM event_bodies WHERE seq > :u"), {"u": upto})).scalar_one()
                jobs = [{"url": f"sqlite:{url.database}", "after": cuts[i], "upto": cuts[i + 1]} for i in range(parts)]

                async def ranged() -> list[ChainFold]:
                    folds = await _in_processes(jobs)
                    folds[-1].count += int(beyond)
                    return [fold(f.start).absorb(f) for f in folds]

                return asyncio.ensure_future(ranged())
            done = fold(GENESIS)

            async def whole() -> list[ChainFold]:
                if hasattr(raw, "_execute") and hasattr(raw, "_conn"):
                    # aiosqlite's own thread and connection (this transaction, so its snapshot):
                    # the plain sqlite3 cursor and the hash loop run there together, with no hop
                    # through the event loop per chunk (the hop and the GIL ping-pong cost more
                    # than hashing). This unit of work's next statements queue behind it there.
                    await raw._execute(_sqlite_fold, raw._conn, done, chain_worker.BATCH)
                else:  # another driver version: the same loop, chunk by chunk through the event loop
                    async for rows in self._raw_rows("SELECT body FROM event_bodies ORDER BY seq", chain_worker.BATCH):
                        done.rows(rows)
                return [done]

            return asyncio.ensure_future(whole())
        # PostgreSQL: the server's work per row (reading and sending it) costs about as much as
        # hashing it, so the hash loop runs off this connection, in this transaction's snapshot
        # (exported, imported by each reader); a long log in seq ranges, one process each.
        snapshot = str((await self.conn.execute(text("SELECT pg_export_snapshot()"))).scalar_one())
        # The passes this transaction runs meanwhile: without parallel workers, each of which would
        # take a core from the hash loop and the backend streaming to it (on 1M events, count(*)
        # alone spent 0.6 s of CPU in three processes for 0.2 s of wall time); and their cursors
        # planned for reading every row, not the first tenth (the ledger events read by type
        # through a named cursor: 0.35-0.40 s walking the seq index and filtering, against 0.01 s
        # through the type index).
        await self.conn.execute(text("SELECT set_config('max_parallel_workers_per_gather', '0', true), "
                                     "set_config('cursor_tuple_fraction', '1', true)"))  # fmt: skip
        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        if parts == 1:

            async def one() -> list[ChainFold]:
                return [fold(GENESIS).absorb(await asyncio.to_thread(chain_worker.fold_postgres, conninfo, snapshot, None, None))]

            return asyncio.ensure_future(one())
        cuts = [None, *(upto * i // parts for i in range(1, parts)), None]
        pg_jobs = [{"url": conninfo, "snapshot": snapshot, "after": cuts[i], "upto": cuts[i + 1]} for i in range(parts)]

        async def several() -> list[ChainFold]:
            return [fold(f.start).absorb(f) for f in await _in_processes(pg_jobs)]

        return asyncio.ensure_future(several())

    async def bodies(self, type_: str, batch: int = 5000) -> AsyncIterator[list[HashedRow]]:
        """The hashed body bytes of every event of one type, in seq order."""
        sql = "SELECT b.body FROM events e JOIN event_bodies b ON b.seq = e.seq WHERE e.type = %s ORDER BY e.seq"
        async for rows in self._raw_rows(sql, batch, (type_,)):
            yield rows

    async def event_rows(self) -> tuple[int, int, int]:
        """(how many rows `events` holds, the lowest and the highest seq among them; 0 when empty)."""
        e = events.c
        n, low, top = (await self.conn.execute(select(func.count(), func.coalesce(func.min(e.seq), 0),
                                                      func.coalesce(func.max(e.seq), 0)))).one()  # fmt: skip
        return int(n), int(low), int(top)

    async def _raw_rows(self, sql: str, batch: int, args: tuple[Any, ...] = ()) -> AsyncIterator[list[Any]]:
        """Rows of a query through the driver's cursor (no SQLAlchemy row objects), chunk by chunk."""
        raw: Any = (await self.conn.get_raw_connection()).driver_connection  # psycopg or aiosqlite
        if is_postgres(self.conn):
            async with raw.cursor(name=f"ketpaar_{new_cursor()}", binary=True) as cur:  # bytea as raw bytes
                await cur.execute(sql, args)
                async for rows in _prefetched(cur, batch):
                    yield rows
            return
        async with raw.execute(sql.replace("%s", "?"), args) as cur:  # aiosqlite: fetched in its thread
            async for rows in _prefetched(cur, batch):
                yield rows

    async def position(self, n: int) -> tuple[int, str] | None:
        """(seq, prev_hash) of the `n`-th stored event in seq order (1-based), to name what broke."""
        q = select(events.c.seq, events.c.prev_hash).order_by(events.c.seq).offset(n - 1).limit(1)
        row = (await self.conn.execute(q)).first()
        return None if row is None else (int(row[0]), str(row[1]))

    async def columns(self, seqs: Sequence[int] | None, batch: int = 5000) -> AsyncGenerator[list[StoredColumns], None]:
        """The structured columns and hashed body of these events (None: of all), in seq order: every
        stored body, with None for the columns of a body whose `events` row is missing."""
        # The driver's cursor, not SQLAlchemy rows: a sampled audit of a million events looks up
        # tens of thousands of them, and the row objects cost more than the lookups.
        sql = ("SELECT b.seq, e.type, e.occurred_at, e.actor, e.data, e.prev_hash, e.hash, b.body "
               "FROM event_bodies b LEFT JOIN events e ON e.seq = b.seq")  # fmt: skip
        if seqs is None:
            async for rows in self._raw_rows(f"{sql} ORDER BY b.seq", batch):
                yield cast(list[StoredColumns], rows)
            return
        if is_postgres(self.conn):  # one statement, its rows streamed: one round trip per chunk read
            part = [int(s) for s in seqs]
            async for rows in self._raw_rows(f"{sql} WHERE b.seq = ANY(%s) ORDER BY b.seq", batch, (part,)):
                yield cast(list[StoredColumns], rows)
            return
        step = 500  # SQLite: looked up by primary key, a chunk at a time (bound parameters are capped)
        for i in range(0, len(seqs), step):
            part = [int(s) for s in seqs[i : i + step]]
            where = f"b.seq IN ({', '.join('%s' for _ in part)})"
            async for rows in self._raw_rows(f"{sql} WHERE {where} ORDER BY b.seq", step, tuple(part)):
                yield cast(list[StoredColumns], rows)


class ParamRepo:
    """Governed parameters with their full history.

    The current values are read once per unit of work (a batch of messages reads them once, and
    sees one set of terms throughout); a change through this repository or an undone savepoint
    makes it read them again."""

    def __init__(self, conn: AsyncConnection, now: str, collect: Any) -> None:
        self.conn, self.now, self._collect = conn, now, collect
        self._current: Params | None = None

    def forget(self) -> None:
        """Read the values again next time (a savepoint that changed them was undone)."""
        self._current = None

    async def current(self) -> Params:
        """The latest value of every parameter (defaults for any never set)."""
        if self._current is not None:
            return self._current
        latest = select(parameters.c.name, func.max(parameters.c.id).label("id")).group_by(parameters.c.name).subquery()
        q = select(parameters.c.name, parameters.c.value).join(latest, latest.c.id == parameters.c.id)
        values = {name: int(value) for name, value in await self.conn.execute(q) if name in PARAM_NAMES}
        self._current = replace(Params(), **values)
        return self._current

    async def as_of(self, moment: str) -> Params:
        """The values in force at a moment (defaults for any not yet set then): an order keeps
        the terms of when it was started, whatever a proposal changed since."""
        latest = (select(parameters.c.name, func.max(parameters.c.id).label("id"))
                  .where(parameters.c.changed_at <= moment).group_by(parameters.c.name).subquery())  # fmt: skip
        q = select(parameters.c.name, parameters.c.value).join(latest, latest.c.id == parameters.c.id)
        values = {name: int(value) for name, value in await self.conn.execute(q) if name in PARAM_NAMES}
        return replace(Params(), **values)

    async def ensure_initial(self, initial: Params) -> None:
        """Record setup values for parameters that have never been set."""
        initial.validate()
        known = {n for (n,) in await self.conn.execute(select(parameters.c.name).distinct())}
        for name in PARAM_NAMES:
            if name not in known:
                await self._write(name, None, getattr(initial, name), "setup")

    async def change(self, name: str, value: int, source: str) -> None:
        """Give a parameter a new value (from a passed proposal or setup)."""
        if name not in PARAM_NAMES:
            raise KeyError(name)
        current = await self.current()
        replace(current, **{name: value}).validate()
        await self._write(name, getattr(current, name), value, source)

    async def change_many(self, changes: dict[str, int], source: str) -> None:
        """Give several parameters new values at once (checked together: the fee shares move as one)."""
        unknown = set(changes) - set(PARAM_NAMES)
        if unknown:
            raise KeyError(sorted(unknown)[0])
        current = await self.current()
        replace(current, **changes).validate()
        for name in sorted(changes):
            await self._write(name, getattr(current, name), changes[name], source)

    async def _write(self, name: str, old: int | None, new: int, source: str) -> None:
        self._current = None
        await self.conn.execute(
            parameters.insert().values(name=name, value=new, changed_at=self.now, source=source)
        )
        self._collect([ParameterChanged(actor="system", name=name, old=old, new=new, source=source)])

    async def history(self, name: str) -> list[tuple[int, str, str]]:
        """(value, changed_at, source) of every value a parameter has had."""
        q = select(parameters.c.value, parameters.c.changed_at, parameters.c.source).where(
            parameters.c.name == name
        )
        return [(int(v), c, s) for v, c, s in await self.conn.execute(q.order_by(parameters.c.id))]

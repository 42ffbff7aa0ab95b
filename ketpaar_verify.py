"""Verify a Ketpaar event log without trusting the server: one file, Python standard library only.

    python -m ketpaar_verify events.jsonl [--since checkpoint.json] [--key HEX] [--checkpoint-out FILE]

Copy this file anywhere (a laptop, Termux on a phone) and run it as `python ketpaar_verify.py ...`.
It recomputes the SHA-256 chain exactly as the service does (hash = sha256(prev_hash +
canonical_json(event)), canonical JSON = sorted keys, no spaces, UTF-8, genesis 64 zeros), checks
that every ledger transaction balances, prints balances per kind of account, and with --since
checks that the log extends a saved, Ed25519-signed daily checkpoint (no history rewritten).
Each problem is named: TAMPERED, REMOVED, REORDERED, BROKEN-LINK, UNBALANCED, NOT-JSON,
REWRITTEN, TRUNCATED, BAD-SIGNATURE, WRONG-KEY. Exit status 0 only when everything holds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

GENESIS = "0" * 64
CHECKPOINT_DOMAIN = b"ketpaar checkpoint v1\n"  # signed bytes = domain + canonical JSON of the body
EVENT_KEYS = ("seq", "type", "occurred_at", "actor", "data")
REQUIRED = frozenset((*EVENT_KEYS, "prev_hash", "hash"))


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 characters kept: the service's canonical form."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def link_hash(prev_hash: str, body: dict[str, Any]) -> str:
    """hash = sha256(prev_hash + canonical_json(event body))."""
    return hashlib.sha256((prev_hash + canonical_json(body)).encode("utf-8")).hexdigest()


def account_kind(account: str) -> str:
    """`worker:3` -> `worker`; `escrow:order:9` -> `escrow`."""
    return account.split(":", 1)[0]


# --- Ed25519 verification (RFC 8032, section 6), pure Python ------------------------------------
# Slow next to a C library but one checkpoint takes milliseconds, and it keeps this file standalone.
_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_I = pow(2, (_P - 1) // 4, _P)
_Point = tuple[int, int, int, int]


def _add(a: _Point, b: _Point) -> _Point:
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa, bb = (y1 - x1) * (y2 - x2) % _P, (y1 + x1) * (y2 + x2) % _P
    cc, dd = t1 * 2 * _D * t2 % _P, z1 * 2 * z2 % _P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _mul(s: int, p: _Point) -> _Point:
    q: _Point = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _add(q, p)
        p = _add(p, p)
        s >>= 1
    return q


def _equal(a: _Point, b: _Point) -> bool:
    return (a[0] * b[2] - b[0] * a[2]) % _P == 0 and (a[1] * b[2] - b[1] * a[2]) % _P == 0


def _recover_x(y: int, sign: int) -> int | None:
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P)
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _I % _P
    if (x * x - x2) % _P != 0:
        return None
    return _P - x if (x & 1) != sign else x


def _decompress(raw: bytes) -> _Point | None:
    if len(raw) != 32:
        return None
    y = int.from_bytes(raw, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % _P)


_GY = 4 * pow(5, _P - 2, _P) % _P
_G: _Point = (_recover_x(_GY, 0) or 0, _GY, 1, (_recover_x(_GY, 0) or 0) * _GY % _P)


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    """True when `signature` is a valid Ed25519 signature of `message` by `public`."""
    if len(public) != 32 or len(signature) != 64:
        return False
    a, r = _decompress(public), _decompress(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= _L:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % _L
    return _equal(_mul(s, _G), _add(r, _mul(h, a)))


# --- checkpoints --------------------------------------------------------------------------------


def checkpoint_message(body: dict[str, Any]) -> bytes:
    """The bytes a checkpoint's signature covers: everything but the signature itself."""
    unsigned = {k: v for k, v in body.items() if k != "signature"}
    return CHECKPOINT_DOMAIN + canonical_json(unsigned).encode("utf-8")


def check_checkpoint_signature(cp: dict[str, Any], pinned_key: str | None) -> str:
    """Return the named problem with a checkpoint's signature ("" when it holds)."""
    key = str(cp.get("key", ""))
    if pinned_key and key.lower() != pinned_key.lower():
        return f"WRONG-KEY: checkpoint signed by {key[:16]}…, expected {pinned_key[:16]}…"
    try:
        ok = ed25519_verify(bytes.fromhex(key), checkpoint_message(cp), bytes.fromhex(str(cp.get("signature", ""))))
    except ValueError:
        ok = False
    return "" if ok else f"BAD-SIGNATURE: checkpoint at seq {cp.get('seq')} is not signed by key {key[:16]}…"


# --- the log ------------------------------------------------------------------------------------


@dataclass
class Report:
    """What a verification found; `problems` empty means the log holds."""

    events: int = 0
    head: str = GENESIS
    transactions: int = 0
    balances: dict[str, int] = field(default_factory=dict)  # by kind of account, paise
    problems: list[str] = field(default_factory=list)
    at_checkpoint: tuple[str, dict[str, int]] | None = None  # (hash, totals) at the checkpoint's seq

    @property
    def ok(self) -> bool:
        """True when nothing was found wrong."""
        return not self.problems


def _parse(lines: Iterable[str]) -> Iterator[tuple[int, str, dict[str, Any] | str]]:
    """(line number, line, event) per non-empty line; a string instead of an event names a bad line."""
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            ev = json.loads(line)
        except ValueError:
            yield n, line, f"NOT-JSON: line {n} is not a JSON event"
            continue
        if not isinstance(ev, dict) or not ev.keys() >= REQUIRED or not isinstance(ev["seq"], int):
            yield n, line, f"NOT-JSON: line {n} is not an event (needs seq, type, occurred_at, actor, data, prev_hash, hash)"
            continue
        yield n, line, ev


def _hashes(prev: str, line: str, ev: dict[str, Any]) -> bool:
    """Tell whether the event's hash is sha256(prev + canonical body).

    Fast path: a line exported canonically is the body with `"hash":…` and `"prev_hash":…` spliced
    in (sorted keys put both after "data"; a nested key of that name sits inside "data", and the
    last occurrence is the top-level one), so cutting them out gives the hashed bytes without
    re-serialising. Those bytes are what the service hashed exactly when the hash matches, and the
    parsed event is then theirs. Otherwise the body is rebuilt canonically (a line saved with other
    spacing still verifies; a changed one does not)."""
    text = line.rstrip("\r\n")
    cut = text.rfind(',"prev_hash":"')
    if cut > 0 and text[cut + 14 + 64 : cut + 16 + 64] == '",':
        text = text[:cut] + text[cut + 16 + 64 - 1 :]
        cut = text.rfind(',"hash":"')
        if cut > 0 and text[cut + 9 + 64 : cut + 11 + 64] == '",':
            body = text[:cut] + text[cut + 11 + 64 - 1 :]
            if hashlib.sha256((prev + body).encode("utf-8")).hexdigest() == ev["hash"]:
                return True
    return bool(link_hash(prev, {k: ev[k] for k in EVENT_KEYS}) == ev["hash"])


def _postings_problem(ev: dict[str, Any]) -> str:
    data = ev["data"]
    postings = data.get("postings") if isinstance(data, dict) else None
    if not isinstance(postings, list) or not postings:
        return f"UNBALANCED: event seq {ev['seq']}: a ledger transaction without postings"
    total = 0
    for p in postings:
        if not (isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and type(p[1]) is int):
            return f"UNBALANCED: event seq {ev['seq']}: a posting is not [account, integer paise]"
        total += p[1]
    if total:
        return f"UNBALANCED: event seq {ev['seq']}: transaction {data.get('tx_id')} sums to {total} paise, not 0"
    return ""


def verify(lines: Iterable[str], checkpoint_seq: int | None = None, stop_at_first: bool = True) -> Report:
    """Check the chain and every transaction of a JSON Lines log; names the first problem found."""
    rep = Report()
    pending: list[tuple[int, str, dict[str, Any] | str]] = []
    items = _parse(lines)

    def take() -> tuple[int, str, dict[str, Any] | str] | None:
        return pending.pop() if pending else next(items, None)

    while (item := take()) is not None:
        n, line, ev = item
        if isinstance(ev, str):
            rep.problems.append(ev)
            break
        expected = rep.events + 1
        if ev["seq"] != expected:
            following = take()
            if following is not None:
                pending.append(following)
            nxt = following[2] if following is not None and isinstance(following[2], dict) else None
            if ev["seq"] > expected and nxt is not None and nxt["seq"] == expected:
                rep.problems.append(f"REORDERED: line {n} holds seq {ev['seq']} before seq {expected}")
            elif ev["seq"] > expected:
                gap = f"seq {expected}" if ev["seq"] == expected + 1 else f"seq {expected}..{ev['seq'] - 1}"
                rep.problems.append(f"REMOVED: {gap} missing before line {n} (seq {ev['seq']})")
            else:
                rep.problems.append(f"REORDERED: line {n} holds seq {ev['seq']} again after seq {rep.events}")
            break
        if ev["prev_hash"] != rep.head:
            rep.problems.append(f"BROKEN-LINK: event seq {expected} (line {n}): prev_hash is not the hash of seq {rep.events}")
            break
        if not _hashes(rep.head, line, ev):
            rep.problems.append(f"TAMPERED: event seq {expected} (line {n}): its content does not match its hash")
            break
        if ev["type"] == "ledger.transaction":
            if problem := _postings_problem(ev):
                rep.problems.append(problem)
                break
            rep.transactions += 1
            for account, amount in ev["data"]["postings"]:
                kind = account_kind(account)
                rep.balances[kind] = rep.balances.get(kind, 0) + amount
        rep.events, rep.head = expected, ev["hash"]
        if checkpoint_seq == expected:
            rep.at_checkpoint = (rep.head, dict(rep.balances))
    return rep


def check_since(rep: Report, cp: dict[str, Any]) -> str:
    """Return the named problem if the verified log does not extend checkpoint `cp` ("" if it does)."""
    seq, head = int(cp.get("seq", 0)), str(cp.get("head", ""))
    if seq == 0:
        return "" if head == GENESIS else "REWRITTEN: an empty checkpoint must have the genesis head"
    if rep.events < seq:
        return f"TRUNCATED: the log ends at seq {rep.events}, before the checkpoint's seq {seq}"
    assert rep.at_checkpoint is not None
    got, totals = rep.at_checkpoint
    if got != head:
        return f"REWRITTEN: history up to seq {seq} differs from the checkpoint of {cp.get('day')} (hash {got[:16]}… ≠ {head[:16]}…)"
    want = {k: int(v) for k, v in dict(cp.get("totals", {})).items() if int(v)}
    if {k: v for k, v in totals.items() if v} != want:
        return f"REWRITTEN: balances at seq {seq} differ from the checkpoint's totals"
    return ""


def rupees(paise: int) -> str:
    """12345 -> '₹123.45' (with a minus sign when negative)."""
    sign, paise = ("-" if paise < 0 else ""), abs(paise)
    return f"{sign}₹{paise // 100:,}.{paise % 100:02d}"


def main(argv: list[str] | None = None) -> int:
    """Command line entry: verify a log file, print the findings, return the exit status."""
    ap = argparse.ArgumentParser(prog="ketpaar_verify", description="Verify a Ketpaar event log (JSON Lines).")
    ap.add_argument("log", help="events.jsonl as exported by GET /api/events ('-' reads stdin)")
    ap.add_argument("--since", action="append", default=[], help="a saved checkpoint.json the log must extend")
    ap.add_argument("--key", help="the cooperative's Ed25519 public key (hex) to pin")
    args = ap.parse_args(argv)
    checkpoints: list[dict[str, Any]] = []
    problems: list[str] = []
    for path in args.since:
        with open(path, encoding="utf-8") as f:
            cp = json.load(f)
        checkpoints.append(cp)
        if problem := check_checkpoint_signature(cp, args.key):
            problems.append(problem)
    # One pass can remember one seq; a second --since re-reads the file (rare, and still streaming).
    reports = []
    targets: list[dict[str, Any] | None] = list(checkpoints) or [None]
    for cp in targets:
        stream = sys.stdin if args.log == "-" else open(args.log, encoding="utf-8")  # noqa: SIM115
        with stream:
            reports.append(verify(stream, int(cp["seq"]) if cp else None))
        if args.log == "-":
            break
    rep = reports[0]
    problems[:0] = rep.problems
    if rep.ok:
        for cp, r in zip(checkpoints, reports, strict=False):
            if problem := check_since(r, cp):
                problems.append(problem)
    print(f"events: {rep.events}")
    print(f"head: {rep.head}")
    print(f"ledger transactions: {rep.transactions}")
    print("balances by kind of account:")
    for kind, paise in sorted(rep.balances.items()):
        print(f"  {kind:<10} {paise:>16} paise  {rupees(paise)}")
    for cp in checkpoints:
        print(f"checkpoint {cp.get('day')} seq {cp.get('seq')}: {'extended' if not problems else 'see problems'}")
    if problems:
        for p in problems:
            print(f"PROBLEM {p}")
        print("FAILED")
        return 1
    print("OK: the chain holds and every transaction balances")
    return 0


if __name__ == "__main__":
    sys.exit(main())

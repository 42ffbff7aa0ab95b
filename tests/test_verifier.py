"""The standalone verifier: it accepts a log the service wrote and names every kind of tampering."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ketpaar_verify as kv
from core.ledger.chain import GENESIS, ChainedEvent, event_body, link_hash
from core.ledger.checkpoints import Signer, checkpoint_message
from core.ledger.export import export_line

REPO = Path(__file__).resolve().parents[1]
SEED = bytes(range(32))


def chain(bodies: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Exported lines of a chain built exactly as the service builds it."""
    lines, prev = [], GENESIS
    for seq, (type_, data) in enumerate(bodies, 1):
        body = event_body(seq, type_, f"2026-11-2{seq % 10}T06:30:00+00:00", "system", data)
        digest = link_hash(prev, body)
        lines.append(export_line(ChainedEvent(seq, type_, body["occurred_at"], "system", data, prev, digest)))
        prev = digest
    return lines


def tx(tx_id: int, *postings: tuple[str, int]) -> tuple[str, dict[str, Any]]:
    return "ledger.transaction", {"tx_id": tx_id, "kind": "k", "ref": f"r{tx_id}", "postings": [list(p) for p in postings]}


def sample(n: int = 12) -> list[str]:
    """The exported lines of `bodies(n)`."""
    return chain(bodies(n))


def bodies(n: int = 12) -> list[tuple[str, dict[str, Any]]]:
    """A deposit, then n-1 events alternating settlements and order moves, names in Tamil too."""
    out = [tx(1, ("external:deposits", -100_000), ("donor:1", 100_000))]
    for i in range(2, n + 1):
        if i % 2:
            out.append(tx(i, ("donor:1", -120), ("worker:3", 100), ("pool:guarantee", 10), ("fund:infra", 10)))
        else:
            out.append(("order.transitioned", {"order_id": i, "transition": "post", "from_status": "accepted",
                                               "to_status": "on_board", "details": {"zone": "tf31s", "meal": "தயிர் சாதம்"}}))
    return out


def checkpoint(lines: list[str], day: str = "2026-11-22") -> dict[str, Any]:
    """A checkpoint of these lines signed as the service signs it."""
    rep = kv.verify(lines)
    body: dict[str, Any] = {"day": day, "seq": rep.events, "head": rep.head, "totals": {k: v for k, v in sorted(rep.balances.items()) if v},
                            "issued_at": "2026-11-23T18:50:00+00:00", "key": Signer(SEED).public_hex}  # fmt: skip
    body["signature"] = Signer(SEED).sign(checkpoint_message(body))
    return body


def test_a_log_built_like_the_services_verifies_and_prints_balances_by_kind() -> None:
    rep = kv.verify(sample())
    assert rep.ok and rep.events == 12 and rep.transactions == 6
    assert rep.balances == {"external": -100_000, "donor": 100_000 - 5 * 120, "worker": 500, "pool": 50, "fund": 50}


def test_a_tampered_byte_is_caught_and_named() -> None:
    lines = sample()
    tampered = lines[3].replace('"to_status":"on_board"', '"to_status":"on_boarx"')
    assert len(tampered) == len(lines[3]) and tampered != lines[3]  # one byte: 'd' became 'x'
    lines[3] = tampered
    rep = kv.verify(lines)
    assert rep.problems == ["TAMPERED: event seq 4 (line 4): its content does not match its hash"]


def test_a_tampered_amount_that_still_balances_is_caught_by_the_hash() -> None:
    lines = sample()
    lines[2] = lines[2].replace('["worker:3",100]', '["worker:3",90]').replace('["pool:guarantee",10]', '["pool:guarantee",20]')
    assert kv.verify(lines).problems[0].startswith("TAMPERED: event seq 3")


def test_an_unbalanced_transaction_is_named_even_with_a_good_hash() -> None:
    lines = chain([tx(1, ("external:deposits", -100), ("donor:1", 99))])
    assert kv.verify(lines).problems == ["UNBALANCED: event seq 1: transaction 1 sums to -1 paise, not 0"]


def test_a_removed_event_is_caught_and_named() -> None:
    lines = sample()
    del lines[6]
    assert kv.verify(lines).problems == ["REMOVED: seq 7 missing before line 7 (seq 8)"]


def test_a_reordered_pair_is_caught_and_named() -> None:
    lines = sample()
    lines[3], lines[4] = lines[4], lines[3]
    assert kv.verify(lines).problems == ["REORDERED: line 4 holds seq 5 before seq 4"]


def test_a_replaced_link_is_named() -> None:
    lines = sample()
    ev = json.loads(lines[5])
    ev["prev_hash"] = "f" * 64
    lines[5] = json.dumps(ev)
    assert kv.verify(lines).problems == ["BROKEN-LINK: event seq 6 (line 6): prev_hash is not the hash of seq 5"]


def test_a_line_that_is_not_json_is_named() -> None:
    lines = sample()
    lines[1] = lines[1][:-3]
    assert kv.verify(lines).problems == ["NOT-JSON: line 2 is not a JSON event"]


def test_the_log_extends_yesterdays_checkpoint() -> None:
    yesterday = sample(8)
    cp = checkpoint(yesterday)
    assert kv.check_checkpoint_signature(cp, Signer(SEED).public_hex) == ""
    today = sample(12)  # the same first 8 events, then 4 more
    rep = kv.verify(today, cp["seq"])
    assert rep.ok and kv.check_since(rep, cp) == ""


def test_a_rewritten_history_verifies_alone_but_not_against_yesterdays_checkpoint() -> None:
    cp = checkpoint(sample(8))
    events = bodies(12)
    events[2] = tx(3, ("donor:1", -120), ("worker:3", 120))  # the pool's share quietly taken, every hash redone
    rewritten = chain(events)
    rep = kv.verify(rewritten, cp["seq"])
    assert rep.ok, "a consistent rewrite passes on its own: only the checkpoint can catch it"
    assert kv.check_since(rep, cp).startswith("REWRITTEN: history up to seq 8 differs from the checkpoint of 2026-11-22")


def test_a_truncated_log_is_named_against_the_checkpoint() -> None:
    cp = checkpoint(sample(8))
    rep = kv.verify(sample(6), cp["seq"])
    assert kv.check_since(rep, cp) == "TRUNCATED: the log ends at seq 6, before the checkpoint's seq 8"


def test_a_forged_or_foreign_checkpoint_is_named() -> None:
    cp = checkpoint(sample(8))
    forged = {**cp, "seq": 7}
    assert kv.check_checkpoint_signature(forged, None).startswith("BAD-SIGNATURE")
    other = Signer(bytes(32))
    assert kv.check_checkpoint_signature(cp, other.public_hex).startswith("WRONG-KEY")
    assert kv.check_checkpoint_signature({**cp, "signature": "zz"}, None).startswith("BAD-SIGNATURE")


@settings(max_examples=25, deadline=None)
@given(st.binary(min_size=1, max_size=200), st.integers(0, 63))
def test_the_pure_python_ed25519_agrees_with_the_cryptography_package(message: bytes, flip: int) -> None:
    signer = Signer(SEED)
    sig = bytes.fromhex(signer.sign(message))
    key = bytes.fromhex(signer.public_hex)
    assert kv.ed25519_verify(key, message, sig)
    bad = bytearray(sig)
    bad[flip] ^= 1
    assert not kv.ed25519_verify(key, message, bytes(bad))


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_any_single_byte_change_is_caught(data: st.DataObject) -> None:
    lines = sample(6)
    i = data.draw(st.integers(0, len(lines) - 1))
    pos = data.draw(st.integers(0, len(lines[i]) - 1))
    char = data.draw(st.characters(codec="utf-8"))
    changed = lines[i][:pos] + char + lines[i][pos + 1 :]
    if changed == lines[i]:
        return
    try:
        same = json.loads(changed) == json.loads(lines[i])
    except ValueError:
        same = False
    lines[i] = changed
    rep = kv.verify(lines)
    assert same or not rep.ok, f"not caught: {changed}"


def run_cli(*args: str, cwd: Path, python: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*(python or [sys.executable]), *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_python_m_ketpaar_verify_runs_from_the_repo_and_names_the_problem(tmp_path: Path) -> None:
    good, bad, cp = tmp_path / "events.jsonl", tmp_path / "bad.jsonl", tmp_path / "checkpoint.json"
    good.write_text("".join(line + "\n" for line in sample()), encoding="utf-8")
    lines = sample()
    del lines[2]
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cp.write_text(json.dumps(checkpoint(sample(8))), encoding="utf-8")
    ok = run_cli("-m", "ketpaar_verify", str(good), "--since", str(cp), "--key", Signer(SEED).public_hex, cwd=REPO)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "events: 12" in ok.stdout and "pool" in ok.stdout and "OK:" in ok.stdout
    failed = run_cli("-m", "ketpaar_verify", str(bad), cwd=REPO)
    assert failed.returncode == 1 and "PROBLEM REMOVED: seq 3 missing" in failed.stdout


def test_the_verifier_is_one_file_that_needs_only_the_standard_library(tmp_path: Path) -> None:
    # Copied alone to a bare directory and run with -I -S (no site-packages, no repo on the path):
    # what a member does with Termux on a phone.
    shutil.copy(REPO / "ketpaar_verify.py", tmp_path / "ketpaar_verify.py")
    log = tmp_path / "events.jsonl"
    log.write_text("\n".join(sample()) + "\n", encoding="utf-8")
    (tmp_path / "cp.json").write_text(json.dumps(checkpoint(sample(8))), encoding="utf-8")
    done = run_cli("ketpaar_verify.py", "events.jsonl", "--since", "cp.json", cwd=tmp_path, python=[sys.executable, "-I", "-S"])
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("n", [0, 1])
def test_an_empty_or_one_event_log(n: int) -> None:
    rep = kv.verify(sample(1)[:n])
    assert rep.ok and rep.events == n


def test_a_log_saved_with_other_spacing_or_nested_hash_keys_still_verifies() -> None:
    lines = chain([("odd.event", {"hash": "f" * 64, "prev_hash": "0" * 64, "note": ',"hash":"'}), *bodies(3)])
    assert kv.verify(lines).ok
    spaced = [json.dumps(json.loads(line), indent=None, separators=(", ", ": ")) for line in lines]
    assert kv.verify(spaced).ok  # the bytes differ, the content does not: the canonical rebuild agrees
    spaced[1] = spaced[1].replace('"kind": "k"', '"kind": "K"')
    assert kv.verify(spaced).problems[0].startswith("TAMPERED: event seq 2")

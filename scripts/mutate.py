"""Mutation check of the money and order rules: each small, plausible bug below must make the focused
tests fail. Run with `make mutate` (minutes; not part of `make test`).

Each mutation is applied to a fresh copy of the checkout, never to the checkout itself."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutation:
    """One bug: in `path`, the exact `original` text (found exactly once) becomes `replacement`."""

    name: str
    path: str
    original: str
    replacement: str


MUTATIONS: tuple[Mutation, ...] = (
    Mutation(
        "fee remainder goes to the pool",
        "core/ledger/model.py",
        "return FeeSplit(worker=fee - pool - infra, pool=pool, infra=infra)",
        "return FeeSplit(worker=fee * worker_bp // BP, pool=fee - fee * worker_bp // BP - infra, infra=infra)",
    ),
    Mutation(
        "sum-to-zero check off",
        "core/ledger/model.py",
        "        if total != 0:\n            raise UnbalancedTransaction",
        "        if False:\n            raise UnbalancedTransaction",
    ),
    Mutation(
        "integer-paise check off",
        "core/ledger/model.py",
        "if not isinstance(self.amount, int) or isinstance(self.amount, bool):",
        "if False:",
    ),
    Mutation(
        "bool accepted as paise",
        "core/ledger/model.py",
        "if not isinstance(self.amount, int) or isinstance(self.amount, bool):",
        "if not isinstance(self.amount, int):",
    ),
    Mutation(
        "worker share one paisa short (pool gets it)",
        "core/ledger/model.py",
        "    pool = fee * pool_bp // BP\n",
        "    pool = fee * pool_bp // BP + (fee > 0)\n",
    ),
    Mutation(
        "tip paid to the pool, not the worker",
        "core/ledger/model.py",
        "Posting(worker_account(worker_id), pay.tip),",
        "Posting(POOL, pay.tip),",
    ),
    Mutation(
        "settlement skips infra (its share to the pool)",
        "core/ledger/model.py",
        "Posting(INFRA, split.infra),",
        "Posting(POOL, split.infra),",
    ),
    Mutation(
        "transfer sign flipped",
        "core/ledger/model.py",
        "(Posting(source, -amount), Posting(dest, amount))",
        "(Posting(source, amount), Posting(dest, -amount))",
    ),
    Mutation(
        "pro-rating gives the odd paise to the smallest needs",
        "core/ledger/model.py",
        "key=lambda k: (-needs[k], k)",
        "key=lambda k: (needs[k], k)",
    ),
    Mutation(
        "pro-rating keeps the paise lost to flooring",
        "core/ledger/model.py",
        "    left = available - sum(out.values())\n",
        "    left = 0\n",
    ),
    Mutation(
        "refund one paisa too many",
        "core/orders/funding.py",
        "value = min(in_escrow if amount is None else amount, sum(weights), in_escrow)",
        "value = min(in_escrow if amount is None else amount + 1, sum(weights), in_escrow)",
    ),
    Mutation(
        "refund split gives the odd paise to the smallest remainders",
        "core/orders/funding.py",
        "key=lambda i: (-(total * weights[i] % whole), i)",
        "key=lambda i: ((total * weights[i] % whole), i)",
    ),
    Mutation(
        "a contribution counts one paisa more refunded than it got",
        "core/orders/funding.py",
        "            await uow.contributions.add_refunded(contribution.id, part)\n",
        "            await uow.contributions.add_refunded(contribution.id, part + 1)\n",
    ),
    Mutation(
        "a failed delivery's tip rest stays in the settled escrow",
        "core/ledger/service.py",
        '    await funding.refund_to_sources(uow, order.id, None, "tip:rest", actor)\n',
        "",
    ),
    Mutation(
        "settled before the dispute window has passed",
        "core/orders/service.py",
        "    if order.settle_after is None or order.settle_after > uow.now:\n",
        "    if order.settle_after is None:\n",
    ),
    Mutation(
        "a disputed order settles (its frozen escrow paid out)",
        "core/orders/service.py",
        "order.status not in (Status.DELIVERED, Status.DELIVERY_FAILED):",
        "order.status not in (Status.DELIVERED, Status.DELIVERY_FAILED, Status.DISPUTED):",
    ),
    Mutation(
        "escrow funded with the total minus the tip",
        "core/ledger/service.py",
        "order.donor_id, order.total, order.tip, co_funders)",
        "order.donor_id, order.total - order.tip, order.tip, co_funders)",
    ),
    Mutation(
        "top-up ignores the pool balance",
        "core/ledger/service.py",
        "pool = max(await uow.ledger.balance(POOL), 0)",
        "pool = sum(needs.values())",
    ),
    Mutation(
        "cancel allowed after pickup",
        "core/orders/lifecycle.py",
        "    Status.CLAIMED,\n)\n",
        "    Status.CLAIMED,\n    Status.PICKED_UP,\n)\n",
    ),
    Mutation(
        "capacity not released on reject",
        "core/orders/service.py",
        "    await capacity.release(uow, restaurant.id, order.capacity_day, order.id, actor)\n",
        "",
    ),
    Mutation(
        "capacity not released on cancel",
        "core/orders/service.py",
        "if held_capacity and order.restaurant_id and order.capacity_day:",
        "if False:",
    ),
    Mutation(
        "delivery releases capacity instead of completing it",
        "core/orders/service.py",
        "await capacity.complete(uow, order.restaurant_id, order.capacity_day, order.id, actor)",
        "await capacity.release(uow, order.restaurant_id, order.capacity_day, order.id, actor)",
    ),
    Mutation(
        "reroute offers the cheapest meal, not the closest to what was paid",
        "core/orders/service.py",
        "o.price > best[o.restaurant_id].price",
        "o.price < best[o.restaurant_id].price",
    ),
    Mutation(
        "reroute keeps the send day as capacity day",
        "core/orders/model.py",
        "must return it.\n        self.capacity_day = day\n",
        "must return it.\n",
    ),
    Mutation(
        "guarded accounts may go below zero",
        "core/adapters/sql/ledger_repo.py",
        "            return int(found)\n        for account, balance in zip(guarded, balances, strict=True):\n"
        "            if int(balance) + debits[account] < 0:",
        "            return int(found)\n        for account, balance in zip(guarded, balances, strict=True):\n"
        "            if int(balance) + debits[account] < -(10**15):",
    ),
    Mutation(
        "guarded accounts may go below zero in the one-statement record (PostgreSQL)",
        "core/adapters/sql/ledger_repo.py",
        'f"+ CAST(:d{g} AS BIGINT) >= 0"',
        'f"+ CAST(:d{g} AS BIGINT) >= -1000000000000000"',
    ),
    Mutation(
        "several transactions together may overdraw",
        "core/adapters/sql/ledger_repo.py",
        "        if found:\n            return\n        for account, balance in zip(guarded, balances, strict=True):\n"
        "            if int(balance) + debits[account] < 0:",
        "        if found:\n            return\n        for account, balance in zip(guarded, balances, strict=True):\n"
        "            if int(balance) + debits[account] < -(10**15):",
    ),
    Mutation(
        "idempotent ref check removed",
        "core/adapters/sql/ledger_repo.py",
        "if found is not None:",
        "if False:",
    ),
    Mutation(
        "pledge allocation numbers its contributions one past the order's next",
        "core/adapters/sql/pledges_repo.py",
        "(SELECT coalesce(max(seq), 0) + 1 FROM contributions WHERE order_id = :order)",
        "(SELECT coalesce(max(seq), 0) + 2 FROM contributions WHERE order_id = :order)",
    ),
    Mutation(
        "a pledge gives one paisa less than the ledger moved",
        "core/adapters/sql/pledges_repo.py",
        "UPDATE pledges SET remaining = pledges.remaining - v.take FROM",
        "UPDATE pledges SET remaining = pledges.remaining - v.take + 1 FROM",
    ),
    Mutation(
        "card capture takes the whole hold",
        "core/payments/cards.py",
        'Due(p, "capture", p.charge - returned)',
        'Due(p, "capture", p.charge)',
    ),
    Mutation(
        "money back after a card capture is never refunded",
        "core/payments/cards.py",
        "if (back := await uow.ledger.balance(hold_account(p.id))) > 0:",
        "if (back := await uow.ledger.balance(hold_account(p.id))) > 10**15:",
    ),
)

# Mutations allowed to survive, each with the reason it cannot (or need not) be killed.
ACCEPTED_SURVIVORS: dict[str, str] = {}

# Fastest first: with -x the first failing test ends the run.
TESTS: tuple[str, ...] = (
    "tests/test_money_properties.py",
    "tests/test_lifecycle_shape.py",
    "tests/test_core_meal.py",
    "tests/test_funding.py",
    "tests/test_order_paths.py",
    "tests/test_topup.py",
    "tests/test_order_state_machine.py",
    "tests/test_card_money.py",
    "tests/test_cards.py",
    "tests/test_order_money_machine.py",
    "tests/test_pledge_fast.py",
    "tests/test_pledge_concurrency.py",
)

IGNORED = shutil.ignore_patterns(".git", ".venv", "var", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis")
TIMEOUT_S = 900


def problems(root: Path = ROOT) -> list[str]:
    """What is wrong with the mutation list: unknown names, originals not found exactly once."""
    found: list[str] = []
    names = [m.name for m in MUTATIONS]
    if len(set(names)) != len(names):
        found.append("mutation names are not unique")
    found += [f"accepted survivor {n!r} is not a mutation" for n in ACCEPTED_SURVIVORS if n not in names]
    for m in MUTATIONS:
        path = root / m.path
        count = path.read_text(encoding="utf-8").count(m.original) if path.is_file() else -1
        if count != 1:
            found.append(f"{m.name}: original text occurs {count} times in {m.path}, not once")
        if m.original == m.replacement:
            found.append(f"{m.name}: the replacement changes nothing")
    return found


def apply(m: Mutation, root: Path) -> None:
    """Apply one mutation to a copy of the checkout."""
    path = root / m.path
    text = path.read_text(encoding="utf-8")
    assert text.count(m.original) == 1, f"{m.name}: original text must occur exactly once in {m.path}"
    path.write_text(text.replace(m.original, m.replacement), encoding="utf-8")


def run_tests(root: Path, tests: tuple[str, ...]) -> tuple[int, str]:
    """Run the focused tests in `root` (seeded, so a result can be reproduced); (exit code, last line)."""
    seeded = ["--hypothesis-seed=0", "--hypothesis-profile=mutate"]  # profile in tests/conftest.py
    cmd = [sys.executable, "-m", "pytest", *tests, "-x", "-q", "-p", "no:cacheprovider", *seeded]
    env = os.environ | {"PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {TIMEOUT_S} s"
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return done.returncode, lines[-1] if lines else done.stderr.strip()[-200:]


def run_in_copy(m: Mutation | None, tests: tuple[str, ...] = TESTS) -> tuple[int, str, float]:
    """Copy the checkout, apply the mutation (if any), run the tests; (exit code, summary, seconds)."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ketpaar-mutant-") as tmp:
        root = Path(tmp) / "repo"
        shutil.copytree(ROOT, root, ignore=IGNORED)
        if m is not None:
            apply(m, root)
        code, summary = run_tests(root, tests)
    return code, summary, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    """Run every (or the named) mutation; print a table; fail if any unaccepted mutation survives."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help="run only mutations whose name contains one of these")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("--tests", nargs="+", default=list(TESTS), help="a different test selection (to see what one test kills)")
    args = parser.parse_args(argv)
    if found := problems():
        print("the mutation list is broken:\n  " + "\n  ".join(found))
        return 2
    chosen = [m for m in MUTATIONS if not args.names or any(n in m.name for n in args.names)]
    if args.list:
        for m in chosen:
            print(f"{m.path:34} {m.name}")
        return 0
    tests = tuple(args.tests)
    code, summary, seconds = run_in_copy(None, tests)
    if code != 0:  # a red suite would "kill" every mutant
        print(f"the unmutated tests fail ({summary}); fix them first")
        return 2
    print(f"unmutated: green in {seconds:.0f} s ({summary})")
    rows: list[tuple[str, str, str, str]] = []
    for m in chosen:
        code, summary, seconds = run_in_copy(m, tests)
        verdict = "killed" if code != 0 else ("accepted" if m.name in ACCEPTED_SURVIVORS else "SURVIVED")
        rows.append((verdict, m.name, m.path, f"{seconds:.0f} s"))
        print(f"{verdict:9} {m.name} ({seconds:.0f} s; {summary})", flush=True)
    print()
    print(f"| {'result':8} | {'mutation':70} | {'file':32} | time |")
    print(f"|{'-' * 10}|{'-' * 72}|{'-' * 34}|------|")
    for verdict, name, path, took in rows:
        print(f"| {verdict:8} | {name:70} | {path:32} | {took:>4} |")
    survivors = [name for verdict, name, _, _ in rows if verdict == "SURVIVED"]
    print(f"\n{sum(v == 'killed' for v, *_ in rows)} of {len(rows)} killed; {len(survivors)} survived unexpectedly")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())

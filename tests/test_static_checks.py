"""The code stays clean: ruff (pyproject's rules) on everything, mypy --strict on the packages.

Both tools are pinned test dependencies, so a finding fails `make test` like any other test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ["core", "flows", "bot", "webhooks", "ketpaar_verify.py"]  # and the standalone verifier


def run(*command: str) -> subprocess.CompletedProcess[str]:
    """Run a tool from this virtual environment in the repository."""
    return subprocess.run([sys.executable, "-m", *command], cwd=REPO, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing() -> None:
    result = run("ruff", "check", "--no-cache", "--output-format", "concise", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_finds_nothing_in_the_packages() -> None:
    # The cache lives in the checkout's .mypy_cache (ignored by git): a warm run takes seconds.
    result = run("mypy", *PACKAGES)
    assert result.returncode == 0, result.stdout + result.stderr

"""Long commands show a progress bar on a terminal and nothing when piped."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from webhooks.cli import main
from webhooks.progress import progress


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_a_bar_is_drawn_on_a_terminal_and_nothing_on_a_pipe() -> None:
    tty, pipe = Terminal(), io.StringIO()
    for stream in (tty, pipe):
        with progress(3000, "verifying", "events", stream=stream) as bar:
            for _ in range(3):
                bar.update(1000)
    assert "verifying" in tty.getvalue() and "/3.00k" in tty.getvalue()
    assert pipe.getvalue() == ""


def test_ledger_verify_and_export_stay_quiet_when_piped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    monkeypatch.setenv("KETPAAR_DATABASE_URL", f"sqlite:///{tmp_path / 'p.db'}")
    monkeypatch.setenv("KETPAAR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("KETPAAR_SCHEDULER", "false")
    assert main(["demo-seed"]) == 0
    assert main(["ledger", "verify"]) == 0
    assert main(["ledger", "export", str(tmp_path / "e.jsonl")]) == 0
    err = capsys.readouterr().err
    assert "verifying" not in err and "exporting" not in err and "\r" not in err

"""Governance by chat (web chat): members propose, second and vote; the close job applies a passed change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import running_app


async def test_smoke(app_db: Path, tmp_path: Path) -> None:
    async with running_app(app_db, tmp_path / "var", settings={"proposal_seconds": 2}) as env:
        chat = env["chat"]
        for line in ["/propose", "3", "600", "Food costs went up"]:
            await chat.send("worker-1", line)
        await chat.send("worker-2", "[tap Second]")
        await chat.send("worker-3", "[tap Second]")
        await chat.send("worker-3", "[tap Yes]")
        await chat.send("worker-3", "2")
        await chat.send("worker-3", "/proposals")
        await chat.send("donor-1", "/rules")
        for u in ["worker-1", "worker-2", "worker-3", "donor-1"]:
            print(u, "\n   ", "\n    ".join(repr(m["text"]) + str([b["label"] for b in m["buttons"]]) for m in (await chat.fetch(u)).unread))

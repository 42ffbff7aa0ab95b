"""The /transparency page in Debian's Chromium at phone width: it fits, and its charts carry the
ledger's numbers."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import sync_playwright

from tests.clock import FixedClock
from tests.conftest import running_app, unavailable
from tests.test_meal_transcript import MEAL, SETTLED, settle_after_the_window
from tests.test_webpage import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, _free_port
from webhooks.app import create_app
from webhooks.settings import Settings

pytestmark = pytest.mark.browser


async def _meal_database(db: Path, data_dir: Path) -> dict[str, int]:
    """A settled meal on a SQLite file; the ledger's balances."""
    async with running_app(db, data_dir) as env:
        await env["chat"].run(MEAL)  # type: ignore[attr-defined]
        await settle_after_the_window(env)
        await env["chat"].run(SETTLED)  # type: ignore[attr-defined]
        async with env["runtime"].store.reader() as uow:  # type: ignore[attr-defined]
            balances: dict[str, int] = await uow.ledger.balances()
        return balances


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, int]]]:
    """The app (real uvicorn, on a thread) over a database holding one settled meal, an hour later."""
    if not os.access(CHROMIUM, os.X_OK):
        unavailable("Chromium", f"{CHROMIUM} is missing; install it with `apt-get install -y chromium`")
    tmp = tmp_path_factory.mktemp("transparency")
    balances = asyncio.run(_meal_database(tmp / "app.db", tmp / "var"))
    settings = Settings(database_url=f"sqlite:///{tmp / 'app.db'}", data_dir=tmp / "var", scheduler=False,
                        secret_key="test-secret", screening="pass", outbox_sender=False)  # fmt: skip
    app = create_app(settings, clock=FixedClock(datetime(2026, 11, 23, 7, 30, tzinfo=UTC)))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn-transparency")
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)  # bounded polling for start-up, not a wait in a test
    try:
        assert server.started, "the app did not start"
        yield f"http://127.0.0.1:{port}", balances
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.mark.parametrize("lang", ["en", "ta"])
def test_the_page_fits_a_phone_and_its_charts_show_the_ledger(served: tuple[str, dict[str, int]], lang: str, tmp_path: Path) -> None:
    base, balances = served
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 390, "height": 780}, base_url=base)
            context.set_default_timeout(TIMEOUT_MS)
            requests: list[str] = []
            page = context.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.goto(f"/transparency?lang={lang}")
            pool = balances["pool:guarantee"]
            assert page.locator("#pool-balance").get_attribute("data-paise") == str(pool) == "300"
            bar = page.locator("#pool-chart rect.pool-in[data-day='2026-11-23']")
            assert bar.get_attribute("data-paise") == str(pool)  # the only day with pool money: all of it
            box: Any = bar.bounding_box()
            assert box and box["height"] > 10 and box["width"] > 3  # drawn, not just in the markup
            assert page.locator("#meals-chart rect.meals").count() == 1
            assert page.locator("#meals-chart rect.meals").get_attribute("data-meals") == "1"
            assert page.locator("#money tr[data-day='2026-11-23'] td").nth(1).inner_text() == "₹1,000.00" or "1,000" in (
                page.locator("#money tr[data-day='2026-11-23']").inner_text())
            assert page.locator("#orders").get_attribute("data-settled") == "1"
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the page scrolls sideways on a phone"
            heading = page.locator("h1").inner_text()
            assert heading == ("Ketpaar: the open books" if lang == "en" else "கேட்பார்: திறந்த கணக்குகள்")
            shot = tmp_path / f"transparency-{lang}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 5000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert all(url.startswith(base) for url in requests), "the page loads nothing from elsewhere"
            context.close()
        finally:
            browser.close()

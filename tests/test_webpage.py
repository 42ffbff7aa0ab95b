"""The web chat page in a real browser (Debian's Chromium) against the real server."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.chat import make_photo
from tests.conftest import unavailable

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
KETPAAR = Path(sys.executable).with_name("ketpaar")
TIMEOUT_MS = 10_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_healthy(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the server exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)  # bounded polling for start-up, not a wait in a test
    pytest.fail(f"the server did not answer /healthz in 30 s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`ketpaar serve` on a free port, on a fresh SQLite database with the demo users."""
    tmp = tmp_path_factory.mktemp("webpage")
    env = {
        **os.environ,
        "KETPAAR_DATABASE_URL": f"sqlite:///{tmp / 'ketpaar.db'}",
        "KETPAAR_DATA_DIR": str(tmp / "var"),
        "KETPAAR_SCHEDULER": "false",
    }
    env.pop("KETPAAR_REDIS_URL", None)  # unset: the job board lives in the database
    # cwd=tmp, so a developer's .env in the checkout cannot change the settings.
    seed = subprocess.run([str(KETPAAR), "demo-seed"], env=env, cwd=tmp, capture_output=True, text=True, timeout=60)
    if seed.returncode:
        pytest.fail(f"`ketpaar demo-seed` failed:\n{seed.stdout}{seed.stderr[-3000:]}")
    port = _free_port()
    log = tmp / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(KETPAAR), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env, cwd=tmp, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_healthy(base, proc, log)
            yield base
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Ctrl-C; a long poll still waiting server-side can hold a graceful stop, so a second Ctrl-C forces it."""
    for grace in (2, 5):
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue
    proc.kill()
    proc.wait()


@pytest.fixture(scope="module")
def browser(request: pytest.FixtureRequest) -> Iterator[Browser]:
    """Headless Debian Chromium (never a downloaded browser); closed before the server stops."""
    if not os.access(CHROMIUM, os.X_OK):
        unavailable("Chromium", f"{CHROMIUM} is missing; install it with `apt-get install -y chromium`")
    request.getfixturevalue("server")  # started after the check, stopped after the browser closes
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    """A fresh phone-sized browser context (own storage) on the page."""
    context = browser.new_context(viewport={"width": 390, "height": 780}, base_url=server)
    context.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    tab = context.new_page()
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto("/")
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_a_donor_starts_and_taps_a_button(page: Page) -> None:
    expect(page).to_have_title("Ketpaar web chat")
    page.locator(".demo-user", has_text="donor-1").click()
    expect(page).to_have_url(re.compile(r"#donor-1$"))
    page.fill("#text", "/start")
    page.click("#send")
    expect(page.locator(".msg.me").last).to_have_text("/start")
    feed = page.locator(".msg.bot button.choice", has_text="Feed someone")
    english = page.locator(".msg.bot button.choice", has_text="English")
    expect(feed.or_(english).first).to_be_visible()
    if not feed.count():  # a first contact is asked for the language first
        english.click()
        expect(page.locator(".msg.me").last).to_have_text("English")
    expect(feed).to_be_visible()
    feed.click()
    expect(page.locator(".msg.me").last).to_have_text("Feed someone")
    expect(page.locator(".msg.bot").last).to_contain_text("Send a photo of the person who needs a meal")
    expect(page.locator("#status")).to_be_empty()


def test_a_donor_sends_a_photo_and_a_location_and_sees_meals(page: Page, tmp_path: Path) -> None:
    photo = tmp_path / "person.jpg"
    photo.write_bytes(make_photo())
    page.locator(".demo-user", has_text="donor-1").click()
    expect(page.locator("#who")).to_contain_text("donor-1")
    page.set_input_files("#photo", photo)
    expect(page.locator(".msg.me img")).to_be_visible()
    consent = page.locator(".msg.bot", has_text="agree to be photographed")
    consent.locator("button.choice", has_text="Yes, they agreed").click()
    expect(page.locator(".msg.bot").last).to_contain_text("share the location")
    page.fill("#lat", "13.0827")
    page.fill("#lng", "80.2707")
    page.click("#send-location")
    expect(page.locator(".msg.me").last).to_have_text("📍 13.0827, 80.2707")
    page.locator(".msg.bot", has_text="What is the place like").locator("button.choice", has_text="Busy and well lit").click()
    meals = page.locator(".msg.bot", has_text="Meals near this person")
    expect(meals).to_be_visible()
    expect(meals.locator("button.choice", has_text="Veg biryani")).to_be_visible()
    assert meals.locator("button.choice").count() >= 3
    expect(page.locator("#status")).to_be_empty()

    shot = tmp_path / "webchat.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 1000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Another person in the same tab: the history is reset and reloaded for them.
    page.locator(".demo-user", has_text="rest-1").click()
    expect(page.locator(".msg")).to_have_count(0)
    expect(page.locator("#messages .hint")).to_contain_text("No messages yet")
    page.locator(".demo-user", has_text="donor-1").click()
    expect(page.locator(".msg.bot", has_text="Meals near this person")).to_be_visible()
    expect(page.locator(".msg.me").last).to_have_text("Busy and well lit")


def test_a_visitor_starts_a_new_chat_with_a_session_of_their_own(page: Page) -> None:
    expect(page.locator("#demo-note")).to_be_visible()  # the demo says it is a demo
    page.click("#new-chat")
    expect(page).to_have_url(re.compile(r"#me$"))
    expect(page.locator("#who")).to_contain_text("w-")
    page.fill("#text", "/balance")
    page.click("#send")
    expect(page.locator(".msg.bot").last).to_contain_text("Your member number")
    cookies = page.context.cookies()
    assert [c["httpOnly"] for c in cookies if c["name"] == "ketpaar_session"] == [True]
    page.reload()  # the session outlives a reload; its history comes back
    expect(page.locator(".msg.bot").last).to_contain_text("Your member number")


def test_the_page_needs_nothing_from_the_network() -> None:
    html = (Path(__file__).parents[1] / "webhooks" / "static" / "index.html").read_text()
    assert "<title>Ketpaar web chat</title>" in html
    for remote in ("src=\"http", "href=\"http", "@import", "//cdn", "fonts.googleapis"):
        assert remote not in html
    assert ".innerHTML" not in html and "insertAdjacentHTML" not in html

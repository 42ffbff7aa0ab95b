"""GET /metrics: guarded by a bearer token, counts a meal's messages and transitions, reads backlogs from
the database, counts provider 429s and scheduled job runs, and adds up several processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.outbox_sender import OutboxSender
from bot.telegram import TelegramChannel
from core.adapters.sql.uow import Store
from core.schedule.jobs import settle_due
from flows.messages import Outbound
from tests.conftest import running_app
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.test_meal_transcript import MEAL
from webhooks.metrics import Metrics
from webhooks.scheduler import timed

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:telegram.warnings.PTBDeprecationWarning")


def value(text: str, sample: str) -> float:
    """The value of one exposition line, by its name and labels as written."""
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{sample} not in the metrics")


async def test_metrics_are_closed_outside_the_demo_and_need_the_bearer_token(app_db: Path, tmp_path: Path) -> None:
    async with running_app(app_db, tmp_path / "a", settings={"demo": False, "photo_key": "ab" * 32}, seed=False) as env:
        assert (await env["client"].get("/metrics")).status_code == 404
    token = "t" * 40
    async with running_app(app_db, tmp_path / "b", settings={"demo": False, "photo_key": "ab" * 32, "metrics_token": token},
                           seed=False) as env:  # fmt: skip
        client = env["client"]
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers={"Authorization": "Bearer " + "x" * 40})).status_code == 401
        assert (await client.get("/metrics", headers={"Authorization": token})).status_code == 401  # not a bearer
        ok = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/plain")


async def test_a_meal_shows_in_the_metrics(app_env: dict[str, Any]) -> None:
    await app_env["chat"].run(MEAL)
    app_env["clock"].advance(minutes=30)
    assert await settle_due(app_env["runtime"].store) == 1
    response = await app_env["client"].get("/metrics")  # the demo on this machine: open
    assert response.status_code == 200
    text = response.text
    handled = value(text, 'ketpaar_inbound_messages_total{channel="webchat",outcome="handled"}')
    assert handled == MEAL.count(" > ")
    assert value(text, 'ketpaar_inbound_handling_seconds_count{channel="webchat"}') == handled
    assert value(text, 'ketpaar_order_transitions_total{transition="claim"}') == 1
    assert value(text, 'ketpaar_order_transitions_total{transition="settle"}') == 1
    assert value(text, 'ketpaar_orders{state="settled"}') == 1
    assert value(text, "ketpaar_board_open_jobs") == 0
    assert value(text, 'ketpaar_inbox_messages{channel="webchat",status="done"}') == handled
    assert value(text, 'ketpaar_screening_seconds_count{verdict="pass"}') == 1
    assert "donor-1" not in text and "13.08" not in text  # no person, no place


async def test_a_job_posted_and_a_message_waiting_show_as_backlog(app_env: dict[str, Any]) -> None:
    store: Store = app_env["runtime"].store
    async with store.uow() as uow:
        await uow.outbox.enqueue("telegram", "42", Outbound("waiting").to_payload())
    text = (await app_env["client"].get("/metrics")).text
    assert value(text, 'ketpaar_outbox_messages{channel="telegram",status="pending"}') == 1


async def test_provider_429s_and_errors_are_counted(app_env: dict[str, Any]) -> None:
    store: Store = app_env["runtime"].store
    metrics = Metrics()
    with FakeTelegram() as fake:
        channel = TelegramChannel(TOKEN, api_base=fake.url)
        try:
            sender = OutboxSender(store, {"tg": channel}, observe=metrics.observe_outbox)
            async with store.uow() as uow:
                await uow.outbox.enqueue("tg", "42", Outbound("one").to_payload())
            fake.fail("sendMessage", 429, retry_after=30)  # longer than waiting in place: rescheduled
            await sender.run_once()
            fake.fail("sendMessage", 500, "Internal Server Error", retry_after=None)
            store.clock.advance(seconds=31)  # type: ignore[attr-defined]
            await sender.run_once()
            store.clock.advance(seconds=10)  # type: ignore[attr-defined]
            await sender.run_once()
        finally:
            await channel.close()
    get = metrics.registry.get_sample_value
    assert get("ketpaar_provider_errors_total", {"channel": "tg", "kind": "rate_limited"}) == 1
    assert get("ketpaar_provider_errors_total", {"channel": "tg", "kind": "error"}) == 1
    assert get("ketpaar_outbox_results_total", {"channel": "tg", "result": "sent"}) == 1


async def test_scheduled_job_runs_are_counted_and_timed_also_when_they_fail() -> None:
    metrics = Metrics()

    async def works() -> None:
        return None

    async def breaks() -> None:
        raise RuntimeError("the database went away")

    await timed("settle_due", works, metrics.observe_job)()
    with pytest.raises(RuntimeError):
        await timed("run_payouts", breaks, metrics.observe_job)()
    get = metrics.registry.get_sample_value
    assert get("ketpaar_scheduler_job_runs_total", {"job": "settle_due", "outcome": "ok"}) == 1
    assert get("ketpaar_scheduler_job_runs_total", {"job": "run_payouts", "outcome": "failed"}) == 1
    assert get("ketpaar_scheduler_job_seconds_count", {"job": "settle_due"}) == 1


PROCESS = """
import sys
from webhooks.metrics import Metrics
m = Metrics()
for _ in range(int(sys.argv[1])):
    m.observe_inbound("telegram", "handled", 0.01)
"""

SCRAPE = """
import asyncio, sys
from core.adapters.sql.db import Database
from webhooks.metrics import Metrics
async def main():
    db = Database(sys.argv[1])
    try:
        sys.stdout.write((await Metrics().render(db)).decode())
    finally:
        await db.dispose()
asyncio.run(main())
"""


def test_several_processes_add_up_through_the_multiprocess_directory(tmp_path: Path, app_db: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"), "PYTHONPATH": str(Path(__file__).parents[1])}
    (tmp_path / "prom").mkdir()
    for n in ("3", "4"):  # two app processes, each counting its own messages
        subprocess.run([sys.executable, "-c", PROCESS, n], env=env, check=True)
    out = subprocess.run([sys.executable, "-c", SCRAPE, f"sqlite:///{app_db}"], env=env, check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    assert value(out, 'ketpaar_inbound_messages_total{channel="telegram",outcome="handled"}') == 7


async def test_the_grafana_dashboard_only_asks_for_metrics_the_service_exposes(app_env: dict[str, Any]) -> None:
    import json
    import re

    root = Path(__file__).parents[1]
    dashboard = json.loads((root / "deploy/grafana/dashboards/ketpaar.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    asked = {re.sub(r"_(bucket|count|sum)$", "", name) for e in exprs for name in re.findall(r"ketpaar_[a-z_]+", e)}
    text = (await app_env["client"].get("/metrics")).text
    exposed = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    exposed |= {name + "_total" for name in exposed}  # a counter's samples end in _total
    assert asked and asked <= exposed, asked - exposed
    # (PyYAML is not a dependency: the files are checked by their lines)
    compose = (root / "docker-compose.yml").read_text()
    assert compose.count('profiles: ["monitoring"]') == 2  # the app, PostgreSQL and Redis run without it
    scrape = (root / "deploy/prometheus.yml").read_text()
    assert "metrics_path: /metrics" in scrape and "type: Bearer" in scrape


async def test_webhook_calls_are_counted_by_status_so_rejected_signatures_show(app_db: Path, tmp_path: Path) -> None:
    settings = {"telegram_bot_token": TOKEN, "telegram_secret_token": "s" * 32, "telegram_api_base": "http://127.0.0.1:1",
                "outbox_sender": False}  # fmt: skip
    async with running_app(app_db, tmp_path / "var", settings=settings, seed=False) as env:
        client = env["client"]
        update = {"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"},
                                              "from": {"id": 5, "is_bot": False, "first_name": "A"}, "text": "/start"}}  # fmt: skip
        assert (await client.post("/webhooks/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "x"})).status_code == 403
        assert (await client.post("/webhooks/telegram", json=update,
                                  headers={"X-Telegram-Bot-Api-Secret-Token": "s" * 32})).status_code == 200  # fmt: skip
        await env["runtime"].processor.drain()
        text = (await client.get("/metrics")).text
    assert value(text, 'ketpaar_webhook_requests_total{route="/webhooks/telegram",status="403"}') == 1
    assert value(text, 'ketpaar_webhook_requests_total{route="/webhooks/telegram",status="200"}') == 1
    assert 'route="/metrics"' not in text  # only the provider routes are counted

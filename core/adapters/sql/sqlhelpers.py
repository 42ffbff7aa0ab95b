"""Small dialect helpers shared by the repositories."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


async def insert_ignore(
    conn: AsyncConnection, table: Table, values: dict[str, Any], keys: list[str]
) -> bool:
    """Insert a row unless one with the same keys exists; tell whether it was inserted."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)
    # Without preserve_rowcount an INSERT's rowcount is -1 on psycopg (async), i.e. "inserted"
    # even when the conflict skipped it.
    result = await conn.execute(stmt.execution_options(preserve_rowcount=True))
    return result.rowcount == 1


async def upsert(
    conn: AsyncConnection, table: Table, values: dict[str, Any], keys: list[str], update: list[str]
) -> None:
    """Insert a row, or update the given columns of the existing one (one atomic statement)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(**values)
    stmt = stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in update})
    await conn.execute(stmt)


def new_id(result: Any) -> int:
    """The primary key an INSERT just created."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the INSERT returned no primary key")
    return int(key[0])


def is_postgres(conn: AsyncConnection) -> bool:
    """Tell whether the connection is to PostgreSQL."""
    return conn.dialect.name == "postgresql"

"""Events keep the exact canonical bytes that were hashed (UTF-8, after prev_hash), so the audit is a read and a hash loop.

Existing rows are backfilled from their structured columns (the bytes they were hashed from, as
ChainRepo.append built them); the audit then checks the columns against those bytes.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_BATCH = 5000


def _body(seq: int, type_: str, occurred_at: str, actor: str, data: str) -> bytes:
    """canonical_json(event_body(...)) as of this revision (kept here: migrations do not import app code)."""
    body = {"seq": seq, "type": type_, "occurred_at": occurred_at, "actor": actor, "data": json.loads(data)}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def upgrade() -> None:
    op.add_column("events", sa.Column("body", sa.LargeBinary(), server_default="", nullable=False))
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if postgres:  # the append-only guard of 0002 refuses UPDATE; this one-off backfill is the exception
        op.execute("ALTER TABLE events DISABLE TRIGGER events_append_only")
    after = 0
    while True:
        rows = bind.execute(
            sa.text("SELECT seq, type, occurred_at, actor, data FROM events WHERE seq > :a ORDER BY seq LIMIT :n"),
            {"a": after, "n": _BATCH},
        ).all()
        if not rows:
            break
        bind.execute(
            sa.text("UPDATE events SET body = :b WHERE seq = :s"),
            [{"b": _body(r.seq, r.type, r.occurred_at, r.actor, r.data), "s": r.seq} for r in rows],
        )
        after = rows[-1].seq
    if postgres:
        op.execute("ALTER TABLE events ENABLE TRIGGER events_append_only")
    op.create_index("ix_events_type", "events", ["type"])  # the audit reads ledger transactions' bodies by type


def downgrade() -> None:
    op.drop_index("ix_events_type", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("body")

"""The hashed bytes of every event move to a narrow table of their own, `event_bodies(seq, body)`,
so the audit's hash pass reads only seq and body, in key order, not the wide `events` rows.

On SQLite `seq` is an INTEGER PRIMARY KEY (the rowid itself: a scan in seq order is a plain table
scan); on PostgreSQL the table is append-only like `events` (UPDATE, DELETE and TRUNCATE refused).
Existing bodies are copied in seq order, then `events.body` is dropped: one copy of the hashed
bytes, which the audit checks the structured columns of `events` against.

Revision ID: 0028
Revises: 0027
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_bodies",
        # INTEGER on SQLite makes seq the rowid (no second b-tree, sequential reads)
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
    )
    op.execute("INSERT INTO event_bodies (seq, body) SELECT seq, body FROM events ORDER BY seq")
    op.drop_column("events", "body")  # SQLite >= 3.35 drops it in place (the column is in no index)
    if op.get_bind().dialect.name == "postgresql":  # the same guard as events' (0002)
        op.execute("CREATE TRIGGER event_bodies_append_only BEFORE UPDATE OR DELETE ON event_bodies "
                   "FOR EACH ROW EXECUTE FUNCTION ketpaar_refuse_change()")  # fmt: skip
        op.execute("CREATE TRIGGER event_bodies_no_truncate BEFORE TRUNCATE ON event_bodies "
                   "FOR EACH STATEMENT EXECUTE FUNCTION ketpaar_refuse_change()")  # fmt: skip


def downgrade() -> None:
    op.add_column("events", sa.Column("body", sa.LargeBinary(), server_default="", nullable=False))
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if postgres:  # the append-only guard refuses UPDATE; this one-off copy back is the exception
        op.execute("ALTER TABLE events DISABLE TRIGGER events_append_only")
    op.execute("UPDATE events SET body = (SELECT b.body FROM event_bodies b WHERE b.seq = events.seq)")
    if postgres:
        op.execute("ALTER TABLE events ENABLE TRIGGER events_append_only")
    op.drop_table("event_bodies")

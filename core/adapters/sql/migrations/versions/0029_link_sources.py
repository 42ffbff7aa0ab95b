"""Where wrong link codes come from: web_sessions.source (an opaque tag of where a web-chat
session was opened, set by the web layer) and link_failures.source (that tag, copied to each
wrong code its session's person enters), so one source's share of the service-wide budget is capped.

Revision ID: 0029
Revises: 0028
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Existing sessions and failures have no source: only the per-person and service limits apply to them."""
    with op.batch_alter_table("web_sessions") as batch:
        batch.add_column(sa.Column("source", sa.String(length=64), nullable=True))
    with op.batch_alter_table("link_failures") as batch:
        batch.add_column(sa.Column("source", sa.String(length=64), nullable=True))
    op.create_index("ix_link_failures_source_at", "link_failures", ["source", "at"])


def downgrade() -> None:
    """Drop the index and both columns."""
    op.drop_index("ix_link_failures_source_at", table_name="link_failures")
    with op.batch_alter_table("link_failures") as batch:
        batch.drop_column("source")
    with op.batch_alter_table("web_sessions") as batch:
        batch.drop_column("source")

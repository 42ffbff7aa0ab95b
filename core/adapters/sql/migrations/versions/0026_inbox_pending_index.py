"""A partial index on the pending inbox rows, so that claiming a batch of them never scans the processed history.

Revision ID: 0026
Revises: 0025
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_inbox_pending_only", "inbox", ["id"], postgresql_where=sa.text("status = 'pending'"),
                    sqlite_where=sa.text("status = 'pending'"))  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_inbox_pending_only", table_name="inbox")

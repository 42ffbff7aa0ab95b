"""People's own data: when an order's coordinates were rounded, and indexes for the retention jobs.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("coarse_at", sa.String(length=32), nullable=True))
    op.create_index("ix_orders_created_at", "orders", ["created_at"])
    op.create_index("ix_inbox_received_at", "inbox", ["received_at"])
    op.create_index("ix_outbox_created_at", "outbox", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_created_at", table_name="outbox")
    op.drop_index("ix_inbox_received_at", table_name="inbox")
    op.drop_index("ix_orders_created_at", table_name="orders")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("coarse_at")

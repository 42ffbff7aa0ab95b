"""Delivered orders rest for the dispute window: when each may settle, and whether the delivery
failed (a failed order settles too, and the safety model must still count it as a failure).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("settle_after", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("delivery_failed", sa.Boolean(), server_default="0", nullable=False))
        batch.create_index("ix_orders_settle_after", ["settle_after"])


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_index("ix_orders_settle_after")
        batch.drop_column("delivery_failed")
        batch.drop_column("settle_after")

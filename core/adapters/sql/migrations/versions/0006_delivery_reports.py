"""Worker reports after each delivery (went well? safety issue?), the safety model's outcomes.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delivery_reports",
        sa.Column("order_id", sa.Integer(), sa.ForeignKey("orders.id", name="fk_delivery_reports_order_id_orders"), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("went_well", sa.Boolean(), nullable=False),
        sa.Column("safety_issue", sa.Boolean(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lng", sa.Float(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name="pk_delivery_reports"),
    )
    op.create_index("ix_delivery_reports_created_at", "delivery_reports", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_delivery_reports_created_at", table_name="delivery_reports")
    op.drop_table("delivery_reports")

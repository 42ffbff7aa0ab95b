"""Stuck orders time out: when each order entered its status, and what the timeout job did.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # What exists already is kept (a database rebuilt by hand from today's schema).
    inspector = sa.inspect(op.get_bind())
    if "status_at" not in {c["name"] for c in inspector.get_columns("orders")}:
        with op.batch_alter_table("orders") as batch:
            batch.add_column(sa.Column("status_at", sa.String(length=32), nullable=True))
    # Orders already in flight count from their last change.
    op.execute("UPDATE orders SET status_at = updated_at WHERE status_at IS NULL")
    if inspector.has_table("order_timeouts"):
        return
    op.create_table(
        "order_timeouts",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=24), nullable=False),
        sa.Column("since", sa.String(length=32), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("acted_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("order_id", "stage", "since", "round", name="pk_order_timeouts"),
    )


def downgrade() -> None:
    op.drop_table("order_timeouts")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("status_at")

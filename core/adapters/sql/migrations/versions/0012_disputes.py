"""Disputes by chat: one per order, its resolution, the ledger transactions in force, appeals.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "disputes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), sa.ForeignKey("orders.id", name="fk_disputes_order_id_orders"), nullable=False),
        sa.Column("raised_by", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("evidence", sa.Text(), server_default="", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("resolution", sa.String(length=16), nullable=True),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.Column("resolved_at", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("tx_ids", sa.Text(), server_default="[]", nullable=False),
        sa.Column("appeals", sa.Text(), server_default="[]", nullable=False),
        sa.Column("appeal_resolution", sa.String(length=16), nullable=True),
        sa.Column("appeal_resolved_by", sa.Integer(), nullable=True),
        sa.Column("appeal_note", sa.Text(), server_default="", nullable=False),
        sa.Column("version", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_disputes"),
        sa.UniqueConstraint("order_id", name="uq_disputes_order_id"),
    )


def downgrade() -> None:
    op.drop_table("disputes")

"""UPI top-up requests, imported bank statement rows, payout details, payout batches and lines.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "topup_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("people.id", name="fk_topup_requests_person_id_people"), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_topup_requests"),
        sa.UniqueConstraint("reference", name="uq_topup_requests_reference"),
    )
    op.create_table(
        "statement_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("txn_id", sa.String(length=64), nullable=False),
        sa.Column("date", sa.String(length=10), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("tx_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("imported_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_statement_rows"),
        sa.UniqueConstraint("txn_id", name="uq_statement_rows_txn_id"),
    )
    op.create_table(
        "payout_details",
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("people.id", name="fk_payout_details_person_id_people"), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("destination", sa.String(length=80), nullable=False),
        sa.Column("ifsc", sa.String(length=11), server_default="", nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("person_id", name="pk_payout_details"),
    )
    op.create_table(
        "payout_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("bank_ref", sa.String(length=64), nullable=True),
        sa.Column("paid_at", sa.String(length=32), nullable=True),
        sa.Column("paid_by", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_payout_batches"),
        sa.UniqueConstraint("day", name="uq_payout_batches_day"),
    )
    op.create_table(
        "payout_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), sa.ForeignKey("payout_batches.id", name="fk_payout_lines_batch_id_payout_batches"),
                  nullable=False),  # fmt: skip
        sa.Column("account", sa.String(length=40), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("destination", sa.String(length=80), nullable=False),
        sa.Column("ifsc", sa.String(length=11), server_default="", nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("tx_id", sa.Integer(), nullable=False),
        sa.Column("reversal_tx_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_payout_lines"),
    )


def downgrade() -> None:
    for table in ("payout_lines", "payout_batches", "payout_details", "statement_rows", "topup_requests"):
        op.drop_table(table)

"""An order's escrow is funded by contributions, each with its source; existing single-payer
orders get one contribution from the donor's balance (their `fund` transaction).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contributions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), sa.ForeignKey("orders.id", name="fk_contributions_order_id_orders"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("tip", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("refunded", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_contributions"),
        sa.UniqueConstraint("order_id", "seq", name="uq_contributions_order_id_seq"),
    )
    op.create_index("ix_contributions_order_id", "contributions", ["order_id"])
    # Orders funded before contributions existed: one contribution from the donor's balance, with
    # what was refunded since (sum of refund postings to the donor for that order).
    op.execute("""
        INSERT INTO contributions (order_id, seq, source, account, person_id, amount, tip, refunded, created_at)
        SELECT o.id, 1, 'balance', 'donor:' || o.donor_id, o.donor_id, p.amount, o.tip,
               COALESCE((SELECT SUM(r.amount) FROM postings r JOIN ledger_transactions rt ON rt.id = r.tx_id
                         WHERE rt.kind = 'refund' AND rt.ref LIKE 'order:' || o.id || ':%'
                           AND r.account = 'donor:' || o.donor_id), 0),
               t.occurred_at
        FROM orders o
        JOIN ledger_transactions t ON t.kind = 'fund' AND t.ref = 'order:' || o.id
        JOIN postings p ON p.tx_id = t.id AND p.account = 'escrow:order:' || o.id
    """)


def downgrade() -> None:
    op.drop_index("ix_contributions_order_id", table_name="contributions")
    op.drop_table("contributions")

"""Card payments (Stripe PaymentIntents held until settlement), one row per attempt of an order.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "card_payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), sa.ForeignKey("orders.id", name="fk_card_payments_order_id_orders"), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("tip", sa.BigInteger(), nullable=False),
        sa.Column("order_total", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("reserve", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("intent", sa.String(length=255), server_default="", nullable=False),
        sa.Column("url", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("authorised_at", sa.String(length=32), nullable=True),
        sa.Column("captured", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("refunded", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("actual_fee", sa.BigInteger(), nullable=True),
        sa.Column("flagged", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_card_payments"),
        sa.UniqueConstraint("order_id", "attempt", name="uq_card_payments_order_id_attempt"),
    )
    op.create_index("ix_card_payments_order_id", "card_payments", ["order_id"])
    op.create_index("ix_card_payments_status", "card_payments", ["status"])
    op.create_index("ix_card_payments_intent", "card_payments", ["intent"])


def downgrade() -> None:
    op.drop_table("card_payments")

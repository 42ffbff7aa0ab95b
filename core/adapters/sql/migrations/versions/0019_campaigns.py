"""Campaigns: several donors fund one seeker's meal; each person's gift to a campaign.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("creator_id", sa.Integer(), sa.ForeignKey("people.id", name="fk_campaigns_creator_id_people"), nullable=False),
        sa.Column("order_id", sa.Integer(), sa.ForeignKey("orders.id", name="fk_campaigns_order_id_orders"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("restaurant_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("meal_name", sa.String(length=120), nullable=False),
        sa.Column("meal_price", sa.BigInteger(), nullable=False),
        sa.Column("delivery_fee", sa.BigInteger(), nullable=False),
        sa.Column("tip", sa.BigInteger(), nullable=False),
        sa.Column("raised", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("expires_at", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_campaigns"),
        sa.UniqueConstraint("code", name="uq_campaigns_code"),
        sa.UniqueConstraint("order_id", name="uq_campaigns_order_id"),
    )
    op.create_index("ix_campaigns_creator_id", "campaigns", ["creator_id"])
    op.create_index("ix_campaigns_status", "campaigns", ["status"])
    op.create_table(
        "campaign_gifts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaigns.id", name="fk_campaign_gifts_campaign_id_campaigns"),
                  nullable=False),  # fmt: skip
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("people.id", name="fk_campaign_gifts_person_id_people"), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("anonymous", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("refunded", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_campaign_gifts"),
        sa.UniqueConstraint("campaign_id", "seq", name="uq_campaign_gifts_campaign_id_seq"),
        sa.UniqueConstraint("campaign_id", "key", name="uq_campaign_gifts_campaign_id_key"),
    )
    op.create_index("ix_campaign_gifts_campaign_id", "campaign_gifts", ["campaign_id"])
    op.create_index("ix_campaign_gifts_person_id", "campaign_gifts", ["person_id"])


def downgrade() -> None:
    op.drop_table("campaign_gifts")
    op.drop_table("campaigns")

"""Campaigns near you and batched progress: who opted in (and where), and what each person was told.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaign_nearby",
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("people.id", name="fk_campaign_nearby_person_id_people"),
                  nullable=False),  # fmt: skip
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lng", sa.Float(), nullable=False),
        sa.Column("since", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("person_id", name="pk_campaign_nearby"),
    )
    op.create_table(
        "campaign_notices",
        sa.Column("campaign_id", sa.Integer(),
                  sa.ForeignKey("campaigns.id", name="fk_campaign_notices_campaign_id_campaigns"), nullable=False),  # fmt: skip
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("people.id", name="fk_campaign_notices_person_id_people"),
                  nullable=False),  # fmt: skip
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("told_seq", sa.Integer(), server_default="0", nullable=False),
        sa.Column("told_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "person_id", "kind", name="pk_campaign_notices"),
    )
    op.create_index("ix_campaign_notices_person_id", "campaign_notices", ["person_id"])


def downgrade() -> None:
    op.drop_table("campaign_notices")
    op.drop_table("campaign_nearby")

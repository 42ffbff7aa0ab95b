"""Campaign gifts by card: a card payment may be a gift to a campaign, and a gift may be held on a card.

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("card_payments") as batch:
        batch.add_column(sa.Column("campaign_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("anonymous", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("campaign_gifts") as batch:
        batch.add_column(sa.Column("payment_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaign_gifts") as batch:
        batch.drop_column("payment_id")
    with op.batch_alter_table("card_payments") as batch:
        batch.drop_column("anonymous")
        batch.drop_column("campaign_id")

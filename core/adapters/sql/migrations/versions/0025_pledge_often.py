"""A pledge's donor may hear of every use (batched) instead of once a day: pledges.often,
told_use_id, told_at.

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Every existing pledge stays on the daily message."""
    with op.batch_alter_table("pledges") as batch:
        batch.add_column(sa.Column("often", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("told_use_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("told_at", sa.String(length=32), nullable=True))


def downgrade() -> None:
    """Drop the three columns."""
    with op.batch_alter_table("pledges") as batch:
        batch.drop_column("told_at")
        batch.drop_column("told_use_id")
        batch.drop_column("often")

"""Ratings carry the rater's optional comment (≤ 280 characters); the chain holds only its salted commitment.

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ratings.comment (empty for every existing rating)."""
    with op.batch_alter_table("ratings") as batch:
        batch.add_column(sa.Column("comment", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    """Drop ratings.comment."""
    with op.batch_alter_table("ratings") as batch:
        batch.drop_column("comment")

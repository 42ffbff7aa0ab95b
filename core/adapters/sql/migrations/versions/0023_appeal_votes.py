"""Appeals put to a members' vote: a proposal's appeal (what members are asked), a dispute's vote.

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("proposals", sa.Column("appeal", sa.Text(), server_default="{}", nullable=False))
    op.add_column("disputes", sa.Column("vote_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("disputes") as batch:
        batch.drop_column("vote_id")
    with op.batch_alter_table("proposals") as batch:
        batch.drop_column("appeal")

"""Signed daily checkpoints of the event chain; salts of the chain's commitments to personal data;
subscriptions to regular messages.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checkpoints",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("head", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("day", name="pk_checkpoints"),
    )
    op.create_table(
        "commitment_salts",
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("subject", name="pk_commitment_salts"),
    )
    op.create_table(
        "subscriptions",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("person_id", "topic", name="pk_subscriptions"),
    )
    if op.get_bind().dialect.name == "postgresql":
        # A published checkpoint is never edited or withdrawn (ketpaar_refuse_change is from 0002).
        op.execute("CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON checkpoints "
                   "FOR EACH ROW EXECUTE FUNCTION ketpaar_refuse_change()")  # fmt: skip


def downgrade() -> None:
    op.drop_table("subscriptions")
    op.drop_table("commitment_salts")
    op.drop_table("checkpoints")

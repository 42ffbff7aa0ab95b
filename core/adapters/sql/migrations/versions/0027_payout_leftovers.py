"""Payout safety: what Stripe said about each connected account (account.updated), and when a
payee without payout details was last told that money waits for them.

Revision ID: 0027
Revises: 0026
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Two new tables; nothing existing changes."""
    op.create_table(
        "connect_accounts",
        sa.Column("account", sa.String(length=64), primary_key=True),
        sa.Column("ready", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("missing", sa.String(length=16), nullable=False, server_default=""),
        sa.Column("event_created", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.Column("told", sa.String(length=16), nullable=True),
    )
    op.create_table(
        "payout_skip_notices",
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("people.id"), primary_key=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("told_at", sa.String(length=32), nullable=False),
    )


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("payout_skip_notices")
    op.drop_table("connect_accounts")

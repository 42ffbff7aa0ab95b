"""Payout safety: what Stripe said about each connected account (account.updated), and when a
payee without payout details was last told that money waits for them; on proposals, whether the
admins were told a passed appeal vote waits for the pool, and whether its polls still need stopping.

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
    """Two new tables and two proposal columns (nothing pending, nobody told yet)."""
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
    with op.batch_alter_table("proposals") as batch:
        batch.add_column(sa.Column("pool_short_told", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("polls_stop_pending", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    """Drop both tables and the two columns."""
    with op.batch_alter_table("proposals") as batch:
        batch.drop_column("polls_stop_pending")
        batch.drop_column("pool_short_told")
    op.drop_table("payout_skip_notices")
    op.drop_table("connect_accounts")

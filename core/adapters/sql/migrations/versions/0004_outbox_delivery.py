"""outbox delivery: provider message ids (for edits) and claim leases (for several senders)

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        # The provider's id of the delivered message, so it can be edited later (Telegram jobs).
        batch_op.add_column(sa.Column("provider_message_id", sa.String(length=64), nullable=True))
        # While status is `sending`: when the claim expires and recovery may take the row back.
        batch_op.add_column(sa.Column("lease_until", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("lease_until")
        batch_op.drop_column("provider_message_id")

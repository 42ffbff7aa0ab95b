"""Commit-ordered outbox sequence (polling cursors never skip) and buttons kept apart from steps.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch.create_index("ix_outbox_recipient_seq", ["channel", "address", "seq"])
    with op.batch_alter_table("chain_head") as batch:
        batch.add_column(sa.Column("outbox_seq", sa.BigInteger(), nullable=False, server_default="0"))
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("choices", sa.Text(), nullable=False, server_default="[]"))
    # Existing rows keep their order: their ids were handed out before this change.
    op.execute("UPDATE outbox SET seq = id")
    op.execute("UPDATE chain_head SET outbox_seq = (SELECT COALESCE(MAX(id), 0) FROM outbox)")


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("choices")
    with op.batch_alter_table("chain_head") as batch:
        batch.drop_column("outbox_seq")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_recipient_seq")
        batch.drop_column("seq")

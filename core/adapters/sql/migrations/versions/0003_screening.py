"""seeker screening: face embeddings and safety assessments

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seeker_embeddings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lng", sa.Float(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("expires_at", sa.String(length=32), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_seeker_embeddings_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seeker_embeddings")),
    )
    with op.batch_alter_table("seeker_embeddings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_seeker_embeddings_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_seeker_embeddings_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_seeker_embeddings_order_id"), ["order_id"], unique=False)

    op.create_table(
        "safety_assessments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("score_bp", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("features", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_safety_assessments_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_assessments")),
    )
    with op.batch_alter_table("safety_assessments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_safety_assessments_order_id"), ["order_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("safety_assessments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_safety_assessments_order_id"))
    op.drop_table("safety_assessments")
    with op.batch_alter_table("seeker_embeddings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_seeker_embeddings_order_id"))
        batch_op.drop_index(batch_op.f("ix_seeker_embeddings_expires_at"))
        batch_op.drop_index(batch_op.f("ix_seeker_embeddings_created_at"))
    op.drop_table("seeker_embeddings")

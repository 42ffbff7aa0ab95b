"""Money pledged ahead (/pledge): pledges with their place, hours and renewal, and what each paid for.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pledges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("people.id", name="fk_pledges_person_id_people"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lng", sa.Float(), nullable=True),
        sa.Column("radius_m", sa.Integer(), nullable=True),
        sa.Column("zone", sa.String(length=12), nullable=True),
        sa.Column("lat_min", sa.Float(), nullable=True),
        sa.Column("lat_max", sa.Float(), nullable=True),
        sa.Column("lng_min", sa.Float(), nullable=True),
        sa.Column("lng_max", sa.Float(), nullable=True),
        sa.Column("start_hour", sa.Integer(), nullable=True),
        sa.Column("end_hour", sa.Integer(), nullable=True),
        sa.Column("auto_renew", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("remaining", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("total_in", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("returned", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("renew_on", sa.String(length=10), nullable=True),
        sa.Column("told_day", sa.String(length=10), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_pledges"),
        # the ledger refuses to drive pledge:<id> negative; the mirror column says so too
        sa.CheckConstraint("remaining >= 0", name="ck_pledges_remaining_not_negative"),
    )
    op.create_index("ix_pledges_person_id", "pledges", ["person_id"])
    op.create_index("ix_pledges_alloc", "pledges", ["status", "rank", "id"])
    op.create_index("ix_pledges_alloc_zone", "pledges", ["status", "rank", "zone", "id"])
    op.create_table(
        "pledge_uses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pledge_id", sa.Integer(), sa.ForeignKey("pledges.id", name="fk_pledge_uses_pledge_id_pledges"), nullable=False),
        sa.Column("order_id", sa.Integer(), sa.ForeignKey("orders.id", name="fk_pledge_uses_order_id_orders"), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.Column("area", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pledge_uses"),
    )
    op.create_index("ix_pledge_uses_pledge_id", "pledge_uses", ["pledge_id", "id"])
    op.create_index("ix_pledge_uses_day", "pledge_uses", ["day"])


def downgrade() -> None:
    op.drop_index("ix_pledge_uses_day", table_name="pledge_uses")
    op.drop_index("ix_pledge_uses_pledge_id", table_name="pledge_uses")
    op.drop_table("pledge_uses")
    op.drop_index("ix_pledges_alloc_zone", table_name="pledges")
    op.drop_index("ix_pledges_alloc", table_name="pledges")
    op.drop_index("ix_pledges_person_id", table_name="pledges")
    op.drop_table("pledges")

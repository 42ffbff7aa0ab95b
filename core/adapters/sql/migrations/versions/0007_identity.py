"""Identities that cannot be borrowed: channel identities per person, web-chat sessions,
link codes, single-use admin sign-in tokens, deposits awaiting a second admin.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identities",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("people.id", name="fk_identities_person_id_people"), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("channel", "address", name="pk_identities"),
    )
    op.create_index("ix_identities_person_id", "identities", ["person_id"])
    # Everyone known so far is reached at exactly the identity they were created with.
    op.execute("INSERT INTO identities (channel, address, person_id, created_at) SELECT channel, address, id, created_at FROM people")
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("expires_at", sa.String(length=32), nullable=False),
        sa.Column("revoked_at", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_web_sessions"),
    )
    op.create_index("ix_web_sessions_address", "web_sessions", ["address"])
    op.create_table(
        "link_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("people.id", name="fk_link_codes_person_id_people"), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("expires_at", sa.String(length=32), nullable=False),
        sa.Column("used_at", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_link_codes"),
    )
    op.create_index("ix_link_codes_person_id", "link_codes", ["person_id"])
    op.create_index("ix_link_codes_code_hash", "link_codes", ["code_hash"])
    op.create_table(
        "link_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_link_failures"),
    )
    op.create_index("ix_link_failures_person_at", "link_failures", ["person_id", "at"])
    op.create_table(
        "used_tokens",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name="pk_used_tokens"),
    )
    op.create_table(
        "deposit_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("people.id", name="fk_deposit_requests_person_id_people"), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_deposit_requests"),
    )


def downgrade() -> None:
    op.drop_table("deposit_requests")
    op.drop_table("used_tokens")
    op.drop_index("ix_link_failures_person_at", table_name="link_failures")
    op.drop_table("link_failures")
    op.drop_index("ix_link_codes_code_hash", table_name="link_codes")
    op.drop_index("ix_link_codes_person_id", table_name="link_codes")
    op.drop_table("link_codes")
    op.drop_index("ix_web_sessions_address", table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_index("ix_identities_person_id", table_name="identities")
    op.drop_table("identities")

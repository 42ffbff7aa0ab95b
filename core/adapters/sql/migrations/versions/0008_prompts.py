"""Prompts: several open questions per person, each option numbered uniquely among them,
instead of one list of "the" last buttons per conversation.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Buttons shown before this change stay answerable by typed number for as long as other prompts.
CARRIED_OVER_FOR = timedelta(hours=6)


def upgrade() -> None:
    prompts = op.create_table(
        "prompts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("people.id", name="fk_prompts_person_id_people"), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("options", sa.Text(), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=True),
        sa.Column("opened_at", sa.String(length=32), nullable=False),
        sa.Column("expires_at", sa.String(length=32), nullable=True),
        sa.Column("answered_at", sa.String(length=32), nullable=True),
        sa.Column("withdrawn_at", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_prompts"),
    )
    op.create_index("ix_prompts_person_id", "prompts", ["person_id"])
    op.create_index("ix_prompts_ref", "prompts", ["ref"])
    _carry_over_choices(prompts)
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("choices")


def _carry_over_choices(prompts: sa.Table) -> None:
    """Each person's last buttons become one open prompt numbered 1..n, as they were shown."""
    now = datetime.now(UTC)
    rows = op.get_bind().execute(sa.text("SELECT person_id, choices FROM conversations WHERE choices != '[]'"))
    carried = []
    for person_id, raw in rows:
        choices = json.loads(raw)
        if not choices:
            continue
        options = [[n, label, payload] for n, (label, payload) in enumerate(choices, 1)]
        carried.append({
            "person_id": person_id, "kind": str(choices[0][1]).split(":", 1)[0][:32],
            "options": json.dumps(options, ensure_ascii=False), "opened_at": now.isoformat(),
            "expires_at": (now + CARRIED_OVER_FOR).isoformat(),
        })  # fmt: skip
    if carried:
        op.bulk_insert(prompts, carried)


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("choices", sa.Text(), nullable=False, server_default="[]"))
    op.drop_index("ix_prompts_ref", table_name="prompts")
    op.drop_index("ix_prompts_person_id", table_name="prompts")
    op.drop_table("prompts")

"""Proposals, their seconds and their votes (one vote per member per proposal)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Integer, String, Table, Text, UniqueConstraint, false

from core.adapters.sql.schema import metadata

proposals = Table(
    "proposals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("proposer_id", Integer, nullable=False),
    Column("changes", Text, nullable=False, server_default="{}"),  # JSON {name: value}
    Column("decision", Text, nullable=False, server_default=""),
    Column("reason", Text, nullable=False, server_default=""),
    Column("status", String(16), nullable=False, index=True),
    Column("created_at", String(32), nullable=False),
    Column("closes_at", String(32), nullable=False),
    Column("opened_at", String(32), nullable=True),
    Column("members_at_opening", Integer, nullable=False, server_default="0"),
    Column("quorum_bp", Integer, nullable=False, server_default="0"),
    Column("majority_bp", Integer, nullable=False, server_default="0"),
    Column("closed_at", String(32), nullable=True),
    Column("tally", Text, nullable=False, server_default="{}"),  # JSON {choice: count} at close
    Column("appeal", Text, nullable=False, server_default="{}"),  # JSON: what members are asked about an appeal
    Column("version", Integer, nullable=False, server_default="0"),
    # A passed appeal vote the guarantee pool cannot cover yet: paise short when the admins were told (once).
    Column("pool_short_told", BigInteger, nullable=True),
    # Closed, but its native polls (Telegram) not yet stopped: the close job tries again (a crash
    # between the commit and stopPoll must not leave members a poll that looks open).
    Column("polls_stop_pending", Boolean, nullable=False, server_default=false()),
)

proposal_seconds = Table(
    "proposal_seconds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("proposal_id", ForeignKey("proposals.id"), nullable=False),
    Column("person_id", Integer, nullable=False),
    Column("seconded_at", String(32), nullable=False),
    UniqueConstraint("proposal_id", "person_id"),
)

votes = Table(
    "votes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("proposal_id", ForeignKey("proposals.id"), nullable=False),
    Column("person_id", Integer, nullable=False),
    Column("choice", String(16), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("cast_at", String(32), nullable=False),
    UniqueConstraint("proposal_id", "person_id"),
)

ratings = Table(
    "ratings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", ForeignKey("orders.id"), nullable=False),
    Column("rater_id", Integer, nullable=False),
    Column("aspect", String(16), nullable=False),
    Column("subject", String(16), nullable=False, index=True),  # restaurant | worker
    Column("subject_id", Integer, nullable=False),
    Column("stars", Integer, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("appeal_reason", Text, nullable=False, server_default=""),
    Column("decided_by", Integer, nullable=True),
    Column("version", Integer, nullable=False, server_default="0"),
    Column("comment", Text, nullable=False, server_default=""),  # the rater's optional words (≤ 280)
    UniqueConstraint("order_id", "rater_id", "aspect"),
)

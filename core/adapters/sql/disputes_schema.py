"""The disputes table: at most one dispute per order."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table, Text

from core.adapters.sql.schema import metadata

disputes = Table(
    "disputes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", ForeignKey("orders.id"), nullable=False, unique=True),
    Column("raised_by", Integer, nullable=False),
    Column("reason", String(16), nullable=False),
    Column("evidence", Text, nullable=False, server_default=""),
    Column("status", String(16), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("resolution", String(16), nullable=True),
    Column("resolved_by", Integer, nullable=True),
    Column("resolved_at", String(32), nullable=True),
    Column("note", Text, nullable=False, server_default=""),
    Column("tx_ids", Text, nullable=False, server_default="[]"),  # JSON list
    Column("appeals", Text, nullable=False, server_default="[]"),  # JSON list of person ids
    Column("appeal_resolution", String(16), nullable=True),
    Column("appeal_resolved_by", Integer, nullable=True),
    Column("appeal_note", Text, nullable=False, server_default=""),
    Column("vote_id", Integer, nullable=True),  # the members' vote on the appeal (a proposal), if any
    Column("version", Integer, nullable=False, server_default="0"),
)

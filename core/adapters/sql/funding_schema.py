"""Tables of an order's money: its contributions (one per source)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String, Table, UniqueConstraint

from core.adapters.sql.schema import metadata

contributions = Table(
    "contributions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", ForeignKey("orders.id"), nullable=False, index=True),
    Column("seq", Integer, nullable=False),
    Column("source", String(16), nullable=False),  # balance | pledge | campaign | card
    Column("account", String(64), nullable=False),
    Column("person_id", Integer, nullable=False),
    Column("amount", BigInteger, nullable=False),  # paise
    Column("tip", BigInteger, nullable=False, server_default="0"),
    Column("refunded", BigInteger, nullable=False, server_default="0"),
    Column("created_at", String(32), nullable=False),
    UniqueConstraint("order_id", "seq", name="uq_contributions_order_id_seq"),
)

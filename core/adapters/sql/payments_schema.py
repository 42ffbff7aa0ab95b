"""Tables of UPI top-ups, imported statement rows, payout details, payout batches and lines."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String, Table, Text

from core.adapters.sql.schema import metadata

topup_requests = Table(
    "topup_requests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("reference", String(16), nullable=False, unique=True),
    Column("person_id", ForeignKey("people.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),  # paise asked for
    Column("created_at", String(32), nullable=False),
)

statement_rows = Table(
    "statement_rows",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("txn_id", String(64), nullable=False, unique=True),  # the bank's: a row is imported once
    Column("date", String(10), nullable=False),
    Column("amount", BigInteger, nullable=False),  # paise
    Column("reference", String(16), nullable=True),
    Column("status", String(12), nullable=False),  # credited | flagged | unmatched | assigned
    Column("person_id", Integer, nullable=True),
    Column("tx_id", Integer, nullable=True),
    Column("note", Text, nullable=False, server_default=""),
    Column("imported_at", String(32), nullable=False),
)

payout_details = Table(
    "payout_details",
    metadata,
    Column("person_id", ForeignKey("people.id"), primary_key=True),
    Column("method", String(8), nullable=False),  # upi | bank
    Column("destination", String(80), nullable=False),
    Column("ifsc", String(11), nullable=False, server_default=""),
    Column("updated_at", String(32), nullable=False),
)

payout_batches = Table(
    "payout_batches",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("day", String(10), nullable=False, unique=True),
    Column("created_at", String(32), nullable=False),
    Column("bank_ref", String(64), nullable=True),
    Column("paid_at", String(32), nullable=True),
    Column("paid_by", Integer, nullable=True),
)

payout_lines = Table(
    "payout_lines",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("batch_id", ForeignKey("payout_batches.id"), nullable=False),
    Column("account", String(40), nullable=False),  # worker:<id> | restaurant:<id>
    Column("person_id", Integer, nullable=False),
    Column("name", String(120), nullable=False),
    Column("method", String(8), nullable=False),
    Column("destination", String(80), nullable=False),
    Column("ifsc", String(11), nullable=False, server_default=""),
    Column("amount", BigInteger, nullable=False),  # paise
    Column("status", String(12), nullable=False),  # pending | paid | failed
    Column("tx_id", Integer, nullable=False),
    Column("reversal_tx_id", Integer, nullable=True),
)

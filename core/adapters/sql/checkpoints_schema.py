"""Tables of the transparency work: signed daily checkpoints, commitment salts, subscriptions."""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table, Text

from core.adapters.sql.schema import metadata

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("day", String(10), primary_key=True),  # the business day it closes (India time)
    Column("seq", Integer, nullable=False),
    Column("head", String(64), nullable=False),
    Column("body", Text, nullable=False),  # the signed checkpoint as canonical JSON
)

# The salts of the chain's commitments to personal data (core/ledger/commitments.py): deleting a
# row makes the committed value unrecoverable from the chain.
commitment_salts = Table(
    "commitment_salts",
    metadata,
    Column("subject", String(64), primary_key=True),  # what was committed: "dispute:3:note"
    Column("salt", String(32), nullable=False),
    Column("created_at", String(32), nullable=False),
)

# Who asked for a message about something that happens regularly (topic "checkpoint": the daily
# signed checkpoint).
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("person_id", Integer, primary_key=True),
    Column("topic", String(32), primary_key=True),
    Column("created_at", String(32), nullable=False),
)

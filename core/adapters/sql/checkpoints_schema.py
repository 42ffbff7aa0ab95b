"""The signed daily checkpoints of the event chain (head, length, totals): published, never edited."""

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

"""Tables for who is who: channel identities, web-chat sessions, link codes, admin sign-in
tokens and deposits awaiting a second admin."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table

from core.adapters.sql.schema import metadata

# Every way a person is reached: one row per (channel, address), all pointing at one person.
# `people.channel/address` stays the person's home contact (where notifications go).
identities = Table(
    "identities",
    metadata,
    Column("channel", String(16), primary_key=True),
    Column("address", String(128), primary_key=True),
    Column("person_id", ForeignKey("people.id"), nullable=False, index=True),
    Column("created_at", String(32), nullable=False),
)

# A web-chat session: the only proof of a web-chat identity. The secret is kept as a hash.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("secret_hash", String(64), nullable=False),
    Column("address", String(128), nullable=False, index=True),
    Column("kind", String(12), nullable=False),  # visitor | admin | demo
    Column("created_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),
    Column("revoked_at", String(32)),
    Column("source", String(64)),  # where it was opened: an opaque tag from the web layer (no raw address)
)

# One-time codes that join a second channel identity to a person (valid 10 minutes, 5 tries).
link_codes = Table(
    "link_codes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("person_id", ForeignKey("people.id"), nullable=False, index=True),
    Column("channel", String(16), nullable=False),
    Column("address", String(128), nullable=False),
    Column("code_hash", String(64), nullable=False, index=True),
    Column("created_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),
    Column("used_at", String(32)),
)

# Failed attempts to enter a link code, per person entering them (5 per code lifetime), with the
# source of the web-chat session they came through, if any (a capped share of the service budget).
link_failures = Table(
    "link_failures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("person_id", Integer, nullable=False),
    Column("at", String(32), nullable=False),
    Column("source", String(64)),
)
Index("ix_link_failures_person_at", link_failures.c.person_id, link_failures.c.at)
Index("ix_link_failures_source_at", link_failures.c.source, link_failures.c.at)

# Single use of admin sign-in links: a nonce is written once, a second use finds it.
used_tokens = Table(
    "used_tokens",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("used_at", String(32), nullable=False),
)

# Deposits above the governed limit wait here for a second admin.
deposit_requests = Table(
    "deposit_requests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("person_id", ForeignKey("people.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),  # paise
    Column("requested_by", Integer, nullable=False),
    Column("status", String(12), nullable=False),  # pending | recorded | refused
    Column("created_at", String(32), nullable=False),
    Column("decided_by", Integer),
    Column("decided_at", String(32)),
)

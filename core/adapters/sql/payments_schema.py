"""Tables of UPI top-ups, imported statement rows, payout details, payout batches and lines."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Integer, String, Table, Text, false

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

# What Stripe last said about a connected account (the account.updated webhook): only a ready
# account is paid by transfer; the others' money waits on their balance.
connect_accounts = Table(
    "connect_accounts",
    metadata,
    Column("account", String(64), primary_key=True),  # acct_…
    Column("ready", Boolean, nullable=False, server_default=false()),
    Column("missing", String(16), nullable=False, server_default=""),  # "" | details | review
    Column("event_created", BigInteger, nullable=False, server_default="0"),  # an older event changes nothing
    Column("updated_at", String(32), nullable=False),
    Column("told", String(16), nullable=True),  # the `missing` the payee was last told about
)

# When a payee without payout details was last told that money waits for them: told again only
# when the amount grew by the payout minimum or a week passed, not at every run.
payout_skip_notices = Table(
    "payout_skip_notices",
    metadata,
    Column("person_id", ForeignKey("people.id"), primary_key=True),
    Column("amount", BigInteger, nullable=False),  # paise owed when last told
    Column("told_at", String(32), nullable=False),
)

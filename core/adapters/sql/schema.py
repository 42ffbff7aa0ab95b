"""The relational schema (SQLAlchemy Core); Alembic migrations are generated from it."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Timestamps are ISO-8601 UTC strings: identical on SQLite and PostgreSQL, and hashed as-is.
people = Table(
    "people",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("address", String(128), nullable=False),
    Column("name", String(120)),
    Column("language", String(8), nullable=False, server_default="en"),
    Column("is_admin", Boolean, nullable=False, server_default="0"),
    Column("is_member", Boolean, nullable=False, server_default="0"),
    Column("created_at", String(32), nullable=False),
    UniqueConstraint("channel", "address", name="uq_people_channel_address"),
)

restaurants = Table(
    "restaurants",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("person_id", ForeignKey("people.id"), nullable=False, unique=True),
    Column("name", String(120), nullable=False),
    Column("address", Text, nullable=False, server_default=""),
    Column("lat", Float, nullable=False),
    Column("lng", Float, nullable=False),
    Column("zone", String(12), nullable=False, index=True),
    Column("daily_capacity", Integer, nullable=False),
    Column("open_minute", Integer, nullable=False, server_default="0"),  # minutes after midnight IST
    Column("close_minute", Integer, nullable=False, server_default="1440"),
    Column("status", String(16), nullable=False),  # pending | approved | rejected
    Column("created_at", String(32), nullable=False),
)

menu_items = Table(
    "menu_items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("restaurant_id", ForeignKey("restaurants.id"), nullable=False, index=True),
    Column("name", String(120), nullable=False),
    Column("price", BigInteger, nullable=False),  # paise
    Column("active", Boolean, nullable=False, server_default="1"),
)

workers = Table(
    "workers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("person_id", ForeignKey("people.id"), nullable=False, unique=True),
    Column("name", String(120), nullable=False),
    Column("lat", Float, nullable=False),
    Column("lng", Float, nullable=False),
    Column("zone", String(12), nullable=False, index=True),
    Column("online", Boolean, nullable=False, server_default="0"),
    Column("status", String(16), nullable=False),  # pending | approved | rejected
    Column("created_at", String(32), nullable=False),
)

capacity_days = Table(
    "capacity_days",
    metadata,
    Column("restaurant_id", ForeignKey("restaurants.id"), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("pledged", Integer, nullable=False),
    Column("reserved", Integer, nullable=False, server_default="0"),  # orders in flight
    Column("completed", Integer, nullable=False, server_default="0"),  # orders delivered
)

capacity_log = Table(
    "capacity_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("restaurant_id", Integer, nullable=False, index=True),
    Column("day", String(10), nullable=False),
    Column("order_id", Integer, nullable=False),
    Column("change", String(12), nullable=False),
    Column("at", String(32), nullable=False),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("donor_id", ForeignKey("people.id"), nullable=False, index=True),
    Column("status", String(24), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("restaurant_id", Integer, index=True),
    Column("menu_item_id", Integer),
    Column("meal_name", String(120)),
    Column("meal_price", BigInteger, nullable=False, server_default="0"),
    Column("delivery_fee", BigInteger, nullable=False, server_default="0"),
    Column("tip", BigInteger, nullable=False, server_default="0"),
    Column("worker_id", Integer, index=True),
    Column("seeker_lat", Float, nullable=False),
    Column("seeker_lng", Float, nullable=False),
    Column("zone", String(12), nullable=False),
    Column("seeker_photo", String(64)),
    Column("delivery_photo", String(64)),
    Column("delivery_lat", Float),
    Column("delivery_lng", Float),
    Column("screening", Text, nullable=False, server_default="{}"),
    Column("tried_restaurants", Text, nullable=False, server_default="[]"),
    Column("capacity_day", String(10)),
    Column("ready_at", String(32)),
    Column("settle_after", String(32), index=True),  # delivered or failed: settles from then on
    Column("delivery_failed", Boolean, nullable=False, server_default="0"),  # the seeker was not found
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("status_at", String(32)),  # when the order entered its status: timeouts count from it
    # When the exact seeker and delivery coordinates were rounded to about 1 km (retention, or
    # the donor's /forget); NULL while they are exact.
    Column("coarse_at", String(32)),
)
Index("ix_orders_created_at", orders.c.created_at)

# What the timeout job did to an order, once per stage and round of one stay in a status
# (`since` is the order's status_at then): acting twice is impossible by the primary key.
order_timeouts = Table(
    "order_timeouts",
    metadata,
    Column("order_id", Integer, primary_key=True),
    Column("stage", String(24), primary_key=True),
    Column("since", String(32), primary_key=True),
    Column("round", Integer, primary_key=True),
    Column("acted_at", String(32), nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("type", String(64), nullable=False),
    Column("occurred_at", String(32), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("data", Text, nullable=False),  # canonical JSON
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

Index("ix_events_type", events.c.type)

# The exact canonical JSON of each event that was hashed (hash = sha256(prev_hash + body)), written
# in the same transaction as its `events` row: the audit reads and hashes this narrow table without
# re-serialising (and without reading the wide rows); the columns of `events` are checked against it.
# On SQLite seq is the rowid (INTEGER PRIMARY KEY): a read in seq order is a plain table scan.
event_bodies = Table(
    "event_bodies",
    metadata,
    Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=False),
    Column("body", LargeBinary, nullable=False),
)

# One row: the chain's head. Locking it serialises appends across processes.
chain_head = Table(
    "chain_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    # Last outbox sequence number, handed out under this row's lock at commit time.
    Column("outbox_seq", BigInteger, nullable=False, server_default="0"),
)

ledger_transactions = Table(
    "ledger_transactions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("ref", String(128), nullable=False),
    Column("memo", Text, nullable=False, server_default=""),
    Column("occurred_at", String(32), nullable=False),
    Column("day", String(10), nullable=False, index=True),
    UniqueConstraint("kind", "ref", name="uq_ledger_transactions_kind_ref"),  # idempotency
)

postings = Table(
    "postings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tx_id", ForeignKey("ledger_transactions.id"), nullable=False, index=True),
    Column("account", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),  # paise, signed
)
Index("ix_postings_account", postings.c.account)

parameters = Table(
    "parameters",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(48), nullable=False, index=True),
    Column("value", BigInteger, nullable=False),
    Column("changed_at", String(32), nullable=False),
    Column("source", String(64), nullable=False),
)

conversations = Table(
    "conversations",
    metadata,
    Column("person_id", Integer, primary_key=True, autoincrement=False),
    Column("state", Text, nullable=False),  # JSON: step and answers so far
    Column("updated_at", String(32), nullable=False),
)

# Questions with options put to a person (core/prompts/model.py); several may be open at once.
# A message with buttons opens one; answering, withdrawing or expiring closes it. Open ones are
# never edited except to close them; closed ones are purged after a while (PromptRepo.open).
prompts = Table(
    "prompts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("person_id", ForeignKey("people.id"), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("options", Text, nullable=False),  # JSON [[number, label, payload], ...]
    Column("ref", String(64), index=True),  # e.g. "job:42", to withdraw every offer of a job
    Column("opened_at", String(32), nullable=False),
    Column("expires_at", String(32)),
    Column("answered_at", String(32)),
    Column("withdrawn_at", String(32)),
)

inbox = Table(
    "inbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("provider_id", String(128), nullable=False),
    Column("address", String(128), nullable=False),
    Column("payload", Text, nullable=False),  # JSON of the neutral inbound message
    Column("status", String(12), nullable=False),  # pending | done | failed
    Column("received_at", String(32), nullable=False),
    Column("processed_at", String(32)),
    Column("error", Text),
    UniqueConstraint("channel", "provider_id", name="uq_inbox_channel_provider_id"),
)
Index("ix_inbox_pending", inbox.c.channel, inbox.c.address, inbox.c.status)
# Only the pending rows (0021): claiming a batch reads these, never the processed history.
Index("ix_inbox_pending_only", inbox.c.id, postgresql_where=inbox.c.status == "pending", sqlite_where=inbox.c.status == "pending")
# Each sender's pending rows in id order: "is this their oldest pending message?" is one probe.
Index("ix_inbox_pending_sender", inbox.c.channel, inbox.c.address, inbox.c.id, postgresql_where=inbox.c.status == "pending",
      sqlite_where=inbox.c.status == "pending")  # fmt: skip
Index("ix_inbox_received_at", inbox.c.received_at)  # the message-log retention job

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("address", String(128), nullable=False),
    Column("payload", Text, nullable=False),  # JSON of the neutral outbound message
    Column("status", String(12), nullable=False),  # pending | sending | sent | failed | unknown | withdrawn
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", String(32)),
    Column("created_at", String(32), nullable=False),
    Column("sent_at", String(32)),
    Column("last_error", Text),
    Column("provider_message_id", String(64)),  # e.g. Telegram's message id, to edit it later
    Column("lease_until", String(32)),  # while `sending`: when recovery may take the row back
    # Commit-ordered number, set at commit under the chain-head lock: ids are handed out at
    # insert time and may commit out of order on PostgreSQL, so polling clients use seq.
    Column("seq", BigInteger),
)
Index("ix_outbox_recipient_seq", outbox.c.channel, outbox.c.address, outbox.c.seq)
Index("ix_outbox_recipient", outbox.c.channel, outbox.c.address, outbox.c.id)
Index("ix_outbox_status", outbox.c.status, outbox.c.next_attempt_at)
Index("ix_outbox_created_at", outbox.c.created_at)  # the message-log retention job

photos = Table(
    "photos",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),  # seeker | delivery
    Column("owner_id", Integer, nullable=False),
    Column("content_type", String(32), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("deleted_at", String(32)),
)

board_jobs = Table(
    "board_jobs",
    metadata,
    Column("order_id", Integer, primary_key=True, autoincrement=False),
    Column("zone", String(12), nullable=False, index=True),
    Column("posted_at", Float, nullable=False),  # epoch seconds: the board's score
    Column("payload", Text, nullable=False),
    Column("claimed_by", Integer),
)

job_runs = Table(
    "job_runs",
    metadata,
    Column("name", String(48), primary_key=True),
    Column("key", String(48), primary_key=True),
    Column("ran_at", String(32), nullable=False),
)

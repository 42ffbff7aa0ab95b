"""Tables of campaigns: the campaign itself and each person's gift to it."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, ForeignKey, Integer, String, Table, UniqueConstraint

from core.adapters.sql.schema import metadata

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(16), nullable=False, unique=True),
    Column("creator_id", ForeignKey("people.id"), nullable=False, index=True),
    Column("order_id", ForeignKey("orders.id"), nullable=False, unique=True),
    Column("status", String(16), nullable=False, index=True),
    Column("restaurant_id", Integer, nullable=False),
    Column("item_id", Integer, nullable=False),
    Column("meal_name", String(120), nullable=False),
    Column("meal_price", BigInteger, nullable=False),
    Column("delivery_fee", BigInteger, nullable=False),
    Column("tip", BigInteger, nullable=False),
    Column("raised", BigInteger, nullable=False, server_default="0"),
    Column("expires_at", String(32), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("version", Integer, nullable=False, server_default="0"),
)

campaign_gifts = Table(
    "campaign_gifts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", ForeignKey("campaigns.id"), nullable=False, index=True),
    Column("seq", Integer, nullable=False),
    Column("person_id", ForeignKey("people.id"), nullable=False, index=True),
    Column("amount", BigInteger, nullable=False),
    Column("anonymous", Boolean, nullable=False, server_default="0"),
    Column("key", String(64), nullable=False),
    Column("refunded", BigInteger, nullable=False, server_default="0"),
    Column("created_at", String(32), nullable=False),
    UniqueConstraint("campaign_id", "seq", name="uq_campaign_gifts_campaign_id_seq"),
    UniqueConstraint("campaign_id", "key", name="uq_campaign_gifts_campaign_id_key"),
)

# People who asked to hear of new campaigns near a place (/nearby on); the place is theirs to
# take back: /nearby off and /forget delete the row.
campaign_nearby = Table(
    "campaign_nearby",
    metadata,
    Column("person_id", ForeignKey("people.id"), primary_key=True),
    Column("lat", Float, nullable=False),
    Column("lng", Float, nullable=False),
    Column("since", String(32), nullable=False),
)

# What each person was told about a campaign, so nothing is told twice: kind "nearby" (the one
# "campaign near you" message, its day counted against the daily cap) or "progress" (the last
# gift a batched SMS/WhatsApp summary covered, and when it went).
campaign_notices = Table(
    "campaign_notices",
    metadata,
    Column("campaign_id", ForeignKey("campaigns.id"), primary_key=True),
    Column("person_id", ForeignKey("people.id"), primary_key=True, index=True),
    Column("kind", String(16), primary_key=True),
    Column("day", String(10), nullable=False),
    Column("told_seq", Integer, nullable=False, server_default="0"),
    Column("told_at", String(32), nullable=False),
)

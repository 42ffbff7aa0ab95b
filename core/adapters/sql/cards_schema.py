"""The card_payments table: one row per PaymentIntent of an order."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Integer, String, Table, Text, UniqueConstraint, false

from core.adapters.sql.schema import metadata

card_payments = Table(
    "card_payments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", ForeignKey("orders.id"), nullable=False, index=True),
    Column("person_id", Integer, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("item_id", Integer, nullable=False),
    Column("tip", BigInteger, nullable=False),
    Column("order_total", BigInteger, nullable=False),  # paise
    Column("fee", BigInteger, nullable=False),  # paise the donor pays on top
    Column("reserve", BigInteger, nullable=False),  # paise of estimated fee held until capture
    Column("status", String(16), nullable=False, index=True),
    Column("intent", String(255), nullable=False, server_default="", index=True),
    Column("url", Text, nullable=False, server_default=""),
    Column("created_at", String(32), nullable=False),
    Column("authorised_at", String(32), nullable=True),
    Column("captured", BigInteger, nullable=False, server_default="0"),
    Column("refunded", BigInteger, nullable=False, server_default="0"),
    Column("actual_fee", BigInteger, nullable=True),
    Column("flagged", Boolean, nullable=False, server_default=false()),
    Column("version", Integer, nullable=False, server_default="0"),
    Column("campaign_id", Integer, nullable=True),  # set when the payment is a gift to a campaign
    Column("anonymous", Boolean, nullable=False, server_default=false()),  # that gift's name hidden from others
    UniqueConstraint("order_id", "attempt", name="uq_card_payments_order_id_attempt"),
)

"""Tables of money pledged ahead: the pledges and what each paid for."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Column, Float, ForeignKey, Index, Integer, String, Table, false

from core.adapters.sql.schema import metadata

pledges = Table(
    "pledges",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("person_id", ForeignKey("people.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # general | location | time | location_time
    Column("rank", Integer, nullable=False),  # allocation order of the kind: 0 pays first
    Column("amount", BigInteger, nullable=False),  # paise put aside at making and at each renewal
    Column("lat", Float, nullable=True),
    Column("lng", Float, nullable=True),
    Column("radius_m", Integer, nullable=True),
    Column("zone", String(12), nullable=True),  # geohash cell of the place (core.funding.pledge_model.ZONE_PRECISION)
    # a box around the place, so the database filters cheaply; the exact distance decides
    Column("lat_min", Float, nullable=True),
    Column("lat_max", Float, nullable=True),
    Column("lng_min", Float, nullable=True),
    Column("lng_max", Float, nullable=True),
    Column("start_hour", Integer, nullable=True),
    Column("end_hour", Integer, nullable=True),
    Column("auto_renew", Boolean, nullable=False, server_default="0"),
    Column("status", String(16), nullable=False),  # active | paused | cancelled
    Column("remaining", BigInteger, nullable=False, server_default="0"),  # = ledger balance of pledge:<id>
    Column("total_in", BigInteger, nullable=False, server_default="0"),
    Column("returned", BigInteger, nullable=False, server_default="0"),
    Column("created_at", String(32), nullable=False),
    Column("renew_on", String(10), nullable=True),
    Column("told_day", String(10), nullable=True),  # the last day its donor was told what it paid for
    # "Tell me more often": a message soon after each use (batched), instead of the daily one.
    Column("often", Boolean, nullable=False, server_default=false()),
    Column("told_use_id", Integer, nullable=True),  # the newest pledge_uses.id its donor was told of that way
    Column("told_at", String(32), nullable=True),  # when they were last told that way
    Index("ix_pledges_alloc", "status", "rank", "id"),
    Index("ix_pledges_alloc_zone", "status", "rank", "zone", "id"),
    CheckConstraint("remaining >= 0", name="ck_pledges_remaining_not_negative"),
)

pledge_uses = Table(
    "pledge_uses",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("pledge_id", ForeignKey("pledges.id"), nullable=False),
    Column("order_id", ForeignKey("orders.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("day", String(10), nullable=False),
    Column("at", String(32), nullable=False),
    Column("area", String(32), nullable=False),
    Index("ix_pledge_uses_pledge_id", "pledge_id", "id"),
    Index("ix_pledge_uses_day", "day"),
)

"""Tables of seeker screening: face embeddings (short-lived) and safety assessments.

Kept apart from core/adapters/sql/schema.py but on the same MetaData, so that anything importing
this module (the screening repository, Alembic's env once it imports it) sees one schema.
Created by migration 0003.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, ForeignKey, Integer, LargeBinary, String, Table, Text

from core.adapters.sql.schema import metadata

# One row per screened-and-passed seeker photo. The embedding is 128 little-endian float32
# values (512 bytes), never the photo. Rows are deleted once expires_at has passed (the
# duplicate window), by ScreeningRepo.purge_expired run from the scheduler.
seeker_embeddings = Table(
    "seeker_embeddings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", ForeignKey("orders.id"), nullable=True, index=True),
    Column("lat", Float, nullable=False),
    Column("lng", Float, nullable=False),
    Column("created_at", String(32), nullable=False, index=True),  # ISO-8601 UTC
    Column("expires_at", String(32), nullable=False, index=True),
    Column("embedding", LargeBinary, nullable=False),
)

# The safety score given to an order's location, the model that gave it and its inputs
# (no coordinates: hour, weekday, sun elevation, nearby outcome counts, donor's answers).
safety_assessments = Table(
    "safety_assessments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", ForeignKey("orders.id"), nullable=True, index=True),
    Column("score_bp", Integer, nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("features", Text, nullable=False),  # JSON
    Column("created_at", String(32), nullable=False),
)

# What the worker said after each delivery (one tap): the outcome that trains the safety model.
delivery_reports = Table(
    "delivery_reports",
    metadata,
    Column("order_id", ForeignKey("orders.id"), primary_key=True),
    Column("worker_id", Integer, nullable=False),
    Column("went_well", Boolean, nullable=False),
    Column("safety_issue", Boolean, nullable=False),
    Column("lat", Float, nullable=False),
    Column("lng", Float, nullable=False),
    Column("created_at", String(32), nullable=False, index=True),
)

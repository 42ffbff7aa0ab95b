"""Seeker face embeddings, nearby delivery outcomes and safety assessments."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import and_, delete, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from core.adapters.sql.schema import orders
from core.adapters.sql.screening_schema import delivery_reports, safety_assessments, seeker_embeddings
from core.adapters.sql.sqlhelpers import insert_ignore, new_id
from core.orders import lifecycle
from core.orders.lifecycle import NO_MEAL
from core.seekers.faces import from_bytes, to_bytes
from core.seekers.screening import Candidate
from core.shared import geo

METRES_PER_DEGREE = 111_320.0

# The lifecycle's status groups as stored values (sorted, so queries read the same every time).
NO_MEAL_STATUSES = tuple(sorted(s.value for s in NO_MEAL))
GOOD_OUTCOMES = tuple(sorted(s.value for s in lifecycle.GOOD_OUTCOMES))
FAILED_OUTCOMES = tuple(sorted(s.value for s in lifecycle.FAILED_OUTCOMES))


def iso(at: datetime) -> str:
    """The one timestamp form these tables use (UTC, microseconds): ordered as text too."""
    if at.tzinfo is None:
        raise ValueError("a timezone-aware datetime is required")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def bounding_box(lat: float, lng: float, radius_m: float) -> tuple[float, float, float, float]:
    """(lat_lo, lat_hi, lng_lo, lng_hi) containing every point within radius_m (an index filter;
    the exact distance is checked afterwards)."""
    dlat = radius_m / METRES_PER_DEGREE
    cos_lat = math.cos(math.radians(lat))
    dlng = 180.0 if cos_lat < 1e-6 else min(180.0, radius_m / (METRES_PER_DEGREE * cos_lat))
    return lat - dlat, lat + dlat, lng - dlng, lng + dlng


class ScreeningRepo:
    """Face embeddings and safety assessments, on the caller's connection."""

    def __init__(self, conn: AsyncConnection, now: str | None = None) -> None:
        self.conn = conn
        self.now = now or iso(datetime.now(UTC))

    async def lock_area(self, lat: float, lng: float) -> None:
        """Serialise screenings near one place until the transaction ends (PostgreSQL).

        Takes a transaction advisory lock on the point's geohash-5 cell and its neighbours, in
        sorted order (no deadlocks). Two points within the duplicate radius (≪ a 5 km cell) always
        share a cell in their neighbourhoods, so two donors photographing the same seeker at
        the same moment are screened one after the other and the second sees the first.
        SQLite needs nothing: its writers are serialised already."""
        if self.conn.dialect.name != "postgresql":
            return
        for cell in sorted(geo.neighbourhood(geo.encode(lat, lng, 5))):
            await self.conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"screen:{cell}"})

    async def add_embedding(
        self, order_id: int | None, lat: float, lng: float, embedding: np.ndarray, created_at: datetime, expires_at: datetime
    ) -> int:
        """Store a seeker's embedding until expires_at."""
        result = await self.conn.execute(
            seeker_embeddings.insert().values(
                order_id=order_id, lat=lat, lng=lng, created_at=iso(created_at),
                expires_at=iso(expires_at), embedding=to_bytes(embedding),
            )
        )  # fmt: skip
        return new_id(result)

    async def candidates(self, since: datetime, lat: float, lng: float, radius_m: float) -> list[Candidate]:
        """Embeddings stored since `since` within radius_m of a point, nearest first.

        Embeddings of orders that ended without a meal (cancelled, declined, refunded, failed)
        are left out."""
        lat_lo, lat_hi, lng_lo, lng_hi = bounding_box(lat, lng, radius_m)
        box = and_(seeker_embeddings.c.lat.between(lat_lo, lat_hi), seeker_embeddings.c.lng.between(lng_lo, lng_hi))
        q = (
            select(seeker_embeddings)
            .select_from(seeker_embeddings.outerjoin(orders, orders.c.id == seeker_embeddings.c.order_id))
            .where(
                seeker_embeddings.c.created_at >= iso(since),
                box,
                or_(orders.c.id.is_(None), orders.c.status.not_in(NO_MEAL_STATUSES)),
            )
        )
        found: list[Candidate] = []
        for row in await self.conn.execute(q):
            distance = geo.distance_m(lat, lng, row.lat, row.lng)
            if distance <= radius_m:
                found.append(Candidate(row.id, row.order_id, row.lat, row.lng, row.created_at, distance, from_bytes(row.embedding)))
        found.sort(key=lambda c: (c.distance_m, c.id))
        return found

    async def purge_expired(self, now: datetime) -> int:
        """Delete every embedding whose duplicate window has passed; return how many."""
        stmt = delete(seeker_embeddings).where(seeker_embeddings.c.expires_at <= iso(now))
        result = await self.conn.execute(stmt.execution_options(preserve_rowcount=True))
        return max(int(result.rowcount or 0), 0)

    async def add_assessment(self, order_id: int | None, score_bp: int, model_version: str, features: dict[str, Any]) -> int:
        """Keep the safety score of an order's location with its model version and inputs."""
        result = await self.conn.execute(
            safety_assessments.insert().values(
                order_id=order_id, score_bp=score_bp, model_version=model_version,
                features=json.dumps(features, sort_keys=True), created_at=self.now,
            )
        )  # fmt: skip
        return new_id(result)

    async def assessments(self, order_id: int) -> list[dict[str, Any]]:
        """An order's safety assessments, oldest first."""
        q = select(safety_assessments).where(safety_assessments.c.order_id == order_id).order_by(safety_assessments.c.id)
        return [{**row._mapping, "features": json.loads(row.features)} for row in await self.conn.execute(q)]

    async def outcomes_near(self, lat: float, lng: float, radius_m: float, since: datetime) -> tuple[int, int]:
        """(delivered, failed) orders created since `since` within radius_m of a point."""
        lat_lo, lat_hi, lng_lo, lng_hi = bounding_box(lat, lng, radius_m)
        q = select(orders.c.status, orders.c.delivery_failed, orders.c.seeker_lat, orders.c.seeker_lng).where(
            orders.c.created_at >= since.astimezone(UTC).isoformat(),
            orders.c.status.in_(GOOD_OUTCOMES + FAILED_OUTCOMES),
            orders.c.seeker_lat.between(lat_lo, lat_hi),
            orders.c.seeker_lng.between(lng_lo, lng_hi),
        )
        good = failed = 0
        for status, was_failed, olat, olng in await self.conn.execute(q):
            if geo.distance_m(lat, lng, olat, olng) <= radius_m:
                # A failed delivery settles too: it stays a failure for the safety model.
                bad = status in FAILED_OUTCOMES or bool(was_failed)
                failed += bad
                good += not bad
        return good, failed

    async def add_report(self, order_id: int, worker_id: int, went_well: bool, safety_issue: bool,
                         lat: float, lng: float) -> bool:  # fmt: skip
        """Record a worker's one-tap report of a delivery (once per order)."""
        return await insert_ignore(
            self.conn, delivery_reports,
            {"order_id": order_id, "worker_id": worker_id, "went_well": went_well, "safety_issue": safety_issue,
             "lat": lat, "lng": lng, "created_at": self.now},
            ["order_id"],
        )  # fmt: skip

    async def issues_near(self, lat: float, lng: float, radius_m: float, since: datetime) -> int:
        """Worker-reported safety issues within radius_m of a point since a time."""
        lat_lo, lat_hi, lng_lo, lng_hi = bounding_box(lat, lng, radius_m)
        r = delivery_reports.c
        q = select(r.lat, r.lng).where(
            r.safety_issue.is_(True), r.created_at >= since.astimezone(UTC).isoformat(),
            r.lat.between(lat_lo, lat_hi), r.lng.between(lng_lo, lng_hi),
        )  # fmt: skip
        return sum(1 for rlat, rlng in await self.conn.execute(q) if geo.distance_m(lat, lng, rlat, rlng) <= radius_m)

    async def outcome_rows(self, limit: int = 50_000) -> list[tuple[dict[str, Any], bool]]:
        """(features, delivered safely?) for assessed orders that reached an outcome: the real
        training data that replaces the synthetic bootstrap set."""
        q = (
            select(safety_assessments.c.features, orders.c.status, orders.c.delivery_failed, delivery_reports.c.safety_issue)
            .join(orders, orders.c.id == safety_assessments.c.order_id)
            .outerjoin(delivery_reports, delivery_reports.c.order_id == orders.c.id)
            .where(orders.c.status.in_(GOOD_OUTCOMES + FAILED_OUTCOMES))
            .order_by(safety_assessments.c.id.desc())
            .limit(limit)
        )
        # Safe means delivered (not failed, even once settled) and no safety issue was reported.
        rows = await self.conn.execute(q)
        return [(json.loads(f), status in GOOD_OUTCOMES and not failed and not issue) for f, status, failed, issue in rows]

"""Disputes about orders."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.adapters.sql.disputes_schema import disputes
from core.adapters.sql.sqlhelpers import insert_ignore, is_postgres
from core.orders.dispute_model import Dispute, DisputeStatus, Reason, Resolution


def _dispute(row: Any) -> Dispute:
    return Dispute(
        row.id, row.order_id, row.raised_by, Reason(row.reason), row.evidence, DisputeStatus(row.status), row.created_at,
        Resolution(row.resolution) if row.resolution else None, row.resolved_by, row.resolved_at, row.note,
        json.loads(row.tx_ids), json.loads(row.appeals),
        Resolution(row.appeal_resolution) if row.appeal_resolution else None, row.appeal_resolved_by, row.appeal_note,
        row.version, row.vote_id,
    )  # fmt: skip


class DisputeRepo:
    """One dispute per order: raised, resolved, appealed."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, dispute: Dispute) -> bool:
        """Store a new dispute (its id is set); False when the order already has one."""
        values = {"order_id": dispute.order_id, "raised_by": dispute.raised_by, "reason": dispute.reason.value,
                  "evidence": dispute.evidence, "status": dispute.status.value, "created_at": dispute.created_at}  # fmt: skip
        if not await insert_ignore(self.conn, disputes, values, ["order_id"]):
            return False
        found = await self.for_order(dispute.order_id)
        assert found is not None
        dispute.id = found.id
        return True

    async def get(self, dispute_id: int, *, lock: bool = False) -> Dispute | None:
        """One dispute (row-locked on PostgreSQL when `lock`)."""
        q = select(disputes).where(disputes.c.id == dispute_id)
        if lock and is_postgres(self.conn):
            q = q.with_for_update()
        row = (await self.conn.execute(q)).first()
        return _dispute(row) if row else None

    async def for_order(self, order_id: int) -> Dispute | None:
        """The dispute about an order, if any."""
        row = (await self.conn.execute(select(disputes).where(disputes.c.order_id == order_id))).first()
        return _dispute(row) if row else None

    async def changeable_orders(self, resolved_since: str) -> list[int]:
        """Orders whose dispute may still move money: appealed, or resolved at or after `resolved_since`."""
        q = select(disputes.c.order_id).where(or_(
            disputes.c.status == DisputeStatus.APPEALED.value,
            and_(disputes.c.status == DisputeStatus.RESOLVED.value, disputes.c.resolved_at >= resolved_since),
        ))  # fmt: skip
        return [int(order_id) for (order_id,) in await self.conn.execute(q)]

    async def save(self, dispute: Dispute, version: int) -> bool:
        """Write a changed dispute if nobody changed it since `version`; tell whether it was written."""
        values = {
            "status": dispute.status.value, "resolution": dispute.resolution.value if dispute.resolution else None,
            "resolved_by": dispute.resolved_by, "resolved_at": dispute.resolved_at, "note": dispute.note,
            "tx_ids": json.dumps(dispute.tx_ids), "appeals": json.dumps(dispute.appeals),
            "appeal_resolution": dispute.appeal_resolution.value if dispute.appeal_resolution else None,
            "appeal_resolved_by": dispute.appeal_resolved_by, "appeal_note": dispute.appeal_note,
            "vote_id": dispute.vote_id, "version": version + 1,
        }  # fmt: skip
        stmt = update(disputes).where(disputes.c.id == dispute.id, disputes.c.version == version).values(**values)
        result = await self.conn.execute(stmt.execution_options(preserve_rowcount=True))
        dispute.version = version + 1
        return result.rowcount == 1

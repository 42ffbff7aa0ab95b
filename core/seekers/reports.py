"""Workers' one-tap reports after a delivery: they train the location safety model."""

from __future__ import annotations

from enum import StrEnum

from core.members.model import Worker
from core.ports import UnitOfWork
from core.shared.events import DeliveryReported


class ReportOutcome(StrEnum):
    """What became of a report."""

    RECORDED = "recorded"
    ALREADY = "already"  # one report per delivery: the first one stands
    NOT_YOURS = "not_yours"  # no delivery of this worker's with a place to learn from


async def report_delivery(uow: UnitOfWork, order_id: int, worker: Worker, safety_issue: bool, actor: str) -> ReportOutcome:
    """Record whether a delivery went well or had a safety problem, once per order."""
    order = await uow.orders.get(order_id)
    if order is None or order.worker_id != worker.id or order.delivery_lat is None or order.delivery_lng is None:
        return ReportOutcome.NOT_YOURS
    went_well = not safety_issue
    if not await uow.screening.add_report(order.id, worker.id, went_well, safety_issue, order.delivery_lat, order.delivery_lng):
        return ReportOutcome.ALREADY
    uow.record(DeliveryReported(actor=actor, order_id=order.id, worker_id=worker.id, went_well=went_well, safety_issue=safety_issue))
    return ReportOutcome.RECORDED

"""Job offers that wait in the outbox: taken back when the job they announce is gone."""

from __future__ import annotations

from core.ports import UnitOfWork
from core.shared.events import JobOffersWithdrawn

JOB_META = "job"  # the meta key job offers carry their order id under


async def withdraw_job_offers(uow: UnitOfWork, order_id: int, actor: str = "system") -> int:
    """Take back this order's offers not yet sent (claimed or cancelled meanwhile), and close the
    prompts they opened so typed numbers no longer name the job; return how many were unsent."""
    await uow.prompts.withdraw(f"job:{order_id}")
    count = await uow.outbox.withdraw_unsent(JOB_META, order_id)
    if count:
        uow.record(JobOffersWithdrawn(actor=actor, order_id=order_id, count=count))
    return count

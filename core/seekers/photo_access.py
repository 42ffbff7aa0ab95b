"""Who may see a photo: seekers are vulnerable people, so as few as possible, for as short as possible."""

from __future__ import annotations

from core.orders.lifecycle import Status
from core.ports import UnitOfWork

# Once the order is gone, so is everyone's view of the seeker.
_CLOSED = frozenset({Status.CANCELLED, Status.RETAKE, Status.REJECTED_DUPLICATE, Status.REJECTED_UNSAFE, Status.DECLINED})


async def may_view_photo(uow: UnitOfWork, person_id: int, photo_id: str) -> bool:
    """The order's donor, whoever sent the photo, and (for the seeker photo) the worker who
    claimed the job, while the order stands; a photo on no order only by whoever sent it."""
    record = await uow.photos.get(photo_id)
    if record is None or record.get("deleted_at"):
        return False
    order = await uow.orders.with_photo(photo_id)
    if order is None:
        return int(record["owner_id"]) == person_id
    if order.status in _CLOSED:
        return False
    if person_id in (order.donor_id, int(record["owner_id"])):
        return True
    if order.seeker_photo != photo_id or order.worker_id is None:
        return False
    worker = await uow.workers.get(order.worker_id)
    return worker is not None and worker.person_id == person_id

"""Who may see a photo: seekers are vulnerable people, so as few as possible, for as short as possible."""

from __future__ import annotations

from core.orders.dispute_model import DisputeStatus
from core.orders.disputes import parties
from core.orders.lifecycle import Status
from core.orders.model import Order
from core.ports import UnitOfWork
from core.shared.events import PhotoViewed

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


async def _dispute_admin(uow: UnitOfWork, person_id: int, order: Order) -> bool:
    """An admin, party to nothing in the order, deciding its dispute (open, appealed, or still
    appealable): the one operation for which an admin sees an order's photos."""
    person = await uow.people.get(person_id)
    if person is None or not person.is_admin:
        return False
    dispute = await uow.disputes.for_order(order.id)
    if dispute is None or dispute.status is DisputeStatus.FINAL:
        return False
    return person_id not in await parties(uow, order)


async def view_photo(uow: UnitOfWork, person_id: int, photo_id: str) -> bool:
    """Whether a person may see a photo now; an admin's read for a dispute is allowed and logged
    in the chain (who, which order, which photo kind, why)."""
    if await may_view_photo(uow, person_id, photo_id):
        return True
    record = await uow.photos.get(photo_id)
    order = await uow.orders.with_photo(photo_id) if record is not None else None
    if order is None or not await _dispute_admin(uow, person_id, order):
        return False
    kind = "seeker" if order.seeker_photo == photo_id else "delivery"
    uow.record(PhotoViewed(actor=f"person:{person_id}", order_id=order.id, kind=kind, purpose="dispute"))
    return True


def log_pushed_view(uow: UnitOfWork, admin_id: int, order: Order, photo_id: str) -> None:
    """Log an admin read of a photo pushed to their phone (Telegram, WhatsApp): sending it there
    is the read, as no later request can be watched."""
    kind = "seeker" if order.seeker_photo == photo_id else "delivery"
    uow.record(PhotoViewed(actor=f"person:{admin_id}", order_id=order.id, kind=kind, purpose="dispute"))

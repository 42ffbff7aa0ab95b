"""The second stage of the duplicate check (issue 18): a lookalike is never refused on one photo.

A draft whose photo matched a stored face in the uncertain band waits for one of three answers
from its donor: a second photo of the person (a duplicate only if both photos match the same
stored face), "I can't take another" (the order goes on, marked for review), or, after a
refusal, "I am sure this is someone else" (a new order goes on, marked for admin review). Every
one is a `face.checked` chain event (ids and scores, never a photo), counted on the
transparency figures.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from core.members.model import Person
from core.orders.lifecycle import Status
from core.orders.model import Order
from core.orders.service import OrderError, apply_screening, load
from core.ports import UnitOfWork
from core.seekers.face_decision import Outcome
from core.seekers.screening import Screener, ScreeningRequest, ScreeningResult, Verdict
from core.shared import geo
from core.shared.events import FaceChecked

NO_SECOND_PHOTO = "no_second_photo"
SOMEONE_ELSE = "someone_else"


def awaits_second_photo(order: Order) -> bool:
    """True for a draft whose photo was an uncertain match (waiting for the donor)."""
    return order.status is Status.DRAFT and order.screening.get("verdict") == Verdict.UNCERTAIN.value


async def _waiting_draft(uow: UnitOfWork, order_id: int, donor: Person) -> Order:
    order = await load(uow, order_id)
    if order.donor_id != donor.id:
        raise OrderError("not_yours", order_id)
    if not awaits_second_photo(order):
        raise OrderError("not_waiting", order_id)  # decided already, cancelled, or never asked
    return order


def _request(order: Order, donor: Person, at: datetime, busy: str, lit: str, **extra: str | None) -> ScreeningRequest:
    return ScreeningRequest(donor.id, order.seeker_lat, order.seeker_lng, at, order.seeker_photo, order.id, busy, lit,
                            **extra)  # type: ignore[arg-type]  # fmt: skip


async def second_photo(
    uow: UnitOfWork, order_id: int, donor: Person, photo_id: str, screener: Screener, *, busy: str, lit: str
) -> Order:
    """Screen again with the donor's second photo; the draft is decided unless it shows no face."""
    order = await _waiting_draft(uow, order_id, donor)
    version, asked = order.version, dict(order.screening)
    result = await screener.screen(uow, _request(order, donor, uow.at, busy, lit, second_photo_id=photo_id))
    if result.verdict is not Verdict.UNCERTAIN:
        duplicate = result.details.get("face_outcome") in (Outcome.SURE.value, Outcome.BOTH_AGREE.value)
        uow.record(FaceChecked(
            actor=donor.actor, order_id=order.id, outcome="duplicate" if duplicate else "goes_on",
            duplicate_of_order=result.details.get("duplicate_of_order", asked.get("duplicate_of_order")),
            similarity_bp=result.details.get("similarity_bp"), second_similarity_bp=result.details.get("second_similarity_bp"),
        ))  # fmt: skip
    else:  # the second photo showed no usable face: still waiting, with what was asked kept
        kept = {k: v for k, v in asked.items() if k not in ("verdict", "method")}
        result = ScreeningResult(Verdict.UNCERTAIN, result.method,
                                 {**kept, "reason": "second_photo_unusable", "second_face": result.details.get("second_face")})  # fmt: skip
    await apply_screening(uow, order, donor, result, version)
    return order


async def no_second_photo(uow: UnitOfWork, order_id: int, donor: Person, screener: Screener, *, busy: str, lit: str) -> Order:
    """The donor cannot take another photo: the order goes on, marked for review."""
    order = await _waiting_draft(uow, order_id, donor)
    version, asked = order.version, dict(order.screening)
    result = await screener.screen(uow, _request(order, donor, uow.at, busy, lit, review=NO_SECOND_PHOTO))
    uow.record(FaceChecked(
        actor=donor.actor, order_id=order.id, outcome=NO_SECOND_PHOTO,
        duplicate_of_order=asked.get("duplicate_of_order"), similarity_bp=asked.get("similarity_bp"),
    ))  # fmt: skip
    await apply_screening(uow, order, donor, _with(result, asked), version)
    return order


def _with(result: ScreeningResult, asked: dict[str, Any], **more: Any) -> ScreeningResult:
    """The result carrying which stored face the check was about (for the admin's review)."""
    keep: dict[str, Any] = {k: asked[k] for k in ("duplicate_of_order", "similarity_bp") if k in asked}
    return ScreeningResult(result.verdict, result.method, {**result.details, **keep, **more})


async def someone_else(uow: UnitOfWork, refused_id: int, donor: Person, screener: Screener, *, busy: str, lit: str) -> Order:
    """The donor is sure a refused match is someone else: a new order goes on, marked for admin
    review (the refused one stays as it was: the record of what the check said)."""
    refused = await load(uow, refused_id)
    if refused.donor_id != donor.id:
        raise OrderError("not_yours", refused_id)
    if refused.status is not Status.REJECTED_DUPLICATE:
        raise OrderError("not_refused", refused_id)
    params = await uow.params.current()
    if datetime.fromisoformat(refused.created_at) < uow.at - timedelta(minutes=params.duplicate_window_min):
        raise OrderError("too_late", refused_id)  # the person may simply be photographed afresh now
    for mine in await uow.orders.find(donor_id=donor.id, limit=20):
        if mine.screening.get("contested_order") == refused.id:
            raise OrderError("already_contested", refused_id)  # a second tap, or an old button
    order = Order(
        id=0, donor_id=donor.id, status=Status.DRAFT, seeker_lat=refused.seeker_lat, seeker_lng=refused.seeker_lng,
        zone=geo.encode(refused.seeker_lat, refused.seeker_lng, 5), created_at=uow.now, seeker_photo=refused.seeker_photo,
    )  # fmt: skip
    await uow.orders.add(order)
    result = await screener.screen(uow, _request(order, donor, uow.at, busy, lit, review=SOMEONE_ELSE))
    uow.record(FaceChecked(
        actor=donor.actor, order_id=order.id, outcome=SOMEONE_ELSE, contested_order=refused.id,
        duplicate_of_order=refused.screening.get("duplicate_of_order"), similarity_bp=refused.screening.get("similarity_bp"),
    ))  # fmt: skip
    await apply_screening(uow, order, donor, _with(result, refused.screening, contested_order=refused.id), 0)
    return order

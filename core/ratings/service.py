"""Ratings: given by the parties of a settled order, seen by the rated as an average, appealed to
an admin who is no party. They never order the job board or the restaurants (nothing reads them
but these functions and the public stats)."""

from __future__ import annotations

from core.ledger.commitments import commit, new_salt
from core.members.model import Person
from core.orders.disputes import parties
from core.orders.lifecycle import Status
from core.orders.model import Order
from core.ports import UnitOfWork
from core.ratings.model import COUNTED, SUBJECT, Aspect, Rating, RatingStatus
from core.shared.events import RatingAppealed, RatingCommented, RatingDecided, RatingGiven

REASON_MAX = 500
COMMENT_MAX = 280  # a short comment: one tweet, about two SMS in English, four in Tamil


class RatingError(Exception):
    """A rating step refused, with a code the flows put into words."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


async def aspects_for(uow: UnitOfWork, person: Person, order: Order) -> list[Aspect]:
    """What this person may rate on a settled order: the donor the meal and the delivery, the worker the pickup."""
    if order.status is not Status.SETTLED:
        return []
    found = []
    if order.donor_id == person.id:
        found += [Aspect.MEAL, Aspect.DELIVERY] if order.worker_id is not None else [Aspect.MEAL]
    worker = await uow.workers.get(order.worker_id) if order.worker_id is not None else None
    if worker is not None and worker.person_id == person.id:
        found.append(Aspect.PICKUP)
    return found


async def rate(uow: UnitOfWork, person: Person, order_id: int, aspect: Aspect, stars: int) -> Rating:
    """Record one rating, once per order, rater and aspect."""
    order = await uow.orders.get(order_id)
    if order is None:
        raise RatingError("not_found")
    if aspect not in await aspects_for(uow, person, order):
        raise RatingError("not_yours" if order.status is Status.SETTLED else "not_settled")
    if not 1 <= stars <= 5:
        raise RatingError("bad_stars")
    subject_id = order.worker_id if aspect is Aspect.DELIVERY else order.restaurant_id
    assert subject_id is not None
    rating = Rating(0, order.id, person.id, aspect, subject_id, stars, uow.now)
    if not await uow.ratings.add(rating):
        raise RatingError("already_rated")
    uow.record(RatingGiven(actor=person.actor, rating_id=rating.id, order_id=order.id, aspect=aspect.value,
                           subject=SUBJECT[aspect], subject_id=subject_id, stars=stars))  # fmt: skip
    return rating


async def comment(uow: UnitOfWork, person: Person, rating_id: int, words: str) -> Rating:
    """The rater adds a comment to their own rating (once); the chain gets a salted commitment, not the words."""
    rating = await uow.ratings.get(rating_id)
    if rating is None or rating.rater_id != person.id:
        raise RatingError("not_rater")
    if rating.comment:
        raise RatingError("already_commented")
    text = words.strip()
    if not 0 < len(text) <= COMMENT_MAX:
        raise RatingError("bad_comment")
    if not await uow.ratings.add_comment(rating.id, person.id, text):  # a duplicate message got here first
        raise RatingError("already_commented")
    salt = new_salt()
    await uow.commitments.add(comment_subject(rating.id), salt)
    uow.record(RatingCommented(actor=person.actor, rating_id=rating.id, comment_commit=commit(text, salt)))
    rating.comment = text
    return rating


def comment_subject(rating_id: int) -> str:
    """Where the salt of a rating comment's commitment is kept (commitment_salts.subject)."""
    return f"rating:{rating_id}:comment"


def summary(ratings: list[Rating]) -> tuple[int, int]:
    """(average in tenths of a star, count) of the ratings that count."""
    counted = [r.stars for r in ratings if r.status in COUNTED]
    return (round(sum(counted) * 10 / len(counted)) if counted else 0), len(counted)


async def subjects_of(uow: UnitOfWork, person: Person) -> list[tuple[str, int]]:
    """The (subject, id) a person can be rated as: their restaurant, their worker record."""
    found = []
    if r := await uow.restaurants.by_person(person.id):
        found.append(("restaurant", r.id))
    if w := await uow.workers.by_person(person.id):
        found.append(("worker", w.id))
    return found


async def _rated_person(uow: UnitOfWork, rating: Rating) -> int | None:
    if SUBJECT[rating.aspect] == "restaurant":
        r = await uow.restaurants.get(rating.subject_id)
        return r.person_id if r else None
    w = await uow.workers.get(rating.subject_id)
    return w.person_id if w else None


async def appeal(uow: UnitOfWork, person: Person, rating_id: int, reason: str) -> Rating:
    """The rated person appeals a rating with a reason (once)."""
    rating = await uow.ratings.get(rating_id)
    if rating is None or await _rated_person(uow, rating) != person.id:
        raise RatingError("not_rated")
    if rating.status is not RatingStatus.ACTIVE:
        raise RatingError("already_appealed")
    if not 0 < len(reason.strip()) <= REASON_MAX:
        raise RatingError("bad_text")
    version = rating.version
    rating.status, rating.appeal_reason = RatingStatus.APPEALED, reason.strip()
    if not await uow.ratings.save(rating, version):
        raise RatingError("already_appealed")
    uow.record(RatingAppealed(actor=person.actor, rating_id=rating.id))
    return rating


async def deciders(uow: UnitOfWork, rating: Rating) -> list[Person]:
    """Admins who are no party to the rated order."""
    order = await uow.orders.get(rating.order_id)
    assert order is not None
    party = set(await parties(uow, order))
    return [a for a in await uow.people.admins() if a.id not in party]


async def decide(uow: UnitOfWork, admin: Person, rating_id: int, withdraw: bool) -> tuple[Rating, int | None]:
    """An admin who is no party withdraws or keeps an appealed rating; return it and the rated person's id."""
    rating = await uow.ratings.get(rating_id)
    if rating is None:
        raise RatingError("not_found")
    if not admin.is_admin:
        raise RatingError("not_admin")
    if admin.id not in {a.id for a in await deciders(uow, rating)}:
        raise RatingError("party_admin")
    if rating.status is not RatingStatus.APPEALED:
        raise RatingError("already_decided")
    version = rating.version
    rating.status, rating.decided_by = (RatingStatus.WITHDRAWN if withdraw else RatingStatus.KEPT), admin.id
    if not await uow.ratings.save(rating, version):
        raise RatingError("already_decided")
    uow.record(RatingDecided(actor=admin.actor, rating_id=rating.id, withdrawn=withdraw))
    return rating, await _rated_person(uow, rating)


async def public_stats(uow: UnitOfWork) -> list[dict[str, object]]:
    """Per approved restaurant: its average (tenths of a star) and count of meal and pickup ratings."""
    out: list[dict[str, object]] = []
    for r in await uow.restaurants.approved():
        tenths, count = summary(await uow.ratings.about("restaurant", r.id))
        out.append({"restaurant_id": r.id, "name": r.name, "average_tenths": tenths, "count": count})
    return out

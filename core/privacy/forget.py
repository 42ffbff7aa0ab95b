"""/forget: erase a person's personal data once nothing is owed or open, keeping the books whole.

What goes: name, every channel identity (phone numbers, chat ids, web-chat addresses), messages
to and from them (and their name or number quoted in other people's messages), conversation
state, open questions, photos they sent and the face embeddings of their orders, their own words
in disputes; the exact places their orders and roles reveal are rounded to about 1 km. What
stays: the person row as a bare id (so ledger postings and orders keep pointing somewhere), their
postings under the pseudonymous account ids, the hash chain (which never held any of the above).

Money left on the donor balance goes to the guarantee pool, which the confirmation says before
they agree (their pledges are cancelled first, so what is left in them goes there too); money
owed to them as a restaurant or worker must be paid out first."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.funding.pledge_model import PledgeStatus
from core.funding.pledges import cancel_pledge
from core.ledger.model import POOL, donor_account, restaurant_account, transfer, worker_account
from core.members.model import Person
from core.orders.dispute_model import DisputeStatus
from core.orders.lifecycle import TERMINAL, Status
from core.ports import UnitOfWork
from core.seekers.photo_records import delete_photos
from core.seekers.photos import LocalPhotoStore
from core.shared.events import PersonErased

OPEN_STATUSES = tuple(s for s in Status if s not in TERMINAL)
# After an erasure the last message ("your data is erased") and a web-chat session may live this
# long, so the person can read it; the retention sweep deletes both afterwards.
FAREWELL_KEEP = timedelta(hours=1)
MIN_QUOTED = 4  # shorter names are not searched for in others' messages: they would hit ordinary words


@dataclass(frozen=True)
class Blockers:
    """What must end before a person can be forgotten."""

    open_orders: list[int] = field(default_factory=list)
    open_disputes: list[int] = field(default_factory=list)  # dispute ids still open or appealable
    owed: int = 0  # paise the cooperative still owes them as a restaurant or worker
    admin: bool = False  # admins are named in the settings: the operator removes them first
    deposits: list[int] = field(default_factory=list)  # deposits for them awaiting a second admin

    @property
    def clear(self) -> bool:
        """Nothing stands in the way."""
        return not (self.open_orders or self.open_disputes or self.owed or self.admin or self.deposits)


class ForgetRefused(Exception):
    """Something is still open or owed; `blockers` says what."""

    def __init__(self, blockers: Blockers) -> None:
        super().__init__(f"cannot forget yet: {blockers}")
        self.blockers = blockers


async def blockers(uow: UnitOfWork, person: Person) -> Blockers:
    """What is still open or owed for a person (as donor, restaurant or worker)."""
    rest, worker = await uow.restaurants.by_person(person.id), await uow.workers.by_person(person.id)
    mine = await uow.orders.find(donor_id=person.id, limit=500)
    if rest is not None:
        mine += await uow.orders.find(restaurant_id=rest.id, limit=500)
    if worker is not None:
        mine += await uow.orders.find(worker_id=worker.id, limit=500)
    open_orders = sorted({o.id for o in mine if o.status in OPEN_STATUSES})
    params = await uow.params.current()
    open_disputes = []
    for order_id in sorted({o.id for o in mine}):
        dispute = await uow.disputes.for_order(order_id)
        if dispute is None or dispute.status is DisputeStatus.FINAL:
            continue
        appealable = dispute.resolved_at is not None and uow.at < datetime.fromisoformat(dispute.resolved_at) + timedelta(
            hours=params.appeal_window_hours)  # fmt: skip
        if dispute.status in (DisputeStatus.OPEN, DisputeStatus.APPEALED) or appealable:
            open_disputes.append(dispute.id)
    owed = (await uow.ledger.balance(restaurant_account(rest.id)) if rest else 0) + (
        await uow.ledger.balance(worker_account(worker.id)) if worker else 0)  # fmt: skip
    return Blockers(open_orders, open_disputes, owed, person.is_admin, await uow.privacy.pending_deposits(person.id))


@dataclass(frozen=True)
class Erased:
    """What a /forget did."""

    counts: dict[str, int]
    donated: int  # paise moved from the donor balance to the guarantee pool


async def forget(uow: UnitOfWork, person: Person, photos: LocalPhotoStore, current: tuple[str, str] | None) -> Erased:
    """Erase a person's personal data (see the module docstring); ForgetRefused while anything
    is open or owed. `current` is the identity whose message is being handled now."""
    found = await blockers(uow, person)
    if not found.clear:
        raise ForgetRefused(found)
    for pledge in await uow.pledges.for_person(person.id):  # money pledged ahead comes back first, then
        if pledge.status is not PledgeStatus.CANCELLED:  # goes to the pool with the rest of the balance
            await cancel_pledge(uow, pledge.id, person.id, person.actor)
    await uow.pledges.round_places(person.id)  # the places pledged for reveal where someone lives or works
    donated = await uow.ledger.balance(donor_account(person.id))
    if donated > 0:
        await uow.ledger.record(transfer("forget_donation", f"person:{person.id}", donor_account(person.id), POOL, donated,
                                         "donor balance given to the guarantee pool at /forget"), person.actor)  # fmt: skip
    photo_ids = await uow.privacy.photo_ids(person.id)
    await delete_photos(uow, photos, photo_ids, person.actor, "erased")
    quoted = await _quoted(uow, person)
    counts = await uow.privacy.erase(person.id, current, (uow.at + FAREWELL_KEEP).isoformat())
    counts["photos"] = len(photo_ids)
    counts["quoted"] = await uow.privacy.replace_text(quoted, f"#{person.id}")
    uow.record(PersonErased(actor=person.actor, person_id=person.id, counts=dict(sorted(counts.items())), donated=donated))
    return Erased(counts, donated)


async def _quoted(uow: UnitOfWork, person: Person) -> list[str]:
    """The names and numbers of a person that other people's messages may quote."""
    names = [person.name or ""]
    if (w := await uow.workers.by_person(person.id)) is not None:
        names.append(w.name)
    if (r := await uow.restaurants.by_person(person.id)) is not None:
        names.append(r.name)
    addresses = [a for _c, a in await uow.people.identities_of(person.id)] + [person.address]
    # "whatsapp:+9198…" is quoted as the bare number; web-chat and Telegram ids are quoted whole.
    addresses += [a.split(":", 1)[1] for a in addresses if a.startswith("whatsapp:")]
    found = [n.strip() for n in names if len(n.strip()) >= MIN_QUOTED]
    found += [a for a in addresses if len(a) >= MIN_QUOTED + 2]
    return sorted(set(found), key=len, reverse=True)  # the longest first: a number inside a longer one goes whole

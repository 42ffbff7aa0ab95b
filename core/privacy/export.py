"""/mydata: everything the service holds about a person, as one JSON document and a summary."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from core.funding.pledge_model import Pledge
from core.ledger.model import donor_account, restaurant_account, worker_account
from core.members.model import Person
from core.ports import UnitOfWork
from core.shared.events import PersonDataExported

FORMAT = "ketpaar.mydata/1"


@dataclass(frozen=True)
class Summary:
    """The few numbers a person is told in chat about what is held about them."""

    orders: int
    messages: int
    photos: int
    balance: int  # paise on their donor balance
    roles: tuple[str, ...]  # donor | restaurant | worker | member | admin


async def accounts_of(uow: UnitOfWork, person_id: int) -> list[str]:
    """The ledger accounts that are a person's own: donor balance, restaurant, worker."""
    names = [donor_account(person_id)]
    if (r := await uow.restaurants.by_person(person_id)) is not None:
        names.append(restaurant_account(r.id))
    if (w := await uow.workers.by_person(person_id)) is not None:
        names.append(worker_account(w.id))
    names += [p.account for p in reversed(await uow.pledges.for_person(person_id))]  # money they pledged ahead
    return names


async def document(uow: UnitOfWork, person: Person) -> dict[str, Any]:
    """The whole export: every row about the person, their balances, and what the chain keeps."""
    accounts = await accounts_of(uow, person.id)
    return {
        "format": FORMAT,
        "exported_at": uow.now,
        "person_id": person.id,
        "balances": {a: await uow.ledger.balance(a) for a in accounts},
        "data": await uow.privacy.export(person.id, accounts),
        "pledges": [pledge_export(p) for p in reversed(await uow.pledges.for_person(person.id))],
        "note": ("The public event log names you only as person:" + str(person.id) + " and holds no name, phone number, "
                 "chat id or exact place. /forget erases everything above that is personal; ledger postings stay "
                 "under the account ids so the books keep balancing."),
    }  # fmt: skip


def pledge_export(pledge: Pledge) -> dict[str, Any]:
    """One pledge as the person's own data: its terms (their place included) and its figures."""
    return {**asdict(pledge.terms), "kind": pledge.terms.kind.value, "id": pledge.id, "status": pledge.status.value,
            "remaining": pledge.remaining, "total_in": pledge.total_in, "returned": pledge.returned,
            "created_at": pledge.created_at, "renew_on": pledge.renew_on, "often": pledge.often}  # fmt: skip


async def summary(uow: UnitOfWork, person: Person) -> Summary:
    """The counts a person is told in chat (from the same rows as the document)."""
    data = await uow.privacy.export(person.id, [donor_account(person.id)])
    roles = ["donor"] if any("donor" in o["roles"] for o in data["orders"]) else []
    roles += [r for r in ("restaurant", "worker") if data[r]]
    roles += [r for r, on in (("member", person.is_member), ("admin", person.is_admin)) if on]
    messages = len(data["messages_received"]) + len(data["messages_sent_to_you"])
    return Summary(len(data["orders"]), messages, len([p for p in data["photos"] if not p["deleted_at"]]),
                   await uow.ledger.balance(donor_account(person.id)), tuple(roles))  # fmt: skip


async def record_download(uow: UnitOfWork, person: Person) -> None:
    """Log that a person's data left the service (they are told in chat as well)."""
    uow.record(PersonDataExported(actor=person.actor, person_id=person.id))

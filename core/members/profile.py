"""What people say about themselves (name, language) and what workers change about their work:
each change through here, each one an event in the chain."""

from __future__ import annotations

from dataclasses import replace

from core.members.model import Person, Worker
from core.ports import UnitOfWork
from core.shared import geo
from core.shared.events import LanguageChosen, PersonNamed, WorkerAvailabilityChanged, WorkerZoneChanged


async def choose_language(uow: UnitOfWork, person: Person, language: str) -> Person:
    """Write every later message to this person in `language`."""
    await uow.people.set_language(person.id, language)
    uow.record(LanguageChosen(actor=person.actor, person_id=person.id, language=language))
    return replace(person, language=language)


async def set_name(uow: UnitOfWork, person: Person, name: str) -> Person:
    """The name restaurants, donors and admins see for this person."""
    await uow.people.set_name(person.id, name)
    uow.record(PersonNamed(actor=person.actor, person_id=person.id))
    return replace(person, name=name)


async def set_online(uow: UnitOfWork, worker: Worker, online: bool, actor: str) -> None:
    """Start (online) or stop receiving new jobs."""
    await uow.workers.set_online(worker.id, online)
    uow.record(WorkerAvailabilityChanged(actor=actor, worker_id=worker.id, online=online))


async def move_zone(uow: UnitOfWork, worker: Worker, lat: float, lng: float, actor: str) -> str:
    """See jobs around a new place; return the new zone."""
    zone = geo.encode(lat, lng)
    await uow.workers.set_zone(worker.id, lat, lng, zone)
    uow.record(WorkerZoneChanged(actor=actor, worker_id=worker.id, before=worker.zone, after=zone))
    return zone

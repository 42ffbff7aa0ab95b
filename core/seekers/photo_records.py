"""Stored photos and their records: each one kept or deleted goes into the event log."""

from __future__ import annotations

from collections.abc import Sequence

from core.members.model import Person
from core.ports import UnitOfWork
from core.seekers.photos import LocalPhotoStore
from core.shared.events import PhotosDeleted, PhotoStored


async def keep_photo(uow: UnitOfWork, store: LocalPhotoStore, cleaned: bytes, kind: str, owner: Person) -> str:
    """Store a cleaned photo (seeker or delivery) and record whose it is; return its id."""
    photo_id = await store.put(cleaned)
    await uow.photos.add(photo_id, kind, owner.id, "image/jpeg")
    uow.record(PhotoStored(actor=owner.actor, kind=kind, owner_id=owner.id))
    return photo_id


async def delete_photos(uow: UnitOfWork, store: LocalPhotoStore, photo_ids: Sequence[str], actor: str, reason: str) -> None:
    """Delete photos' bytes, mark their records and log how many went and why."""
    for photo_id in photo_ids:
        await store.delete(photo_id)  # bytes first: a rollback must not leave them behind
        await uow.photos.mark_deleted(photo_id)
    if photo_ids:
        uow.record(PhotosDeleted(actor=actor, count=len(photo_ids), reason=reason))

"""Photo bytes no record keeps are deleted a day after they were written: what a rolled-back
transaction left behind (a photo is written before its record), and staged inbound photos no
pending message refers to. Retention goes by the records, so nothing else would ever reach them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.schedule import jobs
from core.seekers.photo_records import delete_photos, keep_photo
from core.seekers.photos import LocalPhotoStore
from core.shared.queues import InboxStatus
from tests.clock import FixedClock
from tests.helpers import assert_ledger_invariants, chain_events


class RolledBack(Exception):
    """What ends the transaction after the photo was written (a crash, a failing flow)."""


async def swept(store: Store) -> list[dict[str, object]]:
    """The chained records of sweeps so far (the database may be shared with other tests)."""
    async with store.reader() as uow:
        return [e.data for e in await chain_events(uow, "photos.deleted") if e.data["reason"] == "unrecorded"]


async def test_bytes_of_a_rolled_back_photo_go_a_day_later_and_recorded_ones_stay(db: Database, tmp_path: Path) -> None:
    clock = FixedClock(datetime.now(UTC))
    store = Store(db, clock)
    photos = LocalPhotoStore(tmp_path / "photos", b"k" * 32)
    async with store.uow() as uow:
        donor = await uow.people.get_or_create("webchat", f"sweep-{uuid.uuid4().hex[:8]}")
    with pytest.raises(RolledBack):
        async with store.uow() as uow:
            await keep_photo(uow, photos, b"a seeker's face", "seeker", donor)
            raise RolledBack
    async with store.uow() as uow:
        kept = await keep_photo(uow, photos, b"a delivery", "delivery", donor)
        gone = await keep_photo(uow, photos, b"deleted, then its bytes came back", "seeker", donor)
    async with store.uow() as uow:
        await delete_photos(uow, photos, [gone], "test", "no_consent")
    (tmp_path / "photos" / gone).write_bytes(b"restored from a backup")  # its record says deleted
    (tmp_path / "photos" / ".half-written.tmp").write_bytes(b"a write that never finished")
    [orphan] = [p.name for p in (tmp_path / "photos").iterdir() if p.name not in (kept, gone) and not p.name.startswith(".")]

    swept_before = await swept(store)
    clock.advance(hours=23)  # a file this young may belong to a transaction still running
    assert await jobs.sweep_unrecorded_photos(store, photos) == {"photos": 0, "staged": 0}
    clock.advance(hours=2)
    assert await jobs.sweep_unrecorded_photos(store, photos) == {"photos": 3, "staged": 0}

    assert sorted(p.name for p in (tmp_path / "photos").iterdir()) == [kept]
    assert await photos.get(kept) == b"a delivery"
    assert (await swept(store))[len(swept_before):] == [{"count": 3, "reason": "unrecorded"}]  # how many, never which
    assert await jobs.sweep_unrecorded_photos(store, photos) == {"photos": 0, "staged": 0}  # nothing left to do
    await assert_ledger_invariants(store)


async def test_a_staged_photo_stays_while_its_message_waits_and_goes_once_nothing_refers_to_it(
    db: Database, tmp_path: Path
) -> None:
    clock = FixedClock(datetime.now(UTC))
    store = Store(db, clock)
    photos = LocalPhotoStore(tmp_path / "photos", b"k" * 32)
    staging = LocalPhotoStore(tmp_path / "inbox-photos", b"k" * 32)
    waiting, failed, left = await staging.put(b"waiting"), await staging.put(b"failed"), await staging.put(b"left over")
    tag = uuid.uuid4().hex[:8]
    async with store.uow() as uow:
        await uow.inbox.store("webchat", f"{tag}-1", f"{tag}-a", {"kind": "photo", "photo_ref": waiting})
        failed_id, _ = await uow.inbox.store("webchat", f"{tag}-2", f"{tag}-b", {"kind": "photo", "photo_ref": failed})
        await uow.inbox.finish(failed_id, InboxStatus.FAILED, "set aside")  # nobody processes it again

    clock.advance(days=2)
    assert await jobs.sweep_unrecorded_photos(store, photos, staging) == {"photos": 0, "staged": 2}
    assert sorted(p.name for p in (tmp_path / "inbox-photos").iterdir()) == [waiting]
    assert await staging.get(waiting) == b"waiting" and await staging.get(left) is None

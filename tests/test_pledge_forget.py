"""/forget and pledges: a person's pledges are cancelled first (what is left goes, with the rest of
their balance, to the guarantee pool) and the places they pledged for are rounded to about 1 km."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.funding.pledge_model import PledgeKind, PledgeStatus, PledgeTerms
from core.ledger.model import POOL, donor_account
from core.privacy.forget import forget
from core.seekers.photos import LocalPhotoStore
from tests.clock import FixedClock
from tests.helpers import assert_ledger_invariants, chain_events
from tests.pledge_helpers import person_with, pledge

NOON = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)


async def test_forget_cancels_a_persons_pledges_and_rounds_their_places(db: Database, tmp_path: Path) -> None:
    store = Store(db, FixedClock(NOON))
    donor = await person_with(store, 1_000)
    near_home = await pledge(store, donor, PledgeTerms(30_000, PledgeKind.LOCATION, 13.067891, 80.237654, 500))
    anyone = await pledge(store, donor, PledgeTerms(20_000))
    async with store.reader() as uow:
        pool_before = await uow.ledger.balance(POOL)
    async with store.uow() as uow:
        erased = await forget(uow, donor, LocalPhotoStore(tmp_path / "photos", bytes(32)), None)
    assert erased.donated == 100_000  # ₹500 left on the balance + ₹300 + ₹200 left in the pledges
    async with store.reader() as uow:
        assert await uow.ledger.balance(POOL) - pool_before == 100_000
        assert await uow.ledger.balance(donor_account(donor.id)) == 0
        for made in (near_home, anyone):
            kept = await uow.pledges.get(made.id)
            assert kept is not None and kept.status is PledgeStatus.CANCELLED and kept.remaining == 0
        rounded = await uow.pledges.get(near_home.id)
        assert rounded is not None and (rounded.terms.lat, rounded.terms.lng) == (13.07, 80.24)
        cancelled = [e for e in await chain_events(uow, "pledge.changed") if e.data["person_id"] == donor.id]
        assert [e.data["change"] for e in cancelled] == ["made", "made", "cancelled", "cancelled"]
    await assert_ledger_invariants(store)


async def test_mydata_includes_the_persons_pledges_and_their_accounts(db: Database) -> None:
    from core.privacy.export import document

    store = Store(db, FixedClock(NOON))
    donor = await person_with(store, 1_000)
    made = await pledge(store, donor, PledgeTerms(30_000, PledgeKind.LOCATION_TIME, 13.0679, 80.2377, 1_000, 11, 15, True))
    async with store.reader() as uow:
        data = await document(uow, donor)
    assert data["balances"] == {f"donor:{donor.id}": 70_000, f"pledge:{made.id}": 30_000}
    (exported,) = data["pledges"]
    assert (exported["id"], exported["kind"], exported["lat"], exported["radius_m"], exported["start_hour"],
            exported["auto_renew"], exported["remaining"]) == (made.id, "location_time", 13.0679, 1_000, 11, True, 30_000)  # fmt: skip

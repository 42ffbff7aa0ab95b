"""A batch of messages reads its senders and which of them have no restaurant, worker or pledge in
one query each: what it remembers must never hide a row that exists, nor one created meanwhile."""

from __future__ import annotations

import uuid

from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.funding.pledge_model import PledgeTerms
from core.members.model import Approval, Person
from core.shared.clock import SystemClock


async def people_in(db: Database, *names: str) -> tuple[Store, str, list[Person]]:
    """A store, this test's tag, and a web-chat person per name (at "<tag>-<name>")."""
    tag = uuid.uuid4().hex[:8]
    store = Store(db, SystemClock())
    async with store.uow() as uow:
        return store, tag, [await uow.people.get_or_create("webchat", f"{tag}-{name}") for name in names]


async def test_people_with_no_role_are_remembered_until_one_is_created(db: Database) -> None:
    store, tag, (donor, rider) = await people_in(db, "donor", "rider")
    async with store.uow() as uow:
        worker = await uow.workers.create(person_id=rider.id, name="Ravi", lat=13.06, lng=80.24, zone="tf2dq",
                                          status=Approval.APPROVED)  # fmt: skip
        await uow.pledges.add(rider.id, PledgeTerms(amount=50_000), None)

    async with store.uow() as uow:
        found = await uow.people.find_many([("webchat", f"{tag}-donor"), ("webchat", f"{tag}-rider"), ("webchat", f"{tag}-none")])
        assert sorted(p.id for p in found) == sorted([donor.id, rider.id])  # nobody at the third address
        await uow.remember_roles([p.id for p in found])
        assert (await uow.workers.by_person(rider.id)) == worker  # a role that exists is always read
        assert len(await uow.pledges.for_person(rider.id)) == 1
        assert await uow.workers.by_person(donor.id) is None
        assert await uow.restaurants.by_person(donor.id) is None and await uow.pledges.for_person(donor.id) == []

        # created in the same unit of work after the batch read: seen at once
        made = await uow.workers.create(person_id=donor.id, name="Devi", lat=13.06, lng=80.24, zone="tf2dq",
                                        status=Approval.PENDING)  # fmt: skip
        await uow.pledges.add(donor.id, PledgeTerms(amount=10_000), None)
        shop = await uow.restaurants.create(person_id=donor.id, name="Annam", address="Mylapore", lat=13.03, lng=80.27,
                                            zone="tf2dq", daily_capacity=20, menu=[("Idli", 4_000)])  # fmt: skip
        assert await uow.workers.by_person(donor.id) == made
        assert [p.terms.amount for p in await uow.pledges.for_person(donor.id)] == [10_000]
        assert await uow.restaurants.by_person(donor.id) == shop


async def test_what_a_batch_remembers_is_forgotten_with_an_undone_part(db: Database) -> None:
    # A part of a batch that fails is undone with whatever it found or created: the roles read
    # before it are dropped too, so that nothing it did can leave a stale answer behind.
    store, _, (donor,) = await people_in(db, "donor")
    async with store.uow() as uow:
        await uow.remember_roles([donor.id])
        assert donor.id in uow.workers.none_for
        try:
            async with store.part(uow):
                await uow.prompts.open(donor.id, "consent", [("Yes", "consent:yes")], expires_at=None)
                assert len((await uow.prompts.open_and_recent(donor.id))[0]) == 1  # read, so remembered
                raise ValueError("this part fails")
        except ValueError:
            pass
        assert donor.id not in uow.workers.none_for and donor.id not in uow.pledges.none_for
        assert await uow.prompts.open_for(donor.id) == []  # its prompt was undone with it, and so was the memory of it


async def test_prompts_remembered_for_a_batch_never_hide_one_opened_answered_or_withdrawn_meanwhile(db: Database) -> None:
    store, tag, (asked, new) = await people_in(db, "asked", "new")
    async with store.uow() as uow:
        offer = await uow.prompts.open(asked.id, "job", [("Claim", "claim:1")], expires_at=None, ref=f"job:{tag}")

    async with store.uow() as uow:
        await uow.remember_roles([asked.id, new.id])
        assert new.id in uow.prompts.none_for and asked.id not in uow.prompts.none_for
        assert await uow.prompts.open_and_recent(new.id) == ([], []) and await uow.prompts.with_payload(new.id, "x") is None
        # opened after the batch read, in the same unit of work: seen at once
        question = await uow.prompts.open(new.id, "consent", [("Yes", "consent:yes")], expires_at=None)
        assert [p.id for p in await uow.prompts.open_for(new.id)] == [question.id]
        assert (await uow.prompts.with_payload(new.id, "consent:yes")) == question

        open_prompts, recent = await uow.prompts.open_and_recent(asked.id)  # read once, then remembered
        assert [p.id for p in open_prompts] == [offer.id] == [p.id for p in recent]
        assert await uow.prompts.withdraw(f"job:{tag}") == 1
        assert await uow.prompts.open_for(asked.id) == []  # withdrawn: no longer open
        assert [p.withdrawn_at is not None for p in (await uow.prompts.open_and_recent(asked.id))[1]] == [True]
        assert [p.id for p in (await uow.prompts.open_and_recent(new.id))[0]] == [question.id]  # remembered
        assert await uow.prompts.answer(question.id)
        assert await uow.prompts.open_for(new.id) == []  # answered: no longer open

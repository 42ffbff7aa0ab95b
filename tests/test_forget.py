"""/forget in core: nothing of the person's name, numbers, chat ids or payout details is left in
any table (found by scanning every column of every table the database has), while the books
balance and the chain verifies; and a person with something open or owed (a payout the bank has
not paid included) is told to wait. SQLite and PostgreSQL.

The person has rows in every kind of table that holds personal data: identities, messages,
orders, photos, a pledge, payout details and a paid payout line, a top-up request, a proposal
with their words, a second and a vote, a rating (appealed by the worker, who quotes their name)
and a checkpoint subscription."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import column, inspect, select, table
from sqlalchemy.ext.asyncio import AsyncConnection

from core.adapters.sql.board import SqlJobBoard
from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.funding import pledges
from core.funding.pledge_model import PledgeKind, PledgeTerms
from core.governance import service as governance
from core.governance.model import VoteChoice
from core.ledger.commitments import opens
from core.ledger.model import DEPOSITS, POOL, transfer, worker_account
from core.members.model import Approval, Person
from core.orders import service as orders
from core.payments import payouts, topups
from core.payments.model import LineStatus, parse_details
from core.privacy.forget import ForgetRefused, blockers, forget
from core.ratings import service as ratings
from core.ratings.model import Aspect
from core.schedule.jobs import end_erasures
from core.seekers.photos import LocalPhotoStore
from core.seekers.screening import PassThroughScreener
from core.shared.geo import encode
from tests.clock import FixedClock
from tests.helpers import assert_ledger_invariants, chain_events, settle_after_window
from tests.test_order_paths import NOON, seed_apart

DEPOSIT = 100_000


@pytest.fixture
def store(db: Database) -> Store:
    return Store(db, FixedClock(NOON))


@pytest.fixture
def photos(tmp_path: Path) -> LocalPhotoStore:
    return LocalPhotoStore(tmp_path / "photos", b"k" * 32)


async def traces(conn: AsyncConnection, needles: list[str]) -> list[str]:
    """`table.column` of every cell, in every table the database has, holding any needle (also
    as it is spelt inside JSON): found by inspecting the live schema, not by a list kept here."""
    names = await conn.run_sync(lambda c: {t: [col["name"] for col in inspect(c).get_columns(t)]
                                           for t in inspect(c).get_table_names()})  # fmt: skip
    forms = {f for n in needles for f in (n, json.dumps(n)[1:-1], json.dumps(n, ensure_ascii=False)[1:-1])}
    found = []
    for name, columns in sorted(names.items()):
        rows = await conn.execute(select(*(column(c) for c in columns)).select_from(table(name)))
        for row in rows:
            for col, value in zip(columns, row, strict=True):
                text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                if any(f in text for f in forms):
                    found.append(f"{name}.{col}")
    return sorted(set(found))


async def person_with_history(store: Store, photos: LocalPhotoStore) -> tuple[Any, Person, dict[str, Any]]:
    """A donor with a name, three identities, a settled order at an exact place, a seeker photo,
    messages both ways, and others' messages quoting their name and number; (coop, donor, ids)."""
    coop, spot = await seed_apart(store)
    tag = uuid.uuid4().hex[:8]
    ids: dict[str, Any] = {"name": f"Kavitha Raman {tag}", "phone": f"+91984{int(tag, 16) % 10**7:07d}", "web": f"w-{tag}ffff0000",
           "test": coop.donor.address}  # fmt: skip
    donor = replace(coop.donor, name=ids["name"])
    board = SqlJobBoard(store.db)
    exact = (spot[0] + 0.001234, spot[1] + 0.004567)
    async with store.uow() as uow:
        await uow.people.set_name(donor.id, ids["name"])
        await uow.people.add_identity(donor.id, "sms", ids["phone"])
        await uow.people.add_identity(donor.id, "webchat", ids["web"])
        photo_id = await photos.put(b"seeker photo bytes")
        await uow.photos.add(photo_id, "seeker", donor.id, "image/jpeg")
        order = await orders.start_order(uow, donor, *exact, photo_id, PassThroughScreener())
        await orders.fund_and_send(uow, order.id, donor, coop.restaurants[0].menu[0].id, 1_000)
        handled, _new = await uow.inbox.store("sms", f"SM{tag}", ids["phone"], {"kind": "text", "text": f"I am {ids['name']}"})
        await uow.inbox.finish(handled)
        ids["current"], _new = await uow.inbox.store("sms", f"SMx{tag}", ids["phone"], {"kind": "text", "text": "ERASE"})
        await uow.outbox.enqueue("webchat", ids["web"], {"text": f"Hello {ids['name']}"}, delivered=True)
        admin_words = {"kind": "text", "text": f"/deposit {ids['phone']} 500"}
        await uow.inbox.store("test", f"adm{tag}", coop.admin.address, admin_words)
        await uow.outbox.enqueue("test", f"{tag}-worker-1", {"text": f"Order for {ids['name']}, தமிழ்"})
        await uow.identity.add_session(f"{tag}{'0' * 24}", "h" * 64, ids["web"], "visitor", (uow.at + timedelta(days=30)).isoformat())
    kitchen, worker = coop.restaurants[0], coop.workers[0]
    async with store.uow() as uow:
        await orders.accept(uow, order.id, kitchen, board, "r")
    async with store.uow() as uow:
        await orders.claim(uow, order.id, worker, board, "w")
    async with store.uow() as uow:
        await orders.pickup(uow, order.id, worker, board, "w")
    async with store.uow() as uow:
        await orders.deliver(uow, order.id, worker, "proof", exact[0] + 0.0001, exact[1], "w")
    await settle_after_window(store, order.id)
    return coop, donor, ids


EARNED = 50_000  # paise the person earned delivering too (above the governed payout minimum)
PLEDGED = 30_000


async def and_everything_since(store: Store, coop: Any, donor: Person, ids: dict[str, Any]) -> Person:
    """Add the rows of the features merged after /forget: the donor delivers too (paid out once
    to a UPI id, then a bank account given), asked for a UPI top-up, pledged for a place, joined,
    proposed in their own words, voted, rated the worker (who appealed quoting their name) and
    subscribed to the daily checkpoint. Return the donor as a member."""
    tag = ids["web"][2:10]
    ids["upi"], ids["account"] = f"kavitha.{tag}@okaxis", f"5010{int(tag, 16) % 10**10:010d}"
    (order,) = await _orders_of(store, donor)
    spot = (order.seeker_lat, order.seeker_lng)
    async with store.uow() as uow:
        worker = await uow.workers.create(person_id=donor.id, name=ids["name"], lat=spot[0], lng=spot[1],
                                          zone=encode(*spot), status=Approval.APPROVED)  # fmt: skip
        await uow.ledger.record(transfer("deposit", f"earned-{tag}", DEPOSITS, worker_account(worker.id), EARNED))
        await payouts.set_details(uow, donor, parse_details(donor.id, ids["upi"]))
        await topups.request_topup(uow, donor, 20_000)
        await pledges.make_pledge(uow, donor.id, PledgeTerms(PLEDGED, PledgeKind.LOCATION, spot[0] + 0.000321,
                                                             spot[1] + 0.000654, 500), donor.actor)  # fmt: skip
        await uow.subscriptions.set(donor.id, "checkpoint", True)
        await governance.join(uow, donor)
    member = replace(donor, is_member=True)
    day = f"2{int(tag, 16) % 900 + 100:03d}-01-01"  # a day of its own: the PostgreSQL database is shared
    async with store.uow() as uow:
        report = await payouts.run_payouts(uow, day)
        assert report.batch is not None
        (line,) = [x for x in report.lines if x.person_id == donor.id]
        assert line.amount == EARNED and line.status is LineStatus.PENDING
        # The bank file still needs their name and full UPI id: they are told to wait.
        assert (await blockers(uow, member)).payouts == [line.id]
        with pytest.raises(ForgetRefused):
            await forget(uow, member, LocalPhotoStore(Path("/nonexistent"), b"k" * 32), None)
    async with store.uow() as uow:
        await payouts.mark_paid(uow, coop.admin, report.batch.id, f"UTR{tag}")
        await payouts.set_details(uow, donor, parse_details(donor.id, f"{ids['account']} HDFC0001234"))
        assert (await blockers(uow, member)).payouts == []
    kitchen_person = coop.restaurants[0].person_id
    async with store.uow() as uow:
        kitchen = await uow.people.get(kitchen_person)
        worker_person = await uow.people.get(coop.workers[0].person_id)
        assert kitchen is not None and worker_person is not None
        proposal = await governance.propose(uow, member, {}, f"As {ids['name']} I ask this", f"Call {ids['phone']} first")
        await governance.second(uow, kitchen, proposal.id)
        await governance.vote(uow, member, proposal.id, VoteChoice.YES, "sms")
        # The treasurer asks about their account in chat: the number is quoted in an admin's message.
        await uow.outbox.enqueue("test", coop.admin.address, {"text": f"Check account {ids['account']} with the bank"})
        rating = await ratings.rate(uow, member, order.id, Aspect.DELIVERY, 1)
        await ratings.comment(uow, member, rating.id, "Late and cold 🥶, call me on my number")
        await ratings.appeal(uow, worker_person, rating.id, f"{ids['name']} was not at home")
    return member


async def _orders_of(store: Store, donor: Person) -> list[Any]:
    async with store.reader() as uow:
        return await uow.orders.find(donor_id=donor.id)


async def test_forget_leaves_no_name_number_or_chat_id_in_any_table_and_the_books_whole(
    store: Store, photos: LocalPhotoStore
) -> None:
    coop, donor, ids = await person_with_history(store, photos)
    donor = await and_everything_since(store, coop, donor, ids)
    needles = [ids["name"], ids["phone"], ids["web"], ids["test"], ids["upi"], ids["account"]]
    async with store.reader() as uow:
        before = await traces(uow.conn, needles)
        balance = await uow.ledger.balance(f"donor:{donor.id}")
        pool = await uow.ledger.balance(POOL)
        exported = await uow.privacy.export(donor.id, [f"donor:{donor.id}"])
    # The scan sees them first: it is able to fail.
    assert {"people.name", "identities.address", "inbox.payload", "outbox.payload", "web_sessions.address",
            "payout_details.destination", "payout_lines.name", "payout_lines.destination", "proposals.reason",
            "proposals.decision", "ratings.appeal_reason", "workers.name"} <= set(before)  # fmt: skip
    assert balance == DEPOSIT - (6_000 + 3_000 + 1_000) - PLEDGED
    # The chain commits to the proposal's words with a salt kept outside it.
    (proposal,) = exported["proposals"]
    async with store.reader() as uow:
        salt = await uow.commitments.salt(f"proposal:{proposal['id']}:text")
        (made,) = [e for e in await chain_events(uow, "proposal.made") if e.data["proposal_id"] == proposal["id"]]
    assert salt is not None and opens(made.data["reason_commit"], f"{proposal['decision']}\n{proposal['reason']}", salt)
    # /mydata holds every one of those rows.
    for key in ("payout_details", "payout_lines", "topup_requests", "proposals", "votes", "ratings_given",
                "subscriptions", "worker"):  # fmt: skip
        assert exported[key], key
    (given,) = exported["ratings_given"]
    assert given["comment"] == "Late and cold 🥶, call me on my number"  # /mydata shows their comment

    # The first SMS was handled long ago; the second ("ERASE") is the one being handled now.
    async with Store(store.db, FixedClock(NOON + timedelta(hours=1))).uow() as uow:
        erased = await forget(uow, donor, photos, ("sms", ids["phone"]))
        await uow.inbox.finish(ids["current"])  # as the inbox processor does after the flow
    assert erased.donated == balance + PLEDGED and erased.counts["photos"] == 1 and erased.counts["quoted"] >= 3
    assert erased.counts["payments"] >= 3 and erased.counts["governance"] >= 2

    async with store.reader() as uow:
        # Only the emptied "ERASE" message (WhatsApp answers only within 24 hours of the last
        # one) and the web-chat session live on, for the hour the farewell takes.
        assert await traces(uow.conn, needles) == ["inbox.address", "web_sessions.address"]
        assert await uow.ledger.balance(f"donor:{donor.id}") == 0
        assert await uow.ledger.balance(POOL) == pool + balance + PLEDGED
        # The payout made stays in the books: amount, status and a masked UPI id, nameless.
        after = await uow.privacy.export(donor.id, [])
        (line,) = after["payout_lines"]
        assert (line["amount"], line["status"], line["name"]) == (EARNED, "paid", f"#{donor.id}")
        assert line["destination"] == f"k***{ids['upi'].split('@')[0][-1]}@okaxis"
        assert after["payout_details"] == after["topup_requests"] == after["subscriptions"] == []
        (proposal,) = after["proposals"]
        assert (proposal["reason"], proposal["decision"]) == (f"#{donor.id}", "")
        assert [v["choice"] for v in after["votes"]] == ["yes"]  # who voted stays in the books, by id
        assert await uow.commitments.salt(f"proposal:{proposal['id']}:text") is None  # a guess can no longer be tested
        (rating,) = after["ratings_given"]
        assert rating["appeal_reason"] == f"#{donor.id} was not at home"  # the worker's words, without the name
        assert rating["comment"] == ""  # their own comment goes, and with its salt the chain's commitment is untestable
        assert await uow.commitments.salt(f"rating:{rating['id']}:comment") is None
        (order,) = await uow.orders.find(donor_id=donor.id)
        assert (order.seeker_lat, order.seeker_lng) == (round(order.seeker_lat, 2), round(order.seeker_lng, 2))
        assert order.delivery_lat == round(order.delivery_lat or 0, 2)
        assert await uow.people.find("sms", ids["phone"]) is None
        (event,) = [e for e in await chain_events(uow, "person.erased") if e.data["person_id"] == donor.id]
        assert set(event.data) == {"person_id", "counts", "donated"}  # ids and counts only
    assert await photos.get(order.seeker_photo or "") is None

    later = Store(store.db, FixedClock(NOON + timedelta(days=31)))
    swept = await end_erasures(later)
    assert swept["web_sessions"] >= 1 and swept["farewells"] >= 1
    async with store.reader() as uow:
        assert await traces(uow.conn, needles) == []
    await assert_ledger_invariants(store)

    # The same number writes again: a brand-new person, who holds nothing of the old one.
    async with store.uow() as uow:
        fresh = await uow.people.get_or_create("sms", ids["phone"])
    assert fresh.id != donor.id and fresh.name is None


async def test_a_person_with_an_open_order_money_owed_or_admin_rights_is_told_to_wait(
    store: Store, photos: LocalPhotoStore
) -> None:
    coop, spot = await seed_apart(store)
    async with store.uow() as uow:
        order = await orders.start_order(uow, coop.donor, *spot, None, PassThroughScreener())
        await orders.fund_and_send(uow, order.id, coop.donor, coop.restaurants[0].menu[0].id, 0)
    async with store.uow() as uow:
        with pytest.raises(ForgetRefused) as refused:
            await forget(uow, coop.donor, photos, None)
    assert refused.value.blockers.open_orders == [order.id] and not refused.value.blockers.owed
    # The worker and the kitchen of a settled order are owed their pay until the payout.
    settled, _donor, _ids = await person_with_history(store, photos)
    async with store.uow() as uow:
        worker = await uow.people.get(settled.workers[0].person_id)
        kitchen = await uow.people.get(settled.restaurants[0].person_id)
        assert worker is not None and kitchen is not None
        assert (await blockers(uow, worker)).owed == 2_400 + 1_000
        assert (await blockers(uow, kitchen)).owed == 6_000
        assert (await blockers(uow, settled.admin)).admin
        request_id = await uow.identity.add_deposit_request(settled.donor.id, 50_000, settled.admin.id)
        assert (await blockers(uow, settled.donor)).deposits == [request_id]
        with pytest.raises(ForgetRefused):
            await forget(uow, worker, photos, None)
    await assert_ledger_invariants(store)

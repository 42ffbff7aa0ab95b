"""Admins see an order's photos only for a dispute they decide, and every such read is logged in
the chain (the web chat logs the page loading it; Telegram and WhatsApp log the push)."""

from __future__ import annotations

from typing import Any

from core.seekers.photo_access import view_photo
from tests.helpers import assert_ledger_invariants, chain_events
from tests.test_disputes import REPORTED, UP_TO_DELIVERED

CASE = REPORTED.split("    admin    > [tap Meal only]")[0]


async def test_an_admin_sees_the_disputed_delivery_photo_and_the_read_is_logged(app_env: dict[str, Any]) -> None:
    chat, client, store = app_env["chat"], app_env["client"], app_env["runtime"].store
    await chat.run(UP_TO_DELIVERED)
    app_env["clock"].advance(minutes=10)
    donors_own = [m["image_url"] for m in (await chat.fetch("donor-1")).seen if m["image_url"]][-1]
    assert (await client.get(donors_own)).status_code == 200  # a party's own view: no admin read
    await chat.run(CASE)
    case = (await chat.fetch("admin")).seen[-1]
    async with store.reader() as uow:
        assert await chain_events(uow, "photo.viewed") == []  # sending a web-chat link is no read
    shown = await client.get(case["image_url"])
    assert shown.status_code == 200 and shown.content[:2] == b"\xff\xd8"
    async with store.reader() as uow:
        (viewed,) = await chain_events(uow, "photo.viewed")
        admin = await uow.people.find("webchat", "admin")
    assert viewed.actor == f"person:{admin.id}"
    assert viewed.data == {"order_id": 1, "kind": "delivery", "purpose": "dispute"}
    await assert_ledger_invariants(store)


async def test_a_stranger_cannot_see_a_disputed_photo(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    await chat.run(UP_TO_DELIVERED)
    app_env["clock"].advance(minutes=10)
    await chat.run(CASE)
    link = (await chat.fetch("admin")).seen[-1]["image_url"]
    photo_id = link.split("/photos/")[1].split("?")[0]
    async with app_env["runtime"].store.uow() as uow:
        worker3 = await uow.people.find("webchat", "worker-3")
        assert not await view_photo(uow, worker3.id, photo_id)
        assert uow.events == []

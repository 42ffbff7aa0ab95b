"""A restaurant changes what it offers by chat: its daily capacity and its alms menu."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from core.adapters.sql.schema import events
from tests.helpers import assert_ledger_invariants

PAUSE_AND_NEW_MENU = """
    rest-2   > /capacity
    rest-2   < You pledge 20 meals a day; 20 are left today. Send a new number of meals per day (0 pauses orders).
    rest-2   > lots
    rest-2   < Please send a number of meals per day from 0 to 1000, for example 20.
    rest-2   > 0
    rest-2   < New orders are paused. Orders you already have stay. Send /capacity to open again.
    rest-1   > menu
    rest-1   < Curd rice ₹60
    rest-1   > Pongal
    rest-1   < I could not read that menu. Send one meal per line, a name and a price
    rest-1   > Pongal - ₹45
    rest-1   < Your alms menu now has 1 meal. Orders already placed keep theirs.
"""


async def test_a_paused_restaurant_and_a_new_menu_change_what_donors_are_offered(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    await chat.run(PAUSE_AND_NEW_MENU)
    # A whole menu in one message (as a phone sends it) replaces the one-line menu just sent.
    await chat.send("rest-1", "/menu")
    await chat.expect("rest-1", "Pongal ₹45")
    await chat.send("rest-1", "Pongal 45\nCurd rice 55")
    await chat.expect("rest-1", "Your alms menu now has 2 meals. Orders already placed keep theirs.")
    await chat.run("""
        donor-1  > [photo]
        donor-1  < Did the person agree to be photographed [Yes, they agreed] [No]
        donor-1  > [press consent:yes]
        donor-1  < Thank you. Now share the location where the person is
        donor-1  > [location 13.0827, 80.2707]
        donor-1  < What is the place like right now? [Busy and well lit]
        donor-1  > [press scene:busy_lit]
        donor-1  < Meals near this person — choose one: [Pongal ₹45] [Curd rice ₹55] [Cancel]
    """)
    offer = (await chat.fetch("donor-1")).seen[-1]
    labels = [b["label"] for b in offer["buttons"]]
    assert not any("biryani" in label or "Idli" in label for label in labels), labels  # Saravana Kitchen paused
    assert any(label.startswith("Pongal") and "₹45" in label for label in labels), labels
    assert not any(label.startswith("Sambar rice") for label in labels), labels  # retired with the old menu

    async with app_env["runtime"].store.reader() as uow:
        rows = await uow.conn.execute(select(events.c.data).where(events.c.type == "restaurant.offer_changed"))
        changes = [json.loads(data) for (data,) in rows]
    assert [(c["what"], c["before"], c["after"]) for c in changes if c["what"] == "daily_capacity"] == [("daily_capacity", 20, 0)]
    menus = [c for c in changes if c["what"] == "menu"]
    assert menus[-1]["after"] == [["Pongal", 4500], ["Curd rice", 5500]]
    assert ["Sambar rice", 7000] in menus[0]["before"]
    await assert_ledger_invariants(app_env["runtime"].store)


async def test_capacity_is_set_in_one_message_and_others_are_told_politely(app_env: dict[str, Any]) -> None:
    await app_env["chat"].run("""
        rest-2   > /capacity 5
        rest-2   < You now pledge 5 meals a day; 5 are left today.
        rest-2   > அளவு ௧௨
        rest-2   < You now pledge 12 meals a day; 12 are left today.
        rest-2   > capacity twelve
        rest-2   < Sorry, I did not understand that. Send /help to see what you can do.
        donor-1  > /menu
        donor-1  < Only an approved restaurant can do that.
        worker-1 > /capacity 3
        worker-1 < Only an approved restaurant can do that.
    """)

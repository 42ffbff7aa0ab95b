"""The whole meal in Tamil for every role: every message the bot sends must be Tamil."""

from __future__ import annotations

import re
from typing import Any

from tests.helpers import assert_ledger_invariants

USERS = ("donor-1", "rest-1", "rest-2", "worker-1", "worker-2", "worker-3", "admin")

MEAL_BY_PAYLOAD = """
    donor-1  > /start
    donor-1  > [press lang:ta]
    donor-1  > [photo]
    donor-1  > [press consent:yes]
    donor-1  > [location 13.0827, 80.2707]
    donor-1  > [press scene:busy_lit]
    donor-1  > [press meal:]
    donor-1  > [press tip:]
    donor-1  > [press pay:]
    rest-1   > [press accept:]
    worker-1 > [press claim:]
    worker-2 > [press claim:]
    worker-1 > [press pickup:]
    worker-1 > [press delivered:]
    worker-1 > [photo]
    worker-1 > [location 13.0829, 80.2709]
    worker-1 > /balance
    donor-1  > /orders
    donor-1  > /help
    donor-1  > something odd
"""

# What may stay in Latin letters inside a Tamil message: names and data entered by people,
# amounts, ids, commands, coordinates.
ALLOWED = re.compile(
    r"Annapoorna Mess|Saravana Kitchen|Murugan|Lakshmi|Karthik|Demo donor|Veg biryani|Curd rice|Sambar rice|"
    r"Lemon rice|Idli and sambar \(4\)|12 Wall Tax Road, Park Town|4 Poonamallee High Road, Periamet|"
    r"Choose your language|English|Location|/[a-z]+|#\d+|₹[\d,.]+|\d+(\.\d+)?\s?(km|m)\b|[\d.,\s]+"
)


def latin_left(text: str) -> list[str]:
    """Latin-letter words left after removing what may legitimately stay untranslated."""
    return re.findall(r"[A-Za-z]{2,}", ALLOWED.sub(" ", text))


async def test_every_message_of_the_meal_is_tamil_for_tamil_speakers(app_env: dict[str, Any]) -> None:
    runtime = app_env["runtime"]
    async with runtime.store.uow() as uow:
        for address in USERS:
            person = await uow.people.find("webchat", address)
            await uow.people.set_language(person.id, "ta")
    chat = app_env["chat"]
    await chat.run(MEAL_BY_PAYLOAD)
    for user in USERS:
        box = await chat.fetch(user)
        for message in box.seen:
            for text in [message["text"], *(b["label"] for b in message["buttons"])]:
                assert not latin_left(text), f"{user} got English: {text!r}"
    delivered = [m for m in (await chat.fetch("donor-1")).seen if m["image_url"]]
    assert delivered, "the donor received the delivery photo"
    await assert_ledger_invariants(runtime.store)

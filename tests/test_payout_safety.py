"""Payout safety: a change of payout details is told on every other linked chat (a borrowed phone
cannot redirect pay unseen), in the payee's language, with how to undo it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.channel_chat import User, channel_app, users_on
from tests.helpers import assert_ledger_invariants
from tests.test_dispute_transcripts import speak_tamil
from tests.test_every_channel import fakes
from tests.test_tamil_transcript import latin_left

WORKER_SMS = User("worker-sms", "sms", "+919840003901")


async def link_worker_phone(chat: Any) -> None:
    """worker-1 (web chat) links the phone worker-sms by /link and its 8-digit code."""
    chat.users |= {WORKER_SMS.name: WORKER_SMS}
    await chat.send("worker-1", "/link")
    code = re.search(r"\b(\d{8})\b", (await chat.expect("worker-1", "Your link code is")).text)
    assert code is not None
    await chat.send("worker-sms", f"/link {code.group(1)}")
    await chat.skip_to("worker-sms", "Linked: this chat is now")
    await chat.all_read()


CHANGED_BY_SMS = """
    worker-sms > /payout murugan@okaxis
    worker-sms < Pay you at m***n@okaxis? Check it: money sent to a wrong account is hard to get back. [Confirm] [Cancel]
    worker-1   < Pay you at m***n@okaxis?
    worker-sms > [tap Confirm]
    worker-sms < Saved. Your payouts go to m***n@okaxis.
    worker-1   < Saved. Your payouts go to m***n@okaxis.
    worker-1   < Payout details were added from another of your chats: your payouts now go to m***n@okaxis.
    # Changed again from the phone: the web chat hears the old and the new place.
    worker-sms > /payout 50100123456789 HDFC0001234
    worker-sms < Change your payouts from m***n@okaxis to XXXXXX6789 · HDFC0001234? [Confirm] [Cancel]
    worker-1   < Change your payouts from m***n@okaxis to XXXXXX6789 · HDFC0001234?
    worker-sms > [tap Confirm]
    worker-sms < Saved. Your payouts go to XXXXXX6789 · HDFC0001234.
    worker-1   < Saved. Your payouts go to XXXXXX6789 · HDFC0001234.
    worker-1   < Your payout details were changed from another of your chats: payouts now go to XXXXXX6789 · HDFC0001234, no longer
    # Undone from the web chat: now the phone is the other chat, and is told.
    worker-1   > /payout murugan@okaxis
    worker-1   < Change your payouts from XXXXXX6789 · HDFC0001234 to m***n@okaxis? [Confirm] [Cancel]
    worker-1   > [tap Confirm]
    worker-1   < Saved. Your payouts go to m***n@okaxis.
    worker-sms < Your payout details were changed from another of your chats
"""


async def test_a_change_of_payout_details_is_told_on_every_other_linked_chat(app_db: Path, tmp_path: Path) -> None:
    users = users_on({"worker-1": "webchat", "*": "sms"})
    with fakes("sms") as (telegram, twilio):
        async with channel_app(app_db, tmp_path / "var", users, telegram=telegram, twilio=twilio) as env:
            chat = env["chat"]
            await link_worker_phone(chat)
            await chat.run(CHANGED_BY_SMS)
            for name in ("worker-1", "worker-sms"):  # each warning says how to undo it
                warnings = [m.text for m in (await chat.fetch(name)).seen if "from another of your chats" in m.text]
                assert warnings and all(w.endswith("\nNot you? Send /payout with your own details to change them back, "
                                                   "and tell an admin.") for w in warnings), warnings  # fmt: skip
            # Confirming the same details again changes nothing and warns nobody.
            await chat.run("""
                worker-1 > /payout murugan@okaxis
                worker-1 < Change your payouts from m***n@okaxis to m***n@okaxis? [Confirm] [Cancel]
                worker-1 > [tap Confirm]
                worker-1 < Saved. Your payouts go to m***n@okaxis.
            """)
            await assert_ledger_invariants(env["runtime"].store)


async def test_the_warning_is_in_tamil_for_a_tamil_payee(app_db: Path, tmp_path: Path) -> None:
    users = users_on({"worker-1": "webchat", "*": "sms"})
    with fakes("sms") as (telegram, twilio):
        async with channel_app(app_db, tmp_path / "var", users, telegram=telegram, twilio=twilio) as env:
            chat = env["chat"]
            await link_worker_phone(chat)
            await speak_tamil(env["runtime"].store, ("worker-1",), chat.users)
            await chat.send("worker-sms", "/payout murugan@okaxis")
            await chat.send("worker-sms", "1")  # Confirm, typed by number on SMS
            box = await chat.fetch("worker-1")
            warning = box.seen[-1].text
            assert "m***n@okaxis" in warning and "/payout" in warning
            assert latin_left(warning.replace("m***n@okaxis", " ")) == [], warning

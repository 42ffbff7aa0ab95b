"""The foundation's meal transcript on every channel — web chat, Telegram, WhatsApp and SMS — from
one transcript, through the real SDKs against the local fakes with real signatures.

Web chat, Telegram and WhatsApp run tests.test_meal_transcript.MEAL unchanged, everyone on that
channel. SMS runs the same lines with the donor on the web chat (a photo cannot travel by SMS) and
the restaurants and workers on SMS; it stops where the worker is asked for the delivery photo,
which SMS cannot carry, and asserts the polite answer the worker gets instead."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from core.schedule.jobs import settle_due
from tests.channel_chat import (
    CHANNELS,
    SMS_FROM,
    WA_FROM,
    RecordingTwilio,
    User,
    channel_app,
    on_sms,
    users_on,
)
from tests.fake_telegram import FakeTelegram
from tests.helpers import assert_ledger_invariants
from tests.test_meal_transcript import MEAL, SETTLED

# python-telegram-bot 22.x reads its own deprecated int `RetryAfter.retry_after` while building errors.
pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:telegram.warnings.PTBDeprecationWarning")

CAST: dict[str, Any] = {
    "webchat": "webchat",
    "telegram": "telegram",
    "whatsapp": "whatsapp",
    "sms": {"donor-1": "webchat", "*": "sms"},  # a donor can fund and follow an order from the web chat
}

# SMS: the same transcript up to "Delivered"; SMS carries no photo, so the typed location is the proof.
DELIVERED = "worker-1 > [tap Delivered]"
_HEAD, _FOUND, _ = MEAL.partition(DELIVERED)
assert _FOUND, "the meal transcript no longer has the worker tap Delivered"
SMS_MEAL = on_sms(_HEAD) + DELIVERED + """
    worker-1 < Send your location as numbers, for example 13.0827, 80.2707.
    worker-1 > [location 13.0829, 80.2709]
    worker-1 < Delivered order #1. Thank you! You will receive ₹34 (₹24 delivery + ₹10 tip) at 12:30 pm. [It went well] [Safety problem]
    donor-1  < Order #1 was delivered. Thank you for feeding someone today!
    rest-2   < Order #1 was delivered. ₹80 will be credited to you at 12:30 pm.
"""


@contextmanager
def fakes(channel: str) -> Iterator[tuple[FakeTelegram | None, RecordingTwilio | None]]:
    """The provider fakes a channel needs, served on free local ports."""
    with ExitStack() as stack:
        telegram = stack.enter_context(FakeTelegram()) if channel == "telegram" else None
        twilio = None
        if channel in ("whatsapp", "sms"):
            twilio = RecordingTwilio().start()
            stack.callback(twilio.stop)
        yield telegram, twilio


async def _ids(runtime: Any, users: dict[str, User]) -> dict[str, int]:
    """Person, restaurant and worker ids of the cast, for the ledger's account names."""
    async with runtime.store.reader() as uow:
        people = {n: await uow.people.find(u.channel, u.address) for n, u in users.items()}
        rest2 = await uow.restaurants.by_person(people["rest-2"].id)
        worker1 = await uow.workers.by_person(people["worker-1"].id)
    return {"donor": people["donor-1"].id, "rest-2": rest2.id, "worker-1": worker1.id}


@pytest.mark.parametrize("channel", CHANNELS)
async def test_the_meal_transcript_runs_on_every_channel(channel: str, app_db: Path, tmp_path: Path) -> None:
    users = users_on(CAST[channel])
    with fakes(channel) as (telegram, twilio):
        async with channel_app(app_db, tmp_path / "var", users, telegram=telegram, twilio=twilio) as env:
            runtime = env["runtime"]
            await env["chat"].run(SMS_MEAL if channel == "sms" else MEAL)
            env["clock"].advance(minutes=30)  # the dispute window passes; the scheduler settles
            assert await settle_due(runtime.store) == 1
            await env["chat"].settle()  # deliver what the job sent
            await env["chat"].run(SETTLED)

            ids = await _ids(runtime, users)
            async with runtime.store.reader() as uow:
                balances = await uow.ledger.balances()
                order = await uow.orders.get(1)
            assert order is not None and order.status.value == "settled"
            # Every channel, SMS included, ends with the same exact balances.
            assert balances == {
                "external:deposits": -100_000,
                f"donor:{ids['donor']}": 88_000,
                "escrow:order:1": 0,
                f"restaurant:{ids['rest-2']}": 8_000,
                f"worker:{ids['worker-1']}": 3_400,
                "pool:guarantee": 300,
                "fund:infra": 300,
            }
            await assert_ledger_invariants(runtime.store)

            if runtime.outbox is not None:
                assert await runtime.outbox.list_failed() == [], "every message was delivered"
            if telegram is not None:  # the other workers' offers now say the job was taken
                edited = {chat: text for (chat, _), text in telegram.edits.items()}
                assert sorted(edited) == sorted(users[w].address for w in ("worker-2", "worker-3"))
                assert all("Job #1 was taken by Murugan" in text for text in edited.values())
            if twilio is not None:  # each message went out on its person's own channel
                sent = {(m.one("To"), m.one("From")) for m in twilio.messages}
                expected_from = WA_FROM if channel == "whatsapp" else SMS_FROM
                assert sent and all(origin == expected_from for _, origin in sent), sent
                assert {to for to, _ in sent} <= {u.address for u in users.values() if u.channel == channel}

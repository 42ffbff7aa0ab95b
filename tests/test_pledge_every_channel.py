"""/pledge and /pledges on every channel — web chat, Telegram, WhatsApp and SMS — through the real
SDKs against the local fakes with real signatures: the same transcript as the web chat's."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.schedule.jobs import renew_pledges
from tests.channel_chat import CHANNELS, channel_app, users_on
from tests.helpers import assert_ledger_invariants
from tests.test_every_channel import fakes
from tests.test_pledge_transcripts import PLEDGE

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:telegram.warnings.PTBDeprecationWarning")

MONTHLY = """
    donor-1  > /pledge 200
    donor-1  < Which meals may your ₹200 pay for?
    donor-1  > [tap Anyone, anywhere]
    donor-1  < Renew it every month from your balance? [Every month] [Just once]
    donor-1  > [tap Every month]
    donor-1  < Pledge ₹200 (for anyone, anywhere · renews monthly). Your balance: ₹500. [Confirm] [Cancel]
    donor-1  > [tap Confirm]
    donor-1  < Thank you! Pledge #2 holds ₹200
    donor-1  > /pledges
    donor-1  < #2 ₹200 left of ₹200 (for anyone, anywhere · renews monthly), active [Cancel #2] [Pause #2] [Cancel #1] [Pause #1]
    donor-1  > [tap Cancel #1]
    donor-1  < Pledge #1 is cancelled; ₹500 is back in your balance.
"""


@pytest.mark.parametrize("channel", CHANNELS)
async def test_pledges_by_chat_on_every_channel(channel: str, app_db: Path, tmp_path: Path) -> None:
    users = users_on(channel)
    with fakes(channel) as (telegram, twilio):
        async with channel_app(app_db, tmp_path / "var", users, telegram=telegram, twilio=twilio) as env:
            runtime, chat = env["runtime"], env["chat"]
            await chat.run(PLEDGE)
            await chat.run(MONTHLY)
            env["clock"].advance(days=30)
            assert await renew_pledges(runtime.store) == {2: True}
            await chat.settle()
            # A month later WhatsApp's 24-hour window is closed: the message waits, by template or SMS
            # where configured (bot/whatsapp.py and its tests); here it stays in the outbox.
            if channel != "whatsapp":
                await chat.run("""
                    donor-1  < Pledge #2 was renewed with ₹200 from your balance; it now holds ₹400.
                """)
            await assert_ledger_invariants(runtime.store)
            if runtime.outbox is not None and channel != "whatsapp":
                assert await runtime.outbox.list_failed() == [], "every message was delivered"

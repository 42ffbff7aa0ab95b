"""Voting on every channel, through the real SDKs against the local fakes with real signatures: a
native non-anonymous poll on Telegram, quick replies on WhatsApp, numbers on SMS, buttons on the
web chat — one member, one vote, whichever channel they use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from core.schedule.jobs import close_proposals
from tests.channel_chat import RecordingTwilio, User, channel_app, users_on
from tests.fake_telegram import FakeTelegram
from tests.helpers import assert_ledger_invariants, chain_events

# python-telegram-bot 22.x reads its own deprecated int `RetryAfter.retry_after` while building errors.
pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:telegram.warnings.PTBDeprecationWarning")

CAST = {"worker-2": "telegram", "worker-3": "whatsapp", "rest-1": "sms", "*": "webchat"}
TWIN = User("worker-2-sms", "sms", "+919840099002")  # worker-2's phone, linked to their Telegram
CHANGE = "Daily minimum for workers: from ₹500 to ₹600"
SECOND = f"Proposal #1 by Murugan: {CHANGE}. Reason: Fuel costs more. It opens for voting once 2 members second it. [Second]"
VOTE = f"Vote on proposal #1: {CHANGE}. Reason: Fuel costs more. Voting closes 26 Nov 2026, 12:00 pm."
PASSED = "Proposal #1 passed: Daily minimum for workers: ₹600. In force from 26 Nov 2026, 12:00 pm. Yes 3, no 0, abstain 0, of 5 members."

TRANSCRIPT = f"""
    worker-1 > /propose
    worker-1 < Which rule should change?
    worker-1 > 3
    worker-1 < New value for Daily minimum for workers (now ₹500), in rupees:
    worker-1 > 600
    worker-1 < Why?
    worker-1 > Fuel costs more
    worker-1 < Proposal #1 recorded: {CHANGE}. It opens for voting once 2 other members second it.
    rest-1   < {SECOND}
    rest-2   < {SECOND}
    worker-2 < {SECOND}
    worker-3 < {SECOND}
    rest-1   > [tap Second]
    rest-1   < You seconded proposal #1.
    worker-3 > [tap Second]
    worker-3 < You seconded proposal #1.
    rest-1   < {VOTE} Votes are recorded in the books by name; you can change yours until then. [Yes] [No] [Abstain]
    rest-2   < {VOTE} [Yes] [No] [Abstain]
    worker-1 < {VOTE} [Yes] [No] [Abstain]
    # Telegram: the text, then the native poll (non-anonymous: each answer names the member)
    worker-2 < {VOTE}
    worker-2 < Proposal #1: {CHANGE}? [Yes] [No] [Abstain]
    worker-3 < {VOTE} [Yes] [No] [Abstain]
    worker-2 > [tap No]
    worker-2 < Your vote on proposal #1 counts: No.
    # The same member on SMS: one vote, the later replaces the earlier
    worker-2-sms > 1
    worker-2-sms < Your vote on proposal #1 counts: Yes. You can change it until 26 Nov 2026, 12:00 pm. It replaces your earlier vote.
    worker-3 > [tap Yes]
    worker-3 < Your vote on proposal #1 counts: Yes.
    rest-1   > 1
    rest-1   < Your vote on proposal #1 counts: Yes.
    rest-1   > /proposals
    rest-1   < #1 Daily minimum for workers: ₹600 - open until 26 Nov 2026, 12:00 pm; your vote: Yes
"""


@contextmanager
def both_fakes() -> Iterator[tuple[FakeTelegram, RecordingTwilio]]:
    """Telegram and Twilio fakes on free local ports."""
    with ExitStack() as stack:
        telegram = stack.enter_context(FakeTelegram())
        twilio = RecordingTwilio().start()
        stack.callback(twilio.stop)
        yield telegram, twilio


async def test_members_vote_on_telegram_whatsapp_sms_and_the_web_and_the_change_applies_itself(
    app_db: Path, tmp_path: Path
) -> None:
    users = {**users_on(CAST), TWIN.name: TWIN}
    with both_fakes() as (telegram, twilio):
        async with channel_app(app_db, tmp_path / "var", users, telegram=telegram, twilio=twilio,
                               settings={"proposal_seconds": 2}) as env:  # fmt: skip
            chat, store = env["chat"], env["runtime"].store
            async with store.uow() as uow:
                worker2 = await uow.people.find("telegram", users["worker-2"].address)
                assert worker2 is not None
                await uow.people.add_identity(worker2.id, "sms", TWIN.address)
            await chat.run(TRANSCRIPT)

            # A poll answer for a poll the bot never sent.
            stranger = {"update_id": 9_001, "poll_answer": {"poll_id": "424242", "option_ids": [0],
                        "option_persistent_ids": ["0"], "user": chat._tg_from(users["worker-2"])}}  # fmt: skip
            await chat._telegram(stranger)
            await chat.settle()
            await chat.run("worker-2 < I do not know that poll. Send /proposals to see the open votes.")

            # Telegram lets a voter retract a poll answer (no option): the vote is withdrawn; then voted again.
            [poll_id] = [i for i, p in telegram.polls.items() if p["chat_id"] == users["worker-2"].address]
            await chat._telegram(telegram.answer_poll(9_002, poll_id, chat._tg_from(users["worker-2"]), []))
            await chat.settle()
            await chat.run("""
                worker-2 < Your vote on proposal #1 is withdrawn.
                worker-2 > [tap Yes]
                worker-2 < Your vote on proposal #1 counts: Yes.
            """)

            env["clock"].advance(hours=71)
            await chat.open_whatsapp_windows()  # WhatsApp members wrote within the last 24 hours
            env["clock"].advance(hours=1)
            assert await close_proposals(store) == {"passed": 1}
            await chat.settle()
            await chat.run("\n".join(f"{u} < {PASSED}" for u in ("rest-1", "rest-2", "worker-1", "worker-2", "worker-3")))
            await chat.run("""
                worker-3 > [tap No]
                worker-3 < Voting on that proposal has closed.
            """)
            async with store.reader() as uow:
                assert (await uow.params.current()).daily_minimum == 60_000
                votes = [(e.data["person_id"], e.data["choice"], e.data["channel"]) for e in await chain_events(uow, "proposal.vote")]
                mine = [(c, ch) for p, c, ch in votes if p == worker2.id]
                assert mine == [("no", "telegram"), ("yes", "sms"), ("withdrawn", "telegram"), ("yes", "telegram")]
                assert sorted(c for _p, c, _ch in votes) == ["no", "withdrawn", "yes", "yes", "yes", "yes"]
            [poll] = [p for p in telegram.polls.values() if p["chat_id"] == users["worker-2"].address]
            assert poll["is_anonymous"] is False and [o["text"] for o in poll["options"]] == ["Yes", "No", "Abstain"]
            assert poll["is_closed"] is True  # stopped (stopPoll) when the proposal closed: Telegram shows it closed
            await assert_ledger_invariants(store)

"""A proposal's native Telegram polls are stopped (stopPoll) when it closes: once, even if the close
job or the stop runs twice; a poll that cannot be stopped (the member deleted the chat) is logged and
the close stands. Through python-telegram-bot against the local fake."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.telegram import stop_polls
from core.adapters.sql.uow import UnitOfWork as SqlUnitOfWork
from core.governance import service as governance
from core.governance.model import VoteChoice
from core.schedule.jobs import close_proposals
from tests.channel_chat import channel_app, users_on
from tests.fake_telegram import FakeTelegram

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:telegram.warnings.PTBDeprecationWarning")

CAST = {"worker-1": "telegram", "worker-2": "telegram", "worker-3": "telegram", "*": "webchat"}


async def test_polls_are_stopped_at_close_once_and_a_deleted_chat_is_logged_not_fatal(
    app_db: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    users = users_on(CAST)
    with FakeTelegram() as telegram:
        async with channel_app(app_db, tmp_path / "var", users, telegram=telegram) as env:
            chat, store, runtime = env["chat"], env["runtime"].store, env["runtime"]
            async with store.uow() as uow:
                w1, w2, w3 = [await uow.people.find("telegram", users[f"worker-{n}"].address) for n in (1, 2, 3)]
                assert w1 and w2 and w3
                proposal = await governance.propose(uow, w1, {}, "Meet on Sundays", "Decide together")
            async with store.uow() as uow:
                await governance.second(uow, w2, proposal.id)  # one second opens it: every member gets the poll
            await chat.settle()
            polls = {p["chat_id"]: p for p in telegram.polls.values()}
            assert set(polls) == {users[f"worker-{n}"].address for n in (1, 2, 3)}
            for voter in (w1, w2, w3):
                async with store.uow() as uow:
                    await governance.vote(uow, voter, proposal.id, VoteChoice.YES, "telegram")
            telegram.deleted_chats.add(users["worker-3"].address)  # worker-3 deleted the chat with the bot

            env["clock"].advance(hours=73)
            with caplog.at_level(logging.WARNING, logger="bot.telegram"):
                assert await close_proposals(store) == {"passed": 1}
            stopped = telegram.of("stopPoll")
            assert sorted(str(c.params["chat_id"]) for c in stopped) == sorted(users[f"worker-{n}"].address for n in (1, 2))
            assert [p["is_closed"] for _chat, p in sorted(polls.items())] == [True, True, False]
            assert [str(c.params["chat_id"]) for c in telegram.of("stopPoll", 400)] == [users["worker-3"].address]
            assert any("could not stop the poll" in r.getMessage() and "chat not found" in r.getMessage().lower()
                       for r in caplog.records)  # fmt: skip

            # The close job again: nothing is due, nothing is stopped again.
            assert await close_proposals(store) == {}
            assert len(telegram.of("stopPoll")) == 2
            # The stop again (a retry after a crash, by hand): the stopped polls count as stopped, nothing changes.
            assert await stop_polls(store, runtime.telegram, "proposal", proposal.id) == 2
            # (Telegram refuses the two stopped ones as "already closed", and the deleted chat again.)
            assert len(telegram.of("stopPoll")) == 2 and len(telegram.of("stopPoll", 400)) == 1 + 3
            async with store.reader() as uow:
                closed = await uow.governance.get(proposal.id)
                assert closed is not None and closed.status.value == "passed"


async def test_polls_of_a_proposal_closed_just_before_a_crash_are_stopped_by_the_next_close_job(
    app_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = users_on(CAST)
    with FakeTelegram() as telegram:
        async with channel_app(app_db, tmp_path / "var", users, telegram=telegram) as env:
            chat, store, runtime = env["chat"], env["runtime"].store, env["runtime"]
            async with store.uow() as uow:
                w1, w2 = [await uow.people.find("telegram", users[f"worker-{n}"].address) for n in (1, 2)]
                assert w1 and w2
                proposal = await governance.propose(uow, w1, {}, "Meet on Sundays", "Decide together")
            async with store.uow() as uow:
                await governance.second(uow, w2, proposal.id)
            await chat.settle()
            polls = [p for p in telegram.polls.values()]
            assert len(polls) == 3
            env["clock"].advance(hours=73)

            # The process dies right after the close commits: the after-commit stopPoll never runs.
            with monkeypatch.context() as crash:
                crash.setattr(SqlUnitOfWork, "later", lambda self, callback: None)
                assert await close_proposals(store) == {"rejected": 1}  # nobody voted: missed quorum
            async with store.reader() as uow:
                assert (await uow.governance.get(proposal.id)).status.value == "rejected"  # type: ignore[union-attr]
                assert await uow.governance.polls_stop_pending() == [proposal.id]
            assert telegram.of("stopPoll") == [] and not any(p["is_closed"] for p in polls)

            # The next close job: Telegram is down for one call (502): that poll is tried again later.
            telegram.fail("stopPoll", status=502, description="Bad Gateway", retry_after=None)
            await runtime.stop_pending_polls()
            async with store.reader() as uow:
                assert await uow.governance.polls_stop_pending() == [proposal.id]
            assert sum(p["is_closed"] for p in polls) == 2
            # And the one after: every poll is stopped, the mark cleared; again, nothing more is sent.
            await runtime.stop_pending_polls()
            assert all(p["is_closed"] for p in polls)
            async with store.reader() as uow:
                assert await uow.governance.polls_stop_pending() == []
            calls = len(telegram.calls)
            await runtime.stop_pending_polls()
            assert len(telegram.calls) == calls

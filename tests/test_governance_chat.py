"""Governance by chat (web chat): a worker proposes a higher daily minimum, members second it and
vote, the close job applies it by itself and the next top-up uses it; and what is refused, politely.

The demo cooperative has five members (two restaurants, three workers, approved); donor-1 is not
one until /join."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.ledger.model import DEPOSITS, POOL, transfer
from core.schedule.jobs import close_proposals, end_of_day_topup
from tests.conftest import running_app
from tests.helpers import assert_ledger_invariants, chain_events
from tests.test_meal_transcript import MEAL, SETTLED, settle_after_the_window

REASON = "₹500 no longer covers a day of fuel and food; the OpenCoop figure is ₹600."
VOTE = ("Vote on proposal #1: Daily minimum for workers: from ₹500 to ₹600. Reason: " + REASON + " Voting closes 26 Nov 2026, "
        "12:00 pm. Votes are recorded in the books by name; you can change yours until then. [Yes] [No] [Abstain]")  # fmt: skip
SECOND = (f"Proposal #1 by Murugan: Daily minimum for workers: from ₹500 to ₹600. Reason: {REASON} "
          "It opens for voting once 2 members second it. [Second]")

PROPOSED = f"""
    worker-1 > /propose
    worker-1 < Which rule should change? Reply with its number (/cancel to stop):
    worker-1 > 3
    worker-1 < New value for Daily minimum for workers (now ₹500), in rupees:
    worker-1 > 600
    worker-1 < Why? Give your reason in one message (up to 500 characters).
    worker-1 > {REASON}
    worker-1 < Proposal #1 recorded: Daily minimum for workers: from ₹500 to ₹600. It opens for voting once 2 other members second it.
    rest-1   < {SECOND}
    rest-2   < {SECOND}
    worker-2 < {SECOND}
    worker-3 < {SECOND}
"""

SECONDED_AND_VOTED = f"""
    donor-1  > /propose
    donor-1  < Only members of the cooperative can do that. Send /join to become a member.
    worker-2 > [tap Second]
    worker-2 < You seconded proposal #1.
    rest-1   > [tap Second]
    rest-1   < You seconded proposal #1.
    rest-1   < {VOTE}
    rest-2   < {VOTE}
    worker-1 < {VOTE}
    worker-2 < {VOTE}
    worker-3 < {VOTE}
    worker-3 > [tap Second]
    worker-3 < That proposal is no longer waiting for seconds.
    worker-2 > [tap Yes]
    worker-2 < Your vote on proposal #1 counts: Yes. You can change it until 26 Nov 2026, 12:00 pm. Votes are recorded in the books by name.
    worker-3 > yes
    worker-3 < Your vote on proposal #1 counts: Yes.
    rest-2   > [tap No]
    rest-2   < Your vote on proposal #1 counts: No.
    rest-2   > [tap Abstain]
    rest-2   < Your vote on proposal #1 counts: Abstain. You can change it until 26 Nov 2026, 12:00 pm. It replaces your earlier vote.
    rest-2   > /proposals
    rest-2   < #1 Daily minimum for workers: ₹600 — open until 26 Nov 2026, 12:00 pm; your vote: Abstain
"""

PASSED = "Proposal #1 passed: Daily minimum for workers: ₹600. In force from 26 Nov 2026, 12:00 pm. Yes 2, no 0, abstain 1, of 5 members."
CLOSED = f"""
    rest-1   < {PASSED}
    rest-2   < {PASSED}
    worker-1 < {PASSED}
    worker-2 < {PASSED}
    worker-3 < {PASSED}
    worker-2 > [tap No]
    worker-2 < Voting on that proposal has closed.
    donor-1  > /rules
    donor-1  <* Daily minimum for workers: ₹600 (proposal #1)
    worker-3 > /proposals
    worker-3 < #1 Daily minimum for workers: ₹600 — passed: yes 2, no 0, abstain 1
"""


async def post_button(env: dict[str, Any], user: str, payload: str) -> None:
    """A button payload sent by hand, as a hostile client could (no such button was ever shown)."""
    response = await env["chat"].post(user, json={"button": payload})
    assert response.status_code == 202, response.text
    await env["runtime"].processor.drain()


async def test_a_worker_raises_the_daily_minimum_to_600_by_chat_and_the_next_topup_uses_it(app_db: Path, tmp_path: Path) -> None:
    async with running_app(app_db, tmp_path / "var", settings={"proposal_seconds": 2}) as env:
        chat, store = env["chat"], env["runtime"].store
        await chat.run(PROPOSED)
        await post_button(env, "worker-1", "second:1")  # the proposer has no Second button; sent by hand
        await chat.run("worker-1 < You cannot second your own proposal.")
        await chat.run(SECONDED_AND_VOTED)
        await post_button(env, "donor-1", "vote:1:yes")  # not a member: refused, not counted
        await chat.run("donor-1 < Only members of the cooperative can do that. Send /join to become a member.")
        env["clock"].advance(hours=72)
        assert await close_proposals(store) == {"passed": 1}
        assert await close_proposals(store) == {}  # the job again: nothing more
        await chat.run(CLOSED)
        async with store.reader() as uow:
            assert (await uow.params.current()).daily_minimum == 60_000
            assert [e.data["source"] for e in await chain_events(uow, "parameter.changed")][-1] == "proposal:1"
            votes = [(e.actor, e.data["choice"]) for e in await chain_events(uow, "proposal.vote")]
            assert [c for _a, c in votes] == ["yes", "yes", "no", "abstain"]  # by name, in the books

        # The same day a meal is delivered and settled; that night's top-up uses ₹600.
        await chat.run(MEAL)
        await settle_after_the_window(env)
        await chat.run(SETTLED)
        async with store.uow() as uow:  # money given to the guarantee pool
            await uow.ledger.record(transfer("deposit", "pool-gift", DEPOSITS, POOL, 100_000), "admin")
        paid = await end_of_day_topup(store, "2026-11-26")
        await chat.run("worker-1 < Your earnings for 26 Nov 2026 were topped up by ₹566 from the guarantee pool.")
        assert list(paid.values()) == [60_000 - 3_400]
        await assert_ledger_invariants(store)


async def test_a_proposal_that_misses_quorum_changes_nothing(app_db: Path, tmp_path: Path) -> None:
    settings = {"proposal_seconds": 1, "proposal_quorum_bp": 5_000}  # 3 of the 5 members must vote
    async with running_app(app_db, tmp_path / "var", settings=settings) as env:
        chat, store = env["chat"], env["runtime"].store
        await chat.run("""
            worker-1 > /propose
            worker-1 < Which rule should change?
            worker-1 > 3
            worker-1 < New value for Daily minimum for workers
            worker-1 > ₹600
            worker-1 < Why?
            worker-1 > Fuel
            worker-1 < Proposal #1 recorded: Daily minimum for workers: from ₹500 to ₹600. It opens for voting once 1 other
            rest-1   < Proposal #1 by Murugan [Second]
            rest-2   < Proposal #1 by Murugan [Second]
            worker-2 < Proposal #1 by Murugan [Second]
            worker-3 < Proposal #1 by Murugan [Second]
            worker-2 > [tap Second]
            worker-2 < You seconded proposal #1.
            rest-1   < Vote on proposal #1
            rest-2   < Vote on proposal #1
            worker-1 < Vote on proposal #1
            worker-2 < Vote on proposal #1
            worker-3 < Vote on proposal #1
            worker-2 > [tap Yes]
            worker-2 < Your vote on proposal #1 counts: Yes.
            worker-1 > 1
            worker-1 < Your vote on proposal #1 counts: Yes.
        """)
        env["clock"].advance(hours=72)
        assert await close_proposals(store) == {"rejected": 1}
        failed = ("Proposal #1 did not pass (too few members voted): Daily minimum for workers: ₹600. Nothing changes. "
                  "Yes 2, no 0, abstain 0, of 5 members.")  # fmt: skip
        await chat.run("\n".join(f"{u} < {failed}" for u in ("rest-1", "rest-2", "worker-1", "worker-2", "worker-3")))
        async with store.reader() as uow:
            assert (await uow.params.current()).daily_minimum == 50_000
            assert not await chain_events(uow, "proposal.executed")
        await chat.run("""
            worker-1 > /rules
            worker-1 <* Daily minimum for workers: ₹500
        """)
        box = await chat.fetch("worker-1")
        assert "(proposal #1)" not in box.seen[-1]["text"]
        await assert_ledger_invariants(store)


async def test_bad_values_are_refused_politely_and_the_member_tries_again(app_env: dict[str, Any]) -> None:
    await app_env["chat"].run("""
        worker-1 > /propose
        worker-1 < Which rule should change?
        worker-1 > 99
        worker-1 < Please reply with a number from the list, or /cancel.
        worker-1 > 3
        worker-1 < New value for Daily minimum for workers (now ₹500), in rupees:
        worker-1 > -600
        worker-1 < I could not read that value. Try again, or /cancel.
        worker-1 > 1e9
        worker-1 < I could not read that value.
        worker-1 > /cancel
        worker-1 < Stopped. Nothing was changed.
        worker-1 > /propose
        worker-1 < Which rule should change?
        worker-1 > 2
        worker-1 < in %, adding up to 100 (now 80% / 10% / 10%). For example: 75 15 10
        worker-1 > 80 20 10
        worker-1 < The three shares must add up to 100%. Try again, or /cancel.
        worker-1 > 90
        worker-1 < I could not read that value.
        worker-1 > 75 15 10
        worker-1 < Why?
        worker-1 > More for the pool in the rainy season
        worker-1 < Proposal #1 recorded: Fee shares (worker / pool / infra): from 80% / 10% / 10% to 75% / 15% / 10%.
        rest-1   < Proposal #1 by Murugan [Second]
        rest-2   < Proposal #1 by Murugan [Second]
        worker-2 < Proposal #1 by Murugan [Second]
        worker-3 < Proposal #1 by Murugan [Second]
        worker-2 > /propose
        worker-2 < Which rule should change?
        worker-2 > 2
        worker-2 < New shares
        worker-2 > 70 20 10
        worker-2 < Why?
        worker-2 > Even more
        worker-2 < There is already an open proposal on that rule. Vote on it first.
        worker-2 > /propose
        worker-2 < Which rule should change?
        worker-2 > 13
        worker-2 < New value for Voting period (now 72 hours), a whole number:
        worker-2 > 0
        worker-2 < That value is outside what the rules allow. Allowed: 1 hours to 720 hours. Try again, or /cancel.
        worker-2 > /cancel
        worker-2 < Stopped.
        worker-2 > [tap Second]
        worker-2 < You seconded proposal #1.
        rest-1   < Vote on proposal #1
        rest-2   < Vote on proposal #1
        worker-1 < Vote on proposal #1
        worker-2 < Vote on proposal #1
        worker-3 < Vote on proposal #1
    """)


async def test_donors_join_and_leave_and_a_text_decision_changes_no_rule(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    await chat.run("""
        donor-1  > /members
        donor-1  < Members: 5 (2 restaurants, 3 workers, 0 donors).
        donor-1  > /join
        donor-1  < Votes are recorded in the books by name. Membership fee: ₹0. Do you accept the rules? [I accept] [Not now]
        donor-1  > [tap I accept]
        donor-1  < Welcome, member #
        donor-1  > /join
        donor-1  < You are already a member.
        donor-1  > /members
        donor-1  < Members: 6 (2 restaurants, 3 workers, 1 donors).
        donor-1  > /propose
        donor-1  < Which rule should change?
        donor-1  > 0
        donor-1  < Write the decision in one message (up to 500 characters).
        donor-1  > Buy rain covers for the workers' bags
        donor-1  < Why?
        donor-1  > The monsoon is here
        donor-1  < Proposal #1 recorded: Decision: Buy rain covers for the workers' bags.
        rest-1   < Proposal #1 by Demo donor: Decision: Buy rain covers for the workers' bags. Reason: The monsoon is here. [Second]
        rest-2   < Proposal #1 by Demo donor [Second]
        worker-1 < Proposal #1 by Demo donor [Second]
        worker-2 < Proposal #1 by Demo donor [Second]
        worker-3 < Proposal #1 by Demo donor [Second]
        donor-1  > /leave
        donor-1  < You have left the cooperative. Send /join to join again.
        donor-1  > /leave
        donor-1  < Only members of the cooperative can do that.
    """)
    async with app_env["runtime"].store.reader() as uow:
        [made] = await chain_events(uow, "proposal.made")
        assert made.data["changes"] == {} and made.data["reason_commit"].startswith("sha256:")  # the words stay off the chain
        assert "rain" not in str(made.data)


async def test_forged_buttons_and_overlong_words_get_a_polite_answer(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    for payload in ("vote:1:yes", "vote:abc:yes", "vote:1:maybe", "vote:99999999999:no", "second:1", "second:-1", "join:maybe"):
        await post_button(app_env, "worker-1", payload)
    await chat.run("""
        worker-1 < There is no such proposal.
        worker-1 < That button is no longer active.
        worker-1 < That button is no longer active.
        worker-1 < That button is no longer active.
        worker-1 < There is no such proposal.
        worker-1 < That button is no longer active.
        worker-1 < Nothing was changed.
        worker-1 > /propose
        worker-1 < Which rule should change?
        worker-1 > 0
        worker-1 < Write the decision in one message (up to 500 characters).
        worker-1 > [photo]
        worker-1 < Please write between 1 and 500 characters.
    """)
    await chat.send("worker-1", "x" * 501)
    await chat.run("""
        worker-1 < Please write between 1 and 500 characters.
        worker-1 > Paint the kitchen doors
        worker-1 < Why?
    """)
    await chat.send("worker-1", "y" * 501)
    await chat.run("worker-1 < Please write between 1 and 500 characters.")
    async with app_env["runtime"].store.reader() as uow:
        assert await uow.governance.recent() == []  # nothing was proposed

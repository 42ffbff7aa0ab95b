"""A rating's optional comment on SMS and Telegram, through the real SDKs against the local fakes:
on SMS the Skip option is a number (typing it skips; the stars' numbers are no comment) and a typed comment is stored; on Telegram
Skip is an inline button. The rated restaurant sees the words on its /ratings."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.channel_chat import channel_app, users_on
from tests.helpers import Coop, assert_ledger_invariants
from tests.test_governance_channels import both_fakes
from tests.test_topup import deliver_meal

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:telegram.warnings.PTBDeprecationWarning")

CAST = {"donor-1": "sms", "worker-1": "telegram", "*": "webchat"}


async def test_a_comment_typed_on_sms_and_skip_by_number_and_by_telegram_button(app_db: Path, tmp_path: Path) -> None:
    users = users_on(CAST)
    with both_fakes() as (telegram, twilio):
        async with channel_app(app_db, tmp_path / "var", users, telegram=telegram, twilio=twilio) as env:
            chat, store = env["chat"], env["runtime"].store
            async with store.uow() as uow:
                donor = await uow.people.find("sms", users["donor-1"].address)
                admin = await uow.people.find("webchat", "admin")
                worker = await uow.workers.by_person((await uow.people.find("telegram", users["worker-1"].address)).id)
                kitchen = await uow.restaurants.by_person((await uow.people.find("webchat", "rest-1")).id)
            assert donor and admin and worker and kitchen
            await deliver_meal(store, Coop(admin, donor, [kitchen], [worker]), worker)  # settled
            env["clock"].advance(minutes=30)  # as deliver_meal's settlement did: its messages are due now
            await chat.settle()
            for name in users:
                (await chat.fetch(name)).unread.clear()  # the meal's own messages (other tests check them)
            await chat.run("""
                donor-1  > rate 1
                donor-1  < Order #1: how was the meal?
                donor-1  > [tap 2/5]
                donor-1  < Thank you: 2/5 for the meal of order #1.
                donor-1  < Add a comment (up to 280 characters) for the person rated and the admins, or skip.
                donor-1  > Rice was cold
                donor-1  < Comment saved for rating #1.
                donor-1  < Order #1: how was the delivery?
                donor-1  > [tap 5/5]
                donor-1  < Thank you: 5/5 for the delivery of order #1.
                donor-1  < Add a comment [Skip]
                donor-1  > [tap Skip]
                donor-1  < No comment, then.
                worker-1 > /rate 1
                worker-1 < Order #1: how was the pickup?
                worker-1 > [tap 4/5]
                worker-1 < Thank you: 4/5 for the pickup of order #1.
                worker-1 < Add a comment [Skip]
                worker-1 > [tap Skip]
                worker-1 < No comment, then.
                rest-1   > /ratings
                rest-1   < Your ratings: 3.0/5 from 2 ratings.
            """)
            async with store.reader() as uow:
                assert [(r.stars, r.comment) for r in await uow.ratings.about("restaurant", kitchen.id)] == [
                    (2, "Rice was cold"), (4, "")]
            await assert_ledger_invariants(store)

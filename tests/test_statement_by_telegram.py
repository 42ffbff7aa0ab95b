"""A treasurer sends the bank statement to the bot as a document (real python-telegram-bot SDK
against the local fake Bot API): it is imported like `ketpaar deposits import`; from anyone else
it is refused and changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from bot.outbox_sender import OutboxSender
from bot.telegram import TelegramChannel
from core.ledger.model import donor_account
from core.payments import topups
from tests.conftest import running_app
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.test_telegram import SECRET, message_update, post, settle
from webhooks.telegram_routes import telegram_router

pytestmark = pytest.mark.filterwarnings(
    "ignore:Deprecated since version v22.2:telegram.warnings.PTBDeprecationWarning"
)
TREASURER, STRANGER = 7101, 7102


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
async def tg(fake: FakeTelegram, app_db: Path, tmp_path: Path) -> AsyncIterator[SimpleNamespace]:
    """The app with a Telegram treasurer (in KETPAAR_ADMINS), its webhook route and outbox sender."""
    async with running_app(app_db, tmp_path / "var", settings={"admins": f"webchat:admin,telegram:{TREASURER}"}) as env:
        runtime: Any = env["runtime"]
        channel = TelegramChannel(TOKEN, secret_token=SECRET, api_base=fake.url, photos=runtime.services.photos)
        await channel.start()
        rt = SimpleNamespace(store=runtime.store, processor=runtime.processor, telegram=channel)
        app = FastAPI()
        app.include_router(telegram_router(lambda request: rt))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            yield SimpleNamespace(client=client, runtime=runtime, fake=fake, sender=OutboxSender(runtime.store, {"telegram": channel}))
        await channel.close()


def document(file_id: str, name: str = "statement.csv", mime: str = "text/csv") -> dict[str, Any]:
    return {"document": {"file_id": file_id, "file_unique_id": file_id, "file_name": name, "mime_type": mime}}


async def test_a_treasurer_sends_the_statement_and_a_stranger_cannot(tg: SimpleNamespace) -> None:
    store = tg.runtime.store
    async with store.uow() as uow:
        donor = await uow.people.find("webchat", "donor-1")
        assert donor is not None
        reference = (await topups.request_topup(uow, donor, 25_000)).reference
        before = await uow.ledger.balance(donor_account(donor.id))
    csv = f"date,amount,reference,txn_id\n2026-11-23,250.00,UPI/{reference},TG0001\n2026-11-23,99,no ref,TG0002\n"
    tg.fake.add_file("stmt", csv.encode())
    assert (await post(tg, message_update(31, None, user=STRANGER, **document("stmt")))).status_code == 200
    await settle(tg)
    async with store.reader() as uow:
        assert await uow.ledger.balance(donor_account(donor.id)) == before
        assert await uow.payments.statement_row("TG0001") is None
    assert (await post(tg, message_update(32, None, user=TREASURER, **document("stmt")))).status_code == 200
    assert (await post(tg, message_update(33, None, user=TREASURER, **document("stmt")))).status_code == 200  # sent twice
    await settle(tg)
    async with store.reader() as uow:
        assert await uow.ledger.balance(donor_account(donor.id)) == before + 25_000
        unmatched = await uow.payments.unmatched_rows()
        assert [r.txn_id for r in unmatched if r.txn_id == "TG0002"] == ["TG0002"]
    texts = {int(c.params["chat_id"]): c.params["text"] for c in tg.fake.of("sendMessage")}
    replies = [c.params["text"] for c in tg.fake.of("sendMessage") if int(c.params["chat_id"]) == TREASURER]
    assert "TG0002" in replies[0] and "TG0002" not in replies[1]  # the second import found nothing new
    assert STRANGER in texts and "TG0001" not in texts[STRANGER]
    # Something that is not a statement is refused politely.
    tg.fake.add_file("junk", b"\x00\x01 not a csv")
    assert (await post(tg, message_update(34, None, user=TREASURER, **document("junk", "notes.csv")))).status_code == 200
    await settle(tg)
    assert len([c for c in tg.fake.of("sendMessage") if int(c.params["chat_id"]) == TREASURER]) == 3

"""Twilio WhatsApp and SMS: real SDK and real signatures against a local fake of the REST API."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from bot.sms import SmsChannel, parse_sms_location, render_sms
from bot.twilio_common import InboundWindow, TwilioConfig, media_link
from bot.whatsapp import WhatsAppChannel, whatsapp_payload
from core.adapters.sql.schema import inbox
from core.members.registration import apply_restaurant
from flows.messages import Choice, Outbound, Poll
from tests.chat import make_photo
from tests.conftest import running_app
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from webhooks.twilio_routes import twilio_router

PUBLIC_URL = "https://ketpaar.example"
WA_FROM, SMS_FROM = "whatsapp:+14155238886", "+15005550006"
ACCEPT_REJECT = (Choice("Accept", "accept:7"), Choice("Reject", "reject:7"))


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeTwilio]:
    server = FakeTwilio().start()
    yield server
    server.stop()


@pytest.fixture
def fake(fake_server: FakeTwilio) -> FakeTwilio:
    fake_server.reset()
    return fake_server


@pytest.fixture
def config(fake: FakeTwilio, tmp_path: Path) -> TwilioConfig:
    return TwilioConfig(ACCOUNT_SID, AUTH_TOKEN, api_base=fake.base_url, whatsapp_from=WA_FROM, sms_from=SMS_FROM,
                        public_url=PUBLIC_URL, data_dir=tmp_path / "twilio")  # fmt: skip


@dataclass
class Env:
    """The whole app running in-process, plus a Twilio-facing app and channels."""

    runtime: Any
    chat: Any
    client: httpx.AsyncClient  # posts to the Twilio routes as Twilio would
    window: InboundWindow
    sms: SmsChannel
    whatsapp: WhatsAppChannel
    fake: FakeTwilio

    async def post(self, path: str, form: dict[str, str], *, signature: str | None = None) -> httpx.Response:
        """POST a form with a real Twilio signature (or the one given)."""
        if signature is None:
            signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_URL + path, form)
        response = await self.client.post(path, data=form, headers={"X-Twilio-Signature": signature})
        await self.runtime.processor.drain()
        return response

    async def whatsapp_in(self, address: str, **fields: str) -> tuple[str, httpx.Response]:
        sid = "SM" + uuid.uuid4().hex
        form = {"MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": address, "To": WA_FROM, "NumMedia": "0", **fields}
        return sid, await self.post("/webhooks/twilio/whatsapp", form)

    async def sms_in(self, address: str, body: str) -> tuple[str, httpx.Response]:
        sid = "SM" + uuid.uuid4().hex
        form = {"MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": address, "To": SMS_FROM, "Body": body}
        return sid, await self.post("/webhooks/twilio/sms", form)

    async def stored(self, channel: str, sid: str) -> list[dict[str, Any]]:
        """The inbox payloads stored for one provider id."""
        async with self.runtime.store.reader() as uow:
            q = select(inbox.c.payload).where(inbox.c.channel == channel, inbox.c.provider_id == sid)
            return [json.loads(p) for (p,) in await uow.conn.execute(q)]

    async def outbox(self, channel: str, address: str) -> list[dict[str, Any]]:
        async with self.runtime.store.reader() as uow:
            return [p for _, p in await uow.outbox.for_recipient(channel, address, 0)]

    async def pump(self, channel: str, address: str, after: int = 0) -> int:
        """Send the recipient's outbox rows after a cursor through the channel (the lead's outbox
        sender will do this in the app); return the new cursor."""
        sender = self.sms if channel == "sms" else self.whatsapp
        async with self.runtime.store.reader() as uow:
            rows = await uow.outbox.for_recipient(channel, address, after)
        for outbox_id, payload in rows:
            result = await sender.send(address, Outbound.from_payload(payload), outbox_id=outbox_id)
            assert result.ok, result
            after = outbox_id
        return after


@pytest.fixture
async def env(app_db: Path, tmp_path: Path, config: TwilioConfig, fake: FakeTwilio) -> AsyncIterator[Env]:
    async with running_app(app_db, tmp_path / "var") as app_env:
        runtime: Any = app_env["runtime"]
        window = InboundWindow(now=runtime.store.clock.now)
        app = FastAPI()
        app.include_router(twilio_router(lambda request: runtime, config, window=window))
        sms = SmsChannel(config)
        whatsapp = WhatsAppChannel(config, secret=runtime.secret, last_inbound_at=window, sms=sms,
                                   now=runtime.store.clock.now)  # fmt: skip
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            yield Env(runtime, app_env["chat"], client, window, sms, whatsapp, fake)


# --- inbound: signatures, deduplication, the neutral payload ------------------------------------


async def test_a_signed_whatsapp_message_is_stored_answered_and_acknowledged_with_empty_twiml(env: Env) -> None:
    sid, response = await env.whatsapp_in("whatsapp:+919800000001", Body="/start", ProfileName="Selvi")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert response.text.endswith("<Response/>")
    assert await env.stored("whatsapp", sid) == [{"kind": "text", "text": "/start", "display_name": "Selvi"}]
    assert await env.outbox("whatsapp", "whatsapp:+919800000001"), "the flows answered"


async def test_forged_or_missing_signatures_are_refused_and_nothing_is_stored(env: Env) -> None:
    form = {"MessageSid": "SMforged", "From": "+919800000002", "Body": "hello"}
    good = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_URL + "/webhooks/twilio/sms", form)
    assert (await env.post("/webhooks/twilio/sms", form, signature="AAAA" + good[4:])).status_code == 403
    assert (await env.post("/webhooks/twilio/sms", {**form, "Body": "changed"}, signature=good)).status_code == 403
    other_url = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_URL + "/webhooks/twilio/whatsapp", form)
    assert (await env.post("/webhooks/twilio/sms", form, signature=other_url)).status_code == 403
    assert (await env.client.post("/webhooks/twilio/sms", data=form)).status_code == 403  # no header at all
    assert await env.stored("sms", "SMforged") == []
    assert (await env.post("/webhooks/twilio/sms", form, signature=good)).status_code == 200


async def test_a_redelivered_message_sid_is_acknowledged_but_processed_once(env: Env) -> None:
    address = "whatsapp:+919800000003"
    form = {"MessageSid": "SMredelivered", "From": address, "Body": "/start", "NumMedia": "0"}
    assert (await env.post("/webhooks/twilio/whatsapp", form)).status_code == 200
    replies = len(await env.outbox("whatsapp", address))
    assert (await env.post("/webhooks/twilio/whatsapp", form)).status_code == 200
    assert len(await env.stored("whatsapp", "SMredelivered")) == 1
    assert len(await env.outbox("whatsapp", address)) == replies


async def test_quick_reply_and_list_picker_answers_arrive_as_choices(env: Env) -> None:
    address = "whatsapp:+919800000004"
    sid, _ = await env.whatsapp_in(address, Body="Accept", ButtonText="Accept", ButtonPayload="accept:7")
    assert (await env.stored("whatsapp", sid))[0] == {"kind": "choice", "choice": "accept:7"}
    sid, _ = await env.whatsapp_in(address, Body="Veg biryani", ListId="meal:7:2", ListTitle="Veg biryani")
    assert (await env.stored("whatsapp", sid))[0] == {"kind": "choice", "choice": "meal:7:2"}


async def test_a_shared_whatsapp_location_arrives_as_a_location(env: Env) -> None:
    sid, _ = await env.whatsapp_in("whatsapp:+919800000005", Latitude="13.0827", Longitude="80.2707", Body="")
    assert (await env.stored("whatsapp", sid))[0] == {"kind": "location", "lat": 13.0827, "lng": 80.2707}


async def test_a_whatsapp_photo_is_fetched_with_basic_auth_and_reaches_the_donor_flow(env: Env) -> None:
    address = "whatsapp:+919800000006"
    url = env.fake.add_media(make_photo())
    sid, response = await env.whatsapp_in(address, NumMedia="1", MediaUrl0=url, MediaContentType0="image/jpeg")
    assert response.status_code == 200
    assert [(c.auth, c.status) for c in env.fake.media_fetches] == [((ACCOUNT_SID, AUTH_TOKEN), 200)]
    assert (await env.stored("whatsapp", sid))[0]["kind"] == "photo"
    assert "agree to be photographed" in (await env.outbox("whatsapp", address))[-1]["text"]  # consent comes first


async def test_media_on_a_foreign_host_is_not_fetched_with_our_credentials(env: Env) -> None:
    sid, _ = await env.whatsapp_in("whatsapp:+919800000007", NumMedia="1", MediaUrl0="https://evil.example/p.jpg",
                                   MediaContentType0="image/jpeg", Body="")  # fmt: skip
    assert env.fake.media_fetches == []
    stored = (await env.stored("whatsapp", sid))[0]
    assert stored["kind"] == "text" and "not a Twilio media URL" in stored["media_error"]


async def test_sms_coordinates_and_map_links_become_locations_and_other_text_stays_text(env: Env) -> None:
    sent = {
        "13.0827, 80.2707": (13.0827, 80.2707),
        "13.0827 80.2707": (13.0827, 80.2707),
        "https://www.google.com/maps?q=13.0827,80.2707": (13.0827, 80.2707),
        "https://www.google.com/maps/@13.0827,80.2707,17z": (13.0827, 80.2707),
        "https://www.openstreetmap.org/?mlat=13.0827&mlon=80.2707#map=17/13.0827/80.2707": (13.0827, 80.2707),
    }
    for body, (lat, lng) in sent.items():
        sid, _ = await env.sms_in("+919800000008", body)
        assert (await env.stored("sms", sid))[0] == {"kind": "location", "lat": lat, "lng": lng}, body
    sid, _ = await env.sms_in("+919800000008", "abc")
    assert (await env.stored("sms", sid))[0] == {"kind": "text", "text": "abc"}


def test_sms_location_parsing_accepts_common_forms_and_refuses_the_rest() -> None:
    assert parse_sms_location("13.0827,80.2707") == (13.0827, 80.2707)
    assert parse_sms_location(" 13.0827 , 80.2707 ") == (13.0827, 80.2707)
    assert parse_sms_location("13.0827° N, 80.2707° E") == (13.0827, 80.2707)
    shared = "I am here https://maps.google.com/?q=13.0827%2C80.2707 near the temple"
    assert parse_sms_location(shared) == (13.0827, 80.2707)
    assert parse_sms_location("https://www.google.com/maps/place/13.0827,80.2707") == (13.0827, 80.2707)
    assert parse_sms_location("https://www.openstreetmap.org/?mlon=80.2707&mlat=13.0827") == (13.0827, 80.2707)
    for text in ("1", "2", "abc", "1 2", "99.5, 80.1", "13.08, 200.5", "₹1,00,000", "12.5"):
        assert parse_sms_location(text) is None, text


def test_whatsapp_payload_prefers_buttons_then_location_then_photo_then_text() -> None:
    assert whatsapp_payload({"Body": "hi", "NumMedia": "0"}) == {"kind": "text", "text": "hi"}
    assert whatsapp_payload({"NumMedia": "1", "MediaUrl0": "u", "MediaContentType0": "audio/ogg"})["kind"] == "text"
    assert whatsapp_payload({"NumMedia": "1", "MediaUrl0": "u", "MediaContentType0": "image/png"})["kind"] == "photo"


# --- outbound: rendering by capability ------------------------------------------------------------


async def test_two_choices_become_a_quick_reply_content_created_once(env: Env, config: TwilioConfig) -> None:
    address = "whatsapp:+919800000010"
    env.window.note(address)
    result = await env.whatsapp.send(address, Outbound("New order #7: Curd rice", ACCEPT_REJECT), outbox_id=1)
    assert result.ok and result.provider_message_id
    [content] = env.fake.contents
    assert content.json["types"] == {"twilio/quick-reply": {"body": "{{1}}", "actions": [
        {"title": "{{2}}", "id": "{{3}}"}, {"title": "{{4}}", "id": "{{5}}"}]}}  # fmt: skip
    [message] = env.fake.messages
    assert message.one("To") == address and message.one("From") == WA_FROM and message.one("Body") is None
    content_sid = message.one("ContentSid")
    assert content_sid and content_sid.startswith("HX")
    assert json.loads(message.one("ContentVariables") or "") == {
        "1": "New order #7: Curd rice", "2": "Accept", "3": "accept:7", "4": "Reject", "5": "reject:7"}  # fmt: skip
    another = (Choice("Accept", "accept:8"), Choice("Reject", "reject:8"))
    await env.whatsapp.send(address, Outbound("New order #8", another), outbox_id=2)
    restarted = WhatsAppChannel(config, secret=b"k", last_inbound_at=env.window, now=env.runtime.store.clock.now)
    await restarted.send(address, Outbound("New order #9", ACCEPT_REJECT), outbox_id=3)
    assert len(env.fake.contents) == 1, "the layout's content sid is cached in memory and on disk"
    assert {m.one("ContentSid") for m in env.fake.messages} == {content_sid}


async def test_five_choices_become_a_list_picker(env: Env) -> None:
    address = "whatsapp:+919800000011"
    env.window.note(address)
    choices = tuple(Choice(f"Veg biryani ₹80 · Saravana Kitchen ({i}.2 km)", f"meal:3:{i}") for i in range(5))
    assert (await env.whatsapp.send(address, Outbound("Meals near this person — choose one:", choices), outbox_id=1)).ok
    [content] = env.fake.contents
    picker = content.json["types"]["twilio/list-picker"]
    assert len(picker["items"]) == 5 and picker["button"] == "{{2}}"
    variables = json.loads(env.fake.messages[0].one("ContentVariables") or "")
    assert variables["1"] == "Meals near this person — choose one:"
    assert [variables[str(3 + 3 * i + 1)] for i in range(5)] == [f"meal:3:{i}" for i in range(5)]
    assert all(len(variables[str(3 + 3 * i)]) <= 24 for i in range(5))  # row titles fit WhatsApp's limit


async def test_twelve_choices_become_numbered_text(env: Env) -> None:
    address = "whatsapp:+919800000012"
    env.window.note(address)
    choices = tuple(Choice(f"Job {i}", f"claim:{i}") for i in range(1, 13))
    assert (await env.whatsapp.send(address, Outbound("Open jobs:", choices), outbox_id=1)).ok
    assert env.fake.contents == []
    body = env.fake.messages[0].one("Body") or ""
    assert body.startswith("Open jobs:\n1 Job 1\n2 Job 2") and "\n12 Job 12\n" in body


async def test_a_photo_goes_as_a_signed_media_link_the_app_serves(env: Env) -> None:
    address = "whatsapp:+919800000013"
    env.window.note(address)
    photo_id = await env.runtime.services.photos.put(make_photo())
    async with env.runtime.store.uow() as uow:
        await uow.photos.add(photo_id, "delivery", 1, "image/jpeg")
    await env.whatsapp.send(address, Outbound("Order #7 was delivered", photo_id=photo_id), outbox_id=1)
    [message] = env.fake.messages
    url = message.form["MediaUrl"][0]
    assert url.startswith(f"{PUBLIC_URL}/media/{photo_id}?exp=") and message.one("Body") == "Order #7 was delivered"
    served = await env.client.get(url)
    assert served.status_code == 200 and served.content[:2] == b"\xff\xd8"
    assert (await env.client.get(url.replace("sig=", "sig=0"))).status_code == 403
    assert (await env.client.get(media_link(env.runtime.secret, PUBLIC_URL, "missing"))).status_code == 404


async def test_outside_the_24_hour_window_the_message_goes_by_sms(env: Env) -> None:
    address = "whatsapp:+919800000014"
    env.window.note(address)
    env.runtime.store.clock.advance(hours=25)
    result = await env.whatsapp.send(address, Outbound("New order #7: Curd rice (₹60)", ACCEPT_REJECT), outbox_id=1)
    assert result.ok and result.error == "outside 24h window, sent by SMS"
    [sms] = env.fake.messages
    assert sms.one("To") == "+919800000014" and sms.one("From") == SMS_FROM
    assert sms.one("Body") == "New order #7: Curd rice (Rs.60)\nReply 1 for Accept, 2 for Reject."


async def test_outside_the_window_a_template_is_used_or_the_message_waits(env: Env, config: TwilioConfig) -> None:
    address = "whatsapp:+919800000015"  # never wrote: no window at all
    with_template = replace(config, whatsapp_template_sid="HXtemplate")
    templated = WhatsAppChannel(with_template, secret=b"k", last_inbound_at=env.window)
    assert (await templated.send(address, Outbound("Order #7 is ready", ACCEPT_REJECT), outbox_id=1)).ok
    [message] = env.fake.messages
    assert message.one("ContentSid") == "HXtemplate"
    variables = json.loads(message.one("ContentVariables") or "")
    assert variables == {"1": "Order #7 is ready · Reply 1 for Accept, 2 for Reject."}  # one line
    waiting = WhatsAppChannel(replace(config, fallback_to_sms=False), secret=b"k", last_inbound_at=env.window)
    result = await waiting.send(address, Outbound("Order #7 is ready"), outbox_id=2)
    assert not result.ok and result.permanent_error is None and result.error and result.retry_after is None
    assert len(env.fake.messages) == 1, "nothing sent: the message waits in the outbox to be retried"


async def test_twilio_errors_map_to_give_up_or_retry(env: Env) -> None:
    cases = [(400, 21211, "permanent"), (400, 21610, "permanent"), (429, 20429, "retry"), (503, 20500, "retry"),
             (401, 20003, "retry")]  # fmt: skip
    for status, code, expected in cases:
        env.fake.fail_next(status, code)
        result = await env.sms.send("+919800000016", Outbound("hello"), outbox_id=1)
        assert not result.ok
        assert (result.permanent_error is not None) == (expected == "permanent"), (code, result)
        assert (result.error is not None) == (expected == "retry"), (code, result)
    assert (await env.sms.send("+919800000016", Outbound("hello"), outbox_id=1)).ok


async def test_twilio_saying_the_window_closed_falls_back_to_sms(env: Env) -> None:
    address = "whatsapp:+919800000017"
    env.window.note(address)
    env.fake.fail_next(400, 63016, "Failed to send freeform message because you are outside the allowed window.")
    result = await env.whatsapp.send(address, Outbound("Order #7 was picked up"), outbox_id=1)
    assert result.ok and result.error == "outside 24h window, sent by SMS"
    assert [m.one("To") for m in env.fake.messages] == ["+919800000017"]


async def test_unreachable_twilio_is_retried_not_raised(config: TwilioConfig) -> None:
    down = SmsChannel(replace(config, api_base="http://127.0.0.1:9"))
    result = await down.send("+919800000018", Outbound("hello"), outbox_id=1)
    assert not result.ok and result.error and result.permanent_error is None


def test_sms_rendering_numbers_the_options_in_english_and_tamil_and_drops_photos() -> None:
    message = Outbound("New order #7", ACCEPT_REJECT, photo_id="p1")
    assert render_sms(message, "en") == "New order #7\nReply 1 for Accept, 2 for Reject.\n(Photo not available by SMS.)"
    tamil = Outbound("புதிய ஆர்டர் #7", (Choice("ஏற்க", "accept:7"), Choice("நிராகரி", "reject:7")))
    text, options = render_sms(tamil, "ta").split("\n")  # wording comes from the ta catalog
    assert text == "புதிய ஆர்டர் #7" and "Reply" not in options
    assert options.index("1") < options.index("ஏற்க") < options.index("2") < options.index("நிராகரி")
    meals = Outbound("Meals:", tuple(Choice(f"Veg biryani ₹80 · Kitchen {i}", f"meal:{i}") for i in range(4)))
    assert render_sms(meals, "en").splitlines() == [
        "Meals:", "1 Veg biryani Rs.80 - Kitchen 0", "2 Veg biryani Rs.80 - Kitchen 1",
        "3 Veg biryani Rs.80 - Kitchen 2", "4 Veg biryani Rs.80 - Kitchen 3", "Reply with a number.",
    ]  # fmt: skip
    poll = Outbound("Proposal 3", poll=Poll("Raise the delivery fee?", ("Yes", "No"), "proposal:3"))
    assert render_sms(poll, "en") == "Proposal 3\nRaise the delivery fee?\nReply 1 for Yes, 2 for No."


# --- a restaurant that only has SMS ------------------------------------------------------------------


async def test_a_restaurant_on_sms_receives_an_order_and_accepts_it_by_replying_1(env: Env) -> None:
    phone = "+919840012345"
    async with env.runtime.store.uow() as uow:
        owner = await uow.people.get_or_create("sms", phone)
        await uow.people.set_name(owner.id, "Murugan Idli Kadai")
        await uow.people.set_flags(owner.id, is_member=True)
        await apply_restaurant(uow, owner, name="Murugan Idli Kadai", lat=13.0828, lng=80.2708, address="3 Mint Street",
                               menu=(("Pongal", 4_500),), daily_capacity=10, approved=True)  # fmt: skip
    await env.chat.run("""
        donor-1 > [photo]
        donor-1 < Did the person agree to be photographed [Yes, they agreed] [No]
        donor-1 > [press consent:yes]
        donor-1 < Thank you. Now share the location where the person is
        donor-1 > [location 13.0827, 80.2707]
        donor-1 < What is the place like right now? [Busy and well lit]
        donor-1 > [press scene:busy_lit]
        donor-1 < Meals near this person — choose one: [Pongal ₹45 · Murugan Idli Kadai] [Curd rice]
        donor-1 > [tap Pongal]
        donor-1 < Would you like to add a tip for the delivery worker? [No tip]
        donor-1 > [tap No tip]
        donor-1 < Meal ₹45 + delivery ₹30 + tip ₹0 = ₹75 [Pay ₹75] [Cancel]
        donor-1 > [tap Pay]
        donor-1 < Paid ₹75. Order #1 for Pongal is with Murugan Idli Kadai. I will tell you when it is accepted. [Cancel order]
    """)
    cursor = await env.pump("sms", phone)
    [order] = env.fake.messages
    assert order.one("To") == phone and order.one("From") == SMS_FROM
    body = order.one("Body") or ""
    assert body.startswith("New order #1: Pongal (Rs.45)") and body.endswith("\nReply 1 for Accept, 2 for Reject.")
    _, response = await env.sms_in(phone, "1")
    assert response.status_code == 200
    await env.pump("sms", phone, cursor)
    assert "Accepted order #1" in (env.fake.messages[-1].one("Body") or "")
    await env.chat.run("""
        donor-1  < Murugan Idli Kadai accepted order #1 and is cooking. Now finding a delivery worker.
        worker-1 < New job #1: pick up at Murugan Idli Kadai (3 Mint Street) [Claim]
        worker-2 < New job #1: pick up at Murugan Idli Kadai [Claim]
        worker-3 < New job #1: pick up at Murugan Idli Kadai [Claim]
    """)


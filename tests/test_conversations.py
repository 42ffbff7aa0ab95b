"""Conversation paths beyond the happy meal: rejections, cancels, registration, bad input, restarts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.ports import UnitOfWork
from core.seekers.screening import ScreeningRequest, ScreeningResult
from tests.chat import make_photo
from tests.conftest import running_app
from tests.helpers import assert_ledger_invariants, chain_events

ORDER_CURD_RICE = """
    donor-1 > [photo]
    donor-1 < Did the person agree to be photographed so they can receive a meal? [Yes, they agreed] [No]
    donor-1 > [press consent:yes]
    donor-1 < Thank you. Now share the location where the person is
    donor-1 > [location 13.0827, 80.2707]
    donor-1 < What is the place like right now? [Busy and well lit]
    donor-1 > [press scene:busy_lit]
    donor-1 < Meals near this person [Curd rice]
    donor-1 > [tap Curd rice]
    donor-1 < Would you like to add a tip for the delivery worker? [No tip] [Tip ₹10] [Tip ₹20]
    donor-1 > [tap No tip]
    donor-1 < Meal ₹60 + delivery ₹30 + tip ₹0 = ₹90 [Pay ₹90] [Cancel]
    donor-1 > [tap Pay]
    donor-1 < Paid ₹90. Order #1 for Curd rice is with Annapoorna Mess. I will tell you when it is accepted. [Cancel order]
    rest-1  < New order #1: Curd rice (₹60) for a person near 13.08, 80.27. Can you cook it? [Accept] [Reject]
"""


async def balance_of(env: dict[str, Any], account_of: str, address: str) -> int:
    """The ledger balance of a demo user's donor/restaurant account."""
    async with env["runtime"].store.reader() as uow:
        person = await uow.people.find("webchat", address)
        if account_of == "restaurant":
            r = await uow.restaurants.by_person(person.id)
            return int(await uow.ledger.balance(f"restaurant:{r.id}"))
        return int(await uow.ledger.balance(f"donor:{person.id}"))


async def test_a_rejected_order_goes_to_the_next_restaurant_with_the_difference_refunded(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    await chat.run(ORDER_CURD_RICE + """
        rest-1  > [tap Reject]
        rest-1  < Rejected order #1. It has been passed on. Thank you for answering quickly.
        rest-2  < New order #1: Idli and sambar (4) (₹50) for a person near 13.08, 80.27. [Accept] [Reject]
        donor-1 < could not cook order #1, so Saravana Kitchen will make Idli and sambar (4). ₹10 of the difference is back in your balance.
        rest-2  > [tap Accept]
        rest-2  < Accepted order #1: Idli and sambar (4). A delivery worker will come for it. [Ready]
        donor-1 < Saravana Kitchen accepted order #1 and is cooking. Now finding a delivery worker.
        worker-1 < New job #1: pick up at Saravana Kitchen (4 Poonamallee High Road, Periamet), drop near 13.08, 80.27. Pay ₹24. [Claim]
        worker-2 < New job #1: pick up at Saravana Kitchen [Claim]
        worker-3 < New job #1: pick up at Saravana Kitchen [Claim]
    """)
    assert await balance_of(app_env, "donor", "donor-1") == 100_000 - 9_000 + 1_000
    await assert_ledger_invariants(app_env["runtime"].store)


async def test_when_every_restaurant_rejects_the_donor_is_refunded_in_full(app_env: dict[str, Any]) -> None:
    await app_env["chat"].run(ORDER_CURD_RICE + """
        rest-1  > [tap Reject]
        rest-1  < Rejected order #1. It has been passed on.
        rest-2  < New order #1: Idli and sambar (4) (₹50) [Accept] [Reject]
        donor-1 < could not cook order #1, so Saravana Kitchen will make Idli and sambar (4). ₹10 of the difference is back in your balance.
        rest-2  > no
        rest-2  < Rejected order #1. It has been passed on.
        donor-1 < Sorry, no restaurant nearby could cook order #1. ₹80 is back in your balance.
    """)
    assert await balance_of(app_env, "donor", "donor-1") == 100_000
    await assert_ledger_invariants(app_env["runtime"].store)


async def test_cancel_before_pickup_refunds_and_tells_the_restaurant(app_env: dict[str, Any]) -> None:
    await app_env["chat"].run(ORDER_CURD_RICE + """
        rest-1  > 1
        rest-1  < Accepted order #1: Curd rice. [Ready]
        donor-1 < Annapoorna Mess accepted order #1 and is cooking.
        worker-1 < New job #1: pick up at Annapoorna Mess (12 Wall Tax Road, Park Town), drop near 13.08, 80.27. Pay ₹24. [Claim]
        worker-2 < New job #1: pick up at Annapoorna Mess [Claim]
        worker-3 < New job #1: pick up at Annapoorna Mess [Claim]
        donor-1 > /cancel
        donor-1 < Order #1 cancelled. ₹90 is back in your balance.
        rest-1  < Order #1 was cancelled by the donor. No need to continue with it.
        worker-1 > /jobs
        worker-1 < No open jobs near you right now. New ones will arrive here while you are online.
        rest-1  > [tap Ready]
        rest-1  < Order #1 was cancelled by the donor.
    """)
    assert await balance_of(app_env, "donor", "donor-1") == 100_000
    await assert_ledger_invariants(app_env["runtime"].store)


async def test_cancel_after_pickup_is_refused_politely(app_env: dict[str, Any]) -> None:
    await app_env["chat"].run(ORDER_CURD_RICE + """
        rest-1   > [tap Accept]
        rest-1   < Accepted order #1: Curd rice. [Ready]
        donor-1  < Annapoorna Mess accepted order #1 and is cooking.
        worker-1 < New job #1: pick up at Annapoorna Mess [Claim]
        worker-2 < New job #1: pick up at Annapoorna Mess [Claim]
        worker-3 < New job #1: pick up at Annapoorna Mess [Claim]
        worker-2 > /jobs
        worker-2 < Job #1: pick up at Annapoorna Mess (12 Wall Tax Road, Park Town), drop near 13.08, 80.27, 199 m. Pay ₹24. [Claim]
        worker-2 > [tap Claim]
        worker-2 < Job #1 is yours. Pick up Curd rice at Annapoorna Mess [Picked up] [photo]
        donor-1  < Lakshmi will deliver order #1.
        rest-1   < Lakshmi will deliver order #1.
        worker-2 > [tap Picked up]
        worker-2 < Picked up order #1. When the person has the meal, tap Delivered. [Delivered]
        donor-1  < Order #1 was picked up and is on its way.
        donor-1  > /cancel
        donor-1  < Order #1 can no longer be cancelled: the meal is already on its way.
    """)
    assert await balance_of(app_env, "donor", "donor-1") == 100_000 - 9_000


async def test_a_restaurant_registers_by_chat_and_an_admin_approves_it(app_env: dict[str, Any]) -> None:
    await app_env["chat"].run("""
        cook-9 > /start
        cook-9 < Choose your language [தமிழ்] [English]
        cook-9 > [tap English]
        cook-9 < What would you like to do? [Feed someone] [I run a restaurant] [I deliver meals]
        cook-9 > [tap I run a restaurant]
        cook-9 < What is your restaurant's name?
        cook-9 > Amma Unavagam
        cook-9 < Share the restaurant's location (attach → Location).
        cook-9 > [location 13.0850, 80.2750]
        cook-9 < What is the street address, so workers can find you?
        cook-9 > 7 Mount Road
        cook-9 < Send your alms meals, one per line with the price in rupees, for example:
        cook-9 > Pongal forty
        cook-9 < I could not read that menu. Send one meal per line, a name and a price, e.g. Curd rice 60 (at most 10 meals).
        cook-9 > Pongal 40
        cook-9 < How many alms meals can you cook each day?
        cook-9 > /cancel
        cook-9 < Stopped. Nothing was changed.
        cook-9 > [tap I run a restaurant]
        cook-9 < What is your restaurant's name?
        cook-9 > Amma Unavagam
        cook-9 < Share the restaurant's location
        cook-9 > [location 13.0850, 80.2750]
        cook-9 < What is the street address
        cook-9 > 7 Mount Road
        cook-9 < Send your alms meals
        cook-9 > Pongal 40
        cook-9 < How many alms meals can you cook each day?
        cook-9 > lots
        cook-9 < Please send a number of meals per day, for example 20.
        cook-9 > 15
        cook-9 < When do you take orders? Send hours like 11-22, or 'all day'.
        cook-9 > 7-21
        cook-9 < Thank you! Amma Unavagam is registered and waiting for an admin's approval.
        admin  < Amma Unavagam, 7 Mount Road. 15 meals a day: Pongal ₹40 · webchat:cook-9 [Approve] [Reject]
        admin  > [tap Approve]
        admin  < Approved Amma Unavagam.
        cook-9 < Your restaurant is approved. Orders will arrive here with Accept and Reject buttons.
        admin  > [tap Approve]
        admin  < That question has already been answered.
    """)


async def test_a_worker_registers_and_is_approved_then_sees_jobs(app_env: dict[str, Any]) -> None:
    await app_env["chat"].run("""
        rider-7 > /start
        rider-7 < Choose your language [தமிழ்] [English]
        rider-7 > 2
        rider-7 < What would you like to do? [Feed someone] [I run a restaurant] [I deliver meals]
        rider-7 > [tap I deliver meals]
        rider-7 < What is your name?
        rider-7 > Selvi
        rider-7 < Share your location: you will see delivery jobs around it.
        rider-7 > [location 95, 80.27]
        rider-7 < That location is not a real place on the map. Please share it again.
        rider-7 > [location 13.0830, 80.2700]
        rider-7 < Thank you! You are registered and waiting for an admin's approval.
        admin   < Selvi · 13.08, 80.27 · webchat:rider-7 [Approve] [Reject]
        rider-7 > /jobs
        rider-7 < Only an approved delivery worker can do that. Send /start to register.
        rider-7 > [location 13.0840, 80.2710]
        rider-7 < Your zone is updated. Once an admin approves you, you will see jobs around this place.
        admin   > [tap Approve]
        admin   < Approved Selvi.
        rider-7 < You are approved as a delivery worker and online. Send /jobs to see open jobs, /offline to pause. [Show jobs]
        rider-7 > [tap Show jobs]
        rider-7 < No open jobs near you right now. New ones will arrive here while you are online.
    """)


async def test_admin_records_a_deposit_and_others_cannot(app_env: dict[str, Any]) -> None:
    await app_env["chat"].run("""
        donor-9  > something odd
        donor-9  < Sorry, I did not understand that. Send /help to see what you can do.
        admin    > /deposit donor-9 250.50
        admin    < Record ₹250.50 received for webchat donor-9 (member #8)? [Confirm] [Cancel]
        admin    > [tap Confirm]
        admin    < Recorded ₹250.50 for webchat donor-9 (#8). Their balance is now ₹250.50.
        donor-9  < ₹250.50 was added to your balance. Thank you!
        donor-9  > /balance
        donor-9  < Your balance: ₹250.50
        donor-1  > /deposit donor-1 100000
        donor-1  < Only an admin can record deposits.
        admin    > /deposit donor-9 -5
        admin    < Usage: /deposit <member number or phone> <rupees>, for example /deposit #12 500
    """)
    await assert_ledger_invariants(app_env["runtime"].store)


async def test_bad_input_gets_a_polite_reply_never_silence(app_env: dict[str, Any]) -> None:
    chat, client = app_env["chat"], app_env["client"]
    response = await client.post("/webchat/donor-1/messages", files={"photo": ("x.jpg", b"not an image at all", "image/jpeg")})
    assert response.status_code == 202
    await chat.drain()
    await chat.expect("donor-1", "That file is not a photo I can use. Please send a JPEG, PNG or WebP photo.")
    truncated = make_photo()[:400]
    await client.post("/webchat/donor-1/messages", files={"photo": ("t.jpg", truncated, "image/jpeg")})
    await chat.drain()
    await chat.expect("donor-1", "I could not read that photo. Please take it again and send it.")
    await chat.run("""
        donor-1 > something odd there
        donor-1 < Sorry, I did not understand that. Send /help to see what you can do.
        donor-1 > /frobnicate
        donor-1 < Sorry, I did not understand that. Send /help to see what you can do.
        donor-1 > [location 13.08, 80.27]
        donor-1 < Thanks for the location, but I was not expecting one now. To feed someone, send their photo first.
        donor-1 > [photo]
        donor-1 < Did the person agree to be photographed [Yes, they agreed] [No]
        donor-1 > [press consent:yes]
        donor-1 < Thank you. Now share the location where the person is
        donor-1 > [location -91, 500]
        donor-1 < That location is not a real place on the map. Please share it again.
        donor-1 > where?
        donor-1 < Please share a location (attach → Location).
    """)
    await client.post("/webchat/worker-1/messages", json={"button": "frobnicate:1"})
    await chat.drain()
    await chat.expect("worker-1", "That button is no longer active.")
    response = await client.post("/webchat/worker-1/messages", json={"button": "claim:9999"})
    await chat.drain()
    await chat.expect("worker-1", "Job #9999 is no longer available.")
    await chat.all_read()


async def test_the_api_refuses_malformed_requests_with_clear_errors(app_env: dict[str, Any]) -> None:
    client = app_env["client"]
    bad = [
        (await client.post("/webchat/donor-1/messages", content=b"{nope", headers={"content-type": "application/json"}), 400),
        (await client.post("/webchat/donor-1/messages", json={"text": ""}), 422),
        (await client.post("/webchat/donor-1/messages", json={"text": "a", "button": "b"}), 422),
        (await client.post("/webchat/donor-1/messages", json={"location": {"lat": "x"}}), 422),
        (await client.post("/webchat/bad%20user/messages", json={"text": "hi"}), 400),
        (await client.post("/webchat/donor-1/messages", files={"photo": ("big.jpg", b"0" * (10 * 1024 * 1024 + 1), "image/jpeg")}), 413),
        (await client.post("/webchat/donor-1/messages", files={"file": ("a.jpg", b"x", "image/jpeg")}), 422),
    ]
    for response, status in bad:
        assert response.status_code == status, response.text
        assert response.json()["error"]


async def test_a_redelivered_message_is_processed_once(app_env: dict[str, Any]) -> None:
    client, chat = app_env["client"], app_env["chat"]
    headers = {"Idempotency-Key": "same-message-1"}
    first = await client.post("/webchat/admin/messages", json={"text": "/deposit donor-1 100"}, headers=headers)
    second = await client.post("/webchat/admin/messages", json={"text": "/deposit donor-1 100"}, headers=headers)
    await chat.drain()
    assert first.json() == {"id": first.json()["id"], "duplicate": False}
    assert second.json() == {"id": first.json()["id"], "duplicate": True}
    confirm = await chat.button("admin", "Confirm")
    await chat.run("""
        admin   < Record ₹100 received for Demo donor (member #7)? [Confirm] [Cancel]
        admin   > [tap Confirm]
        admin   < Recorded ₹100 for Demo donor (#7). Their balance is now ₹1,100.
        donor-1 < ₹100 was added to your balance. Thank you!
    """)
    await chat.send("admin", "[press " + confirm + "]")  # a double tap records nothing more
    await chat.run("""
        admin   < That question has already been answered.
        donor-1 > /balance
        donor-1 < Your balance: ₹1,100
    """)


async def test_a_double_tap_on_pay_charges_once(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    await chat.run(ORDER_CURD_RICE)
    await chat.send("donor-1", "[tap Pay]")
    await chat.expect("donor-1", "That question has already been answered.")
    await chat.all_read()
    assert await balance_of(app_env, "donor", "donor-1") == 100_000 - 9_000


async def test_a_restart_mid_conversation_loses_nothing(app_db: Path, tmp_path: Path) -> None:
    async with running_app(app_db, tmp_path / "var") as env:
        before = env["chat"]
        await before.run("""
            donor-1 > [photo]
            donor-1 < Did the person agree to be photographed [Yes, they agreed] [No]
            donor-1 > [press consent:yes]
            donor-1 < Thank you. Now share the location where the person is
        """)
        # A message that arrived but was not processed before the crash: stored, not handled.
        async with env["runtime"].store.uow() as uow:
            await uow.inbox.store("webchat", "before-crash", "donor-1", {"kind": "location", "lat": 13.0827, "lng": 80.2707})
    async with running_app(app_db, tmp_path / "var") as env:
        await env["runtime"].processor.drain()  # recovery after start processes the stored message
        env["chat"].inboxes = before.inboxes  # the web chat keeps its history: read on from where we stopped
        await env["chat"].run("""
            donor-1 < What is the place like right now? [Busy and well lit]
            donor-1 > [tap Busy and well lit]
            donor-1 < Meals near this person — choose one: [Curd rice]
        """)


class ExplodingScreener:
    """A screener that fails, standing in for any crash in the middle of a conversation."""

    async def screen(self, uow: UnitOfWork, request: ScreeningRequest) -> ScreeningResult:
        raise RuntimeError("screening service exploded")

    def prefetch(self, photo_id: str) -> None:
        """Nothing to prepare."""


async def test_a_crash_while_handling_a_message_apologises_and_keeps_the_message(app_db: Path, tmp_path: Path) -> None:
    async with running_app(app_db, tmp_path / "var", screener=ExplodingScreener()) as env:
        await env["chat"].run("""
            donor-1 > [photo]
            donor-1 < Did the person agree to be photographed [Yes, they agreed] [No]
            donor-1 > [press consent:yes]
            donor-1 < Thank you. Now share the location where the person is
            donor-1 > [location 13.0827, 80.2707]
            donor-1 < What is the place like right now? [Busy and well lit]
            donor-1 > [press scene:busy_lit]
            donor-1 < Sorry, something went wrong on our side. Your message is saved and the team will look at it.
        """)
        async with env["runtime"].store.reader() as uow:
            failed = await uow.conn.exec_driver_sql("SELECT status, error FROM inbox WHERE status = 'failed'")
            rows = failed.all()
            orders = await uow.orders.find(limit=10)
        assert [r[0] for r in rows] == ["failed"] and "exploded" in rows[0][1]
        assert orders == []  # the half-done order was rolled back with the failure
        await assert_ledger_invariants(env["runtime"].store)


async def test_tamil_words_digits_and_aliases_are_understood(app_env: dict[str, Any]) -> None:
    await app_env["chat"].run("""
        worker-1 > வேலைகள்
        worker-1 < No open jobs near you right now. New ones will arrive here while you are online.
        worker-1 > உதவி
        worker-1 < Ketpaar feeds people in need.
        cook-3   > /start
        cook-3   < மொழியைத் தேர்ந்தெடுக்கவும் · Choose your language [தமிழ்] [English]
        cook-3   > ௨
        cook-3   < What would you like to do? [Feed someone] [I run a restaurant] [I deliver meals]
        cook-3   > /language
        cook-3   < Choose your language [தமிழ்] [English]
        cook-3   > English
        cook-3   < Done. I will write to you in English from now on.
    """)
    await app_env["chat"].run(ORDER_CURD_RICE + """
        rest-1  > ஆம்
        rest-1  < Accepted order #1: Curd rice. A delivery worker will come for it. [Ready]
        donor-1 < Annapoorna Mess accepted order #1 and is cooking.
        worker-1 < New job #1: pick up at Annapoorna Mess [Claim]
        worker-2 < New job #1: pick up at Annapoorna Mess [Claim]
        worker-3 < New job #1: pick up at Annapoorna Mess [Claim]
    """)


async def test_an_sms_reply_from_a_whatsapp_number_continues_that_conversation(app_env: dict[str, Any]) -> None:
    # Outside WhatsApp's 24-hour window the order reached the restaurant by SMS; its SMS reply
    # comes from the bare number and must act as the WhatsApp restaurant.
    from core.members.registration import apply_restaurant

    runtime = app_env["runtime"]
    async with runtime.store.uow() as uow:
        owner = await uow.people.get_or_create("whatsapp", "whatsapp:+919840000001")
        await apply_restaurant(uow, owner, name="Kalyani Mess", lat=13.0828, lng=80.2707, address="1 Beach Road",
                               menu=[("Pongal", 4_500)], daily_capacity=5, approved=True)  # fmt: skip
    await app_env["chat"].run("""
        donor-1 > [photo]
        donor-1 < Did the person agree to be photographed [Yes, they agreed] [No]
        donor-1 > [press consent:yes]
        donor-1 < Thank you. Now share the location where the person is
        donor-1 > [location 13.0827, 80.2707]
        donor-1 < What is the place like right now? [Busy and well lit]
        donor-1 > [press scene:busy_lit]
        donor-1 < Meals near this person — choose one: [Pongal]
        donor-1 > [tap Pongal]
        donor-1 < Would you like to add a tip for the delivery worker? [No tip]
        donor-1 > [tap No tip]
        donor-1 < Meal ₹45 + delivery ₹30 + tip ₹0 = ₹75 [Pay ₹75] [Cancel]
        donor-1 > [tap Pay]
        donor-1 < Paid ₹75. Order #1 for Pongal is with Kalyani Mess. I will tell you when it is accepted. [Cancel order]
    """)
    await runtime.processor.receive("sms", "SM-reply-1", "+919840000001", {"kind": "text", "text": "1"})
    await runtime.processor.drain()
    await app_env["chat"].run("""
        donor-1  < Kalyani Mess accepted order #1 and is cooking. Now finding a delivery worker.
        worker-1 < New job #1: pick up at Kalyani Mess (1 Beach Road) [Claim]
        worker-2 < New job #1: pick up at Kalyani Mess [Claim]
        worker-3 < New job #1: pick up at Kalyani Mess [Claim]
    """)
    async with runtime.store.reader() as uow:
        assert await uow.people.find("sms", "+919840000001") is None  # no second, empty person


async def test_cancel_mid_request_deletes_the_photo_or_cancels_the_unpaid_order(app_env: dict[str, Any]) -> None:
    await app_env["chat"].run("""
        donor-1 > [photo]
        donor-1 < Did the person agree to be photographed [Yes, they agreed] [No]
        donor-1 > [tap Yes, they agreed]
        donor-1 < Thank you. Now share the location where the person is
        donor-1 > /cancel
        donor-1 < Stopped. The photo has been deleted.
        donor-1 > [photo]
        donor-1 < Did the person agree to be photographed [Yes, they agreed] [No]
        donor-1 > [press consent:yes]
        donor-1 < Thank you. Now share the location where the person is
        donor-1 > [location 13.0827, 80.2707]
        donor-1 < What is the place like right now? [Busy and well lit]
        donor-1 > [press scene:busy_lit]
        donor-1 < Meals near this person — choose one: [Curd rice]
        donor-1 > [tap Curd rice]
        donor-1 < Would you like to add a tip for the delivery worker? [No tip]
        donor-1 > ரத்து
        donor-1 < Order #1 cancelled.
    """)
    async with app_env["runtime"].store.reader() as uow:
        deleted = [e.data for e in await chain_events(uow, "photos.deleted")]
        order = await uow.orders.get(1)
    assert deleted == [{"count": 1, "reason": "cancelled"}] and order.status.value == "cancelled"


async def test_a_malformed_button_from_a_restaurant_or_worker_gets_a_reply_not_silence(app_env: dict[str, Any]) -> None:
    client, chat = app_env["client"], app_env["chat"]
    for user, payload in (("rest-1", "accept:abc"), ("worker-1", "claim:"), ("worker-1", "report:1:maybe")):
        await client.post(f"/webchat/{user}/messages", json={"button": payload})
        await chat.drain()
        await chat.expect(user, "That button is no longer active. Send /help to see what you can do.")
    await chat.all_read()

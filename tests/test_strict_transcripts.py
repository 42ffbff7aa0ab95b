"""The transcript drivers are strict: a message nobody expected fails the meal transcript, on the
web chat and on every channel, and the `<*` / `< …` acknowledgements behave as documented."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flows import router
from flows.context import FlowContext
from flows.messages import Inbound, Outbound
from tests.channel_chat import CHANNELS, channel_app, users_on
from tests.test_every_channel import CAST, SMS_MEAL, fakes
from tests.test_meal_transcript import MEAL

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:telegram.warnings.PTBDeprecationWarning")

APOLOGY = "Sorry, something went wrong on our side. Your message is saved and the team will look at it."


@pytest.fixture
def apologetic_accept(monkeypatch: pytest.MonkeyPatch) -> None:
    """Accepting an order also sends the restaurant an apology, as a half-failed step might."""
    accept = router.BUTTONS["accept"]

    async def accept_and_apologise(ctx: FlowContext, msg: Inbound) -> None:
        await accept(ctx, msg)
        await ctx.tell(ctx.person, Outbound(APOLOGY))  # `tell`, not `reply`: the Ready button stays answerable

    # The router keeps its own table of button handlers, so that is where the step is replaced.
    monkeypatch.setitem(router.BUTTONS, "accept", accept_and_apologise)


@pytest.mark.usefixtures("apologetic_accept")
async def test_an_extra_apology_after_accept_fails_the_web_chat_meal(app_env: dict[str, Any]) -> None:
    with pytest.raises(AssertionError, match="rest-2: the next message is not the one expected") as failure:
        await app_env["chat"].run(MEAL)
    assert "Sorry, something went wrong on our side" in str(failure.value)  # the diff shows what arrived


@pytest.mark.usefixtures("apologetic_accept")
@pytest.mark.parametrize("channel", CHANNELS)
async def test_an_extra_apology_after_accept_fails_the_meal_on_every_channel(channel: str, app_db: Path, tmp_path: Path) -> None:
    users = users_on(CAST[channel])
    with fakes(channel) as (telegram, twilio):
        async with channel_app(app_db, tmp_path / "var", users, telegram=telegram, twilio=twilio) as env:
            with pytest.raises(AssertionError, match="rest-2: the next message is not the one expected") as failure:
                await env["chat"].run(SMS_MEAL if channel == "sms" else MEAL)
    assert "Sorry, something went wrong on our side" in str(failure.value)


async def test_a_message_left_unread_at_the_end_of_a_run_fails_it(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    with pytest.raises(AssertionError, match=r"unexpected messages:\n  donor-1: 'Sorry, I did not understand that"):
        await chat.run("donor-1 > something odd")


async def test_a_user_who_only_receives_is_checked_too(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    await chat.run("""
        donor-1 > [photo]
        donor-1 < Did the person agree to be photographed [Yes, they agreed] [No]
        donor-1 > [press consent:yes]
        donor-1 < Thank you. Now share the location where the person is
        donor-1 > [location 13.0827, 80.2707]
        donor-1 < What is the place like right now?
        donor-1 > [press scene:busy_lit]
        donor-1 < Meals near this person
        donor-1 > [tap Curd rice]
        donor-1 < Would you like to add a tip
        donor-1 > [tap No tip]
        donor-1 < Meal ₹60 + delivery ₹30 + tip ₹0 = ₹90
    """)
    with pytest.raises(AssertionError, match=r"unexpected messages:\n  rest-1: 'New order #1: Curd rice"):
        await chat.run("""
            donor-1 > [tap Pay]
            donor-1 < Paid ₹90. Order #1 for Curd rice is with Annapoorna Mess.
        """)  # rest-1 is never named, yet its order offer must be read


async def test_a_message_out_of_order_fails_with_what_was_expected_and_what_arrived(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    await chat.send("donor-1", "something odd")
    await chat.send("donor-1", "/balance")
    with pytest.raises(AssertionError) as failure:
        await chat.run("donor-1 < Your balance: ₹1,000")
    assert str(failure.value).splitlines()[:3] == [
        "donor-1: the next message is not the one expected",
        "  expected: 'Your balance: ₹1,000'",
        "  arrived:  'Sorry, I did not understand that. Send /help to see what you can do.'",
    ]


async def test_skip_to_and_any_one_acknowledge_only_what_they_say(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    for what in ("something odd", "[location 13.08, 80.27]", "/balance"):
        await chat.send("donor-1", what)
    await chat.run("""
        donor-1 < …
        donor-1 <* Your balance: ₹1,000
    """)  # "Sorry…" taken whatever it says, the location answer skipped over, the balance matched
    with pytest.raises(AssertionError, match="donor-1: nothing more arrived"):
        await chat.run("donor-1 < …")
    with pytest.raises(AssertionError, match="donor-1 did not receive 'Your balance"):
        await chat.run("donor-1 > something odd\ndonor-1 <* Your balance")

"""Typed replies in conversation: greetings, Pay again after a top-up, hours and menus as people
write them (the table of what each typed word means is tests/test_understand.py)."""

from __future__ import annotations

from typing import Any

import pytest

from flows.hours import Ambiguous, parse_hours
from flows.onboarding import parse_menu
from tests.helpers import assert_ledger_invariants


async def test_a_greeting_in_tamil_starts_in_tamil_and_later_resumes_the_open_question(app_env: dict[str, Any]) -> None:
    await app_env["chat"].run("""
        selvi > வணக்கம்
        selvi < வணக்கம்! கேட்பாருக்கு உங்களை வரவேற்கிறோம். [சாப்பாடு வாங்கித் தர] [ஹோட்டல் நடத்துகிறேன்] [டெலிவரி செய்கிறேன்]
        selvi > [photo]
        selvi < போட்டோ எடுக்க அந்த நபர் சம்மதித்தாரா? [ஆம், சம்மதித்தார்] [இல்லை]
        selvi > hi
        selvi < வணக்கம்! இந்த எண்ணில் ஒன்றை அனுப்பலாம்: 1 ஆம், சம்மதித்தார் · 2 இல்லை
        selvi > 1
        selvi < நன்றி.
        selvi > [photo]
        selvi < போட்டோ எடுக்க அந்த நபர் சம்மதித்தாரா? [ஆம், சம்மதித்தார்] [இல்லை]
        selvi > illanga
        selvi < அவரிடம் கேட்டதற்கு நன்றி. போட்டோ அழிக்கப்பட்டது.
        ravi  > hello
        ravi  < மொழியைத் தேர்ந்தெடுக்கவும் · Choose your language [தமிழ்] [English]
        ravi  > english
        ravi  < Welcome to Ketpaar. [Feed someone] [I run a restaurant] [I deliver meals]
        ravi  > Hii
        ravi  < Hello! You can reply with a number: 1 Feed someone · 2 I run a restaurant · 3 I deliver meals
    """)


async def test_not_enough_balance_offers_pay_again_and_a_typed_yes_pays_after_the_deposit(app_env: dict[str, Any]) -> None:
    await app_env["chat"].run("""
        kumar > [photo]
        kumar < Did the person agree to be photographed
        kumar > yes
        kumar < Thank you. Now share the location where the person is
        kumar > [location 13.0827, 80.2707]
        kumar < What is the place like right now?
        kumar > 1
        kumar < Meals near this person
        kumar > lemon rice
        kumar < Would you like to add a tip
        kumar > no
        kumar < Meal ₹55 + delivery ₹30 + tip ₹0 = ₹85 [Start a campaign] [Pay ₹85] [Cancel]
        kumar > pay
        kumar < Your balance is ₹0, which is not enough for ₹85. Ask a cooperative admin [Pay ₹85] [Cancel]
        admin > /deposit kumar 100
        admin < Record ₹100 received for
        admin > [tap Confirm]
        admin < Recorded ₹100
        kumar < ₹100 was added to your balance. Thank you!
        kumar > ok?
        kumar < Sorry, I did not understand that. You can reply with a number: 1 Pay ₹85 · 2 Cancel
        kumar > k
        kumar < Sorry, I did not understand that. You can reply with a number: 1 Pay ₹85 · 2 Cancel
        kumar > ஆம்
        kumar < Paid ₹85. Order #1 for Lemon rice is with Annapoorna Mess.
        rest-1 < New order #1: Lemon rice (₹55) [Accept] [Reject]
    """)
    await assert_ledger_invariants(app_env["runtime"].store)


async def test_hours_typed_as_people_write_them_and_11_10_is_asked_not_guessed(app_env: dict[str, Any]) -> None:
    await app_env["chat"].run("""
        amma > /start
        amma < Choose your language [தமிழ்] [English]
        amma > tamil
        amma < நீங்கள் என்ன செய்ய விரும்புகிறீர்கள்? [சாப்பாடு வாங்கித் தர] [ஹோட்டல் நடத்துகிறேன்] [டெலிவரி செய்கிறேன்]
        amma > rendu
        amma < உங்கள் ஹோட்டலின் பெயர் என்ன?
        amma > Amma Mess
        amma < ஹோட்டலின் லொகேஷனை அனுப்புங்கள்
        amma > [location 13.0840, 80.2712]
        amma < டெலிவரி பணியாளர்கள் உங்களைக் கண்டுபிடிக்க, உங்கள் தெரு முகவரி என்ன?
        amma > 5 Mint Street
        amma < உங்கள் அன்னதானச் சாப்பாடுகளை அனுப்புங்கள்
        amma > தயிர் சாதம் ரூ.60
        amma < ஒரு நாளைக்கு எத்தனை அன்னதானச் சாப்பாடு சமைக்க முடியும்?
        amma > 20
        amma < எந்த நேரத்தில் ஆர்டர் எடுப்பீர்கள்? காலை 11 - இரவு 10 என்றோ 11-22 என்றோ அனுப்புங்கள்
        amma > 11-10
        amma < காலை 11 முதல் இரவு 10 வரையா? அப்படியென்றால் 11-22 என்று அனுப்புங்கள்.
        amma > காலை 11 - இரவு 10
        amma < நன்றி! Amma Mess பதிவு செய்யப்பட்டது
        admin < Amma Mess, 5 Mint Street. 20 meals a day: தயிர் சாதம் ₹60 · webchat:amma [Approve] [Reject]
    """)
    async with app_env["runtime"].store.reader() as uow:
        person = await uow.people.find("webchat", "amma")
        restaurant = await uow.restaurants.by_person(person.id)
    assert (restaurant.open_minute, restaurant.close_minute) == (660, 1320)
    assert [(m.name, m.price) for m in restaurant.menu] == [("தயிர் சாதம்", 6_000)]


@pytest.mark.parametrize(("said", "minutes"), [
    ("11-22", (660, 1320)), ("11 முதல் 22 வரை", (660, 1320)), ("காலை 11 - இரவு 10", (660, 1320)),
    ("11am-10pm", (660, 1320)), ("11 am to 10 pm", (660, 1320)), ("11.30-22", (690, 1320)), ("7:30-21", (450, 1260)),
    ("24 மணி நேரமும்", (0, 1440)), ("full day", (0, 1440)), ("நாள் முழுவதும்", (0, 1440)), ("24x7", (0, 1440)),
    ("மதியம் 12 - இரவு 11", (720, 1380)), ("kaalai 7 - iravu 9", (420, 1260)), ("22-2", (1320, 120)),
    ("இரவு 10 - காலை 6", (1320, 360)), ("௧௧-௨௨", (660, 1320)),
])  # fmt: skip
def test_hours_as_people_write_them(said: str, minutes: tuple[int, int]) -> None:
    assert parse_hours(said) == minutes


@pytest.mark.parametrize("said", ["11-10", "11 மணி முதல் 10 மணி வரை", "9-6", "12-11"])
def test_a_range_that_could_mean_23_hours_is_asked_about(said: str) -> None:
    assert isinstance(parse_hours(said), Ambiguous)


@pytest.mark.parametrize("said", ["இரவு 25-3", "காலை 13-14", "11-", "abc", "11-11", "24-0"])
def test_hours_that_cannot_be_read_are_refused(said: str) -> None:
    assert parse_hours(said) is None


def test_menu_prices_as_people_write_them() -> None:
    menu = "தயிர் சாதம் ரூ.60\nCurd rice Rs 60\nசாம்பார் சாதம் 70 ரூபாய்\nLemon rice 55/-\nIdli Rs.40\nPongal ₹ 45"
    assert parse_menu(menu) == [("தயிர் சாதம்", 6_000), ("Curd rice", 6_000), ("சாம்பார் சாதம்", 7_000), ("Lemon rice", 5_500),
                                ("Idli", 4_000), ("Pongal", 4_500)]  # fmt: skip
    assert parse_menu("Curd rice Rs -60") is None
    assert parse_menu("Curd rice ரூ.6e1") is None

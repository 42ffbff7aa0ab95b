"""A campaign code that names no campaign is repeated back only as far as it could be a code:
share-code letters, upper case, at most 12 — never bidi controls, emoji or other typed text."""

from __future__ import annotations

from typing import Any

import pytest

from core.campaigns.service import echo_code

RLO, PDF = "\u202e", "\u202c"  # right-to-left override, pop directional formatting

NO_SUCH = {
    "en": "There is no campaign with the code {code}. Please check the code and try again.",
    "ta": "{code} என்ற குறியீட்டில் கூட்டுநிதி இல்லை. குறியீட்டைச் சரிபார்த்து மீண்டும் அனுப்புங்கள்.",
}
NOTHING_LEFT = {
    "en": "There is no campaign with that code. Please check the code and try again.",
    "ta": "அந்தக் குறியீட்டில் கூட்டுநிதி இல்லை. குறியீட்டைச் சரிபார்த்து மீண்டும் அனுப்புங்கள்.",
}


def test_only_share_code_letters_are_echoed_upper_case_and_capped() -> None:
    assert echo_code(f"{RLO}k7q😀xm{PDF}") == "K7QXM"
    assert echo_code("ZZ-ZZ\u200bZ<b>") == "ZZZZZB"
    assert echo_code("A" * 40) == "A" * 12
    assert echo_code(f"{RLO}😀😀{PDF}") == ""
    assert echo_code("௧௨௩") == ""  # other digits are not a code's


async def reply_to(env: dict[str, Any], user: str, language: str, text: str) -> str:
    """What the user, speaking `language`, hears back after sending text."""
    async with env["runtime"].store.uow() as uow:
        person = await uow.people.find("webchat", user)
        assert person is not None
        await uow.people.set_language(person.id, language)
    chat = env["chat"]
    await chat.send(user, text)
    return str((await chat.expect(user, "…"))["text"])


@pytest.mark.parametrize("language", ["en", "ta"])
async def test_a_code_with_a_bidi_override_and_emoji_comes_back_without_them(app_env: dict[str, Any], language: str) -> None:
    text = await reply_to(app_env, "worker-2", language, f"/give {RLO}k7q😀xm{PDF} 10")
    assert text == NO_SUCH[language].format(code="K7QXM")
    assert RLO not in text and PDF not in text and "😀" not in text


@pytest.mark.parametrize("language", ["en", "ta"])
async def test_a_code_with_nothing_a_code_could_hold_gets_the_reply_without_it(app_env: dict[str, Any], language: str) -> None:
    text = await reply_to(app_env, "worker-2", language, f"/give {RLO}😀😀{PDF} 10")
    assert text == NOTHING_LEFT[language]
    text = await reply_to(app_env, "worker-2", language, "/give " + "Q" * 40 + " 10")
    assert text == NO_SUCH[language].format(code="Q" * 12)

"""A typed pledge number that is none of the sender's (0, beyond any database id, someone else's,
unknown) gets "You have no pledge #N" in their language, on SQLite and PostgreSQL — never a
"button no longer active", never an integer overflow in the database."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from flows.numbers import typed_digits
from tests.conftest import running_app
from tests.helpers import chain_events

NO_PLEDGE = {
    "en": "You have no pledge #{id}. Send /pledges to see yours.",
    "ta": "உங்களிடம் நன்கொடை #{id} இல்லை. உங்களுடையவற்றைப் பார்க்க /pledges அனுப்புங்கள்.",
}
WORDS = {"en": ("often", "daily"), "ta": ("அடிக்கடி", "தினமும்")}
PLEDGE = """
    donor-1  > /pledge 100
    donor-1  < Which meals may your ₹100 pay for?
    donor-1  > [tap Anyone, anywhere]
    donor-1  < Renew it every month
    donor-1  > [tap Just once]
    donor-1  < Pledge ₹100
    donor-1  > [tap Confirm]
    donor-1  < Thank you! Pledge #1 holds ₹100
"""


def test_any_typed_number_is_shown_back_as_digits_and_shortened_when_long() -> None:
    assert [typed_digits(s) for s in ("0", "#1", "௧௨", "9" * 13, "1e5", "²", "-1", "")] == [
        "0", None, "12", "9" * 12 + "…", None, None, None, None]


@pytest.fixture(params=["sqlite", "postgres"])
def app_url(request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh migrated database for the app, SQLite or PostgreSQL (pledge ids start at 1)."""
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_fresh_url"))
    shutil.copy(sqlite_template, tmp_path / "app.db")
    return f"sqlite:///{tmp_path / 'app.db'}"


async def speak(env: dict[str, Any], language: str, *users: str) -> None:
    """The users read and write in `language` from now on."""
    async with env["runtime"].store.uow() as uow:
        for user in users:
            person = await uow.people.find("webchat", user)
            assert person is not None
            await uow.people.set_language(person.id, language)


async def said(env: dict[str, Any], user: str, text: str) -> str:
    """The one reply the user gets to a text."""
    await env["chat"].send(user, text)
    return str((await env["chat"].expect(user, "…"))["text"])


@pytest.mark.parametrize("language", ["en", "ta"])
async def test_a_pledge_number_that_is_not_the_senders_gets_no_such_pledge(app_url: str, tmp_path: Path, language: str) -> None:
    async with running_app(app_url, tmp_path / "var") as env:
        await env["chat"].run(PLEDGE)
        await speak(env, language, "donor-1", "worker-2")
        often, daily = WORDS[language]
        no_pledge = NO_PLEDGE[language]
        for text, shown in [
            ("/often 999999999999", "999999999999"),  # beyond a 32-bit id: never sent to the database
            (f"{often} 2147483648", "2147483648"),  # the first number past PostgreSQL's INTEGER
            ("/daily #99999999999999999999999999", "999999999999…"),  # shown shortened
            (f"{daily} 0", "0"),
            (f"{daily} ௭", "7"),  # Tamil digits: no such pledge either
        ]:
            assert await said(env, "donor-1", text) == no_pledge.format(id=shown), text
        # Someone else's pledge looks like an unknown one, by command or typed word.
        assert await said(env, "worker-2", "/often 1") == no_pledge.format(id="1")
        assert await said(env, "worker-2", f"{daily} 1") == no_pledge.format(id="1")
        await env["chat"].send("donor-1", "/often abc")  # no number at all: asked which, nothing set
        await env["chat"].expect("donor-1", "/often 1")
        # The donor's own number still works, and nothing above changed any pledge.
        await env["chat"].send("donor-1", f"{often} 1")
        await env["chat"].expect("donor-1", "#1")
        async with env["runtime"].store.reader() as uow:
            changes = [e.data["change"] for e in await chain_events(uow, "pledge.changed")]
        assert changes == ["made", "tell_often"]

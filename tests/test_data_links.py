"""The /mydata download tokens: signed, expiring, bound to a web-chat address when sent there;
anything else — a changed character, another address, a late use, garbage — is refused."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.privacy.links import DATA_LINK_TTL_S, data_link_token, read_data_link

SECRET = b"s" * 32
NOW = 1_800_000_000.0


@given(person=st.integers(1, 10**9), web=st.one_of(st.none(), st.text(min_size=1, max_size=64)))
def test_a_fresh_token_names_its_person_until_it_expires(person: int, web: str | None) -> None:
    token = data_link_token(SECRET, person, NOW, web)
    link = read_data_link(SECRET, token, NOW + DATA_LINK_TTL_S, web)
    assert link is not None and link.person_id == person
    assert read_data_link(SECRET, token, NOW + DATA_LINK_TTL_S + 1, web) is None
    assert read_data_link(b"other key" * 4, token, NOW, web) is None


@given(person=st.integers(1, 10**9), data=st.data())
def test_any_changed_character_is_refused(person: int, data: st.DataObject) -> None:
    token = data_link_token(SECRET, person, NOW)
    i = data.draw(st.integers(0, len(token) - 1))
    c = data.draw(st.sampled_from("0123456789abcdefpwABCXYZ_-.").filter(lambda ch: ch != token[i]))
    changed = token[:i] + c + token[i + 1 :]
    assert read_data_link(SECRET, changed, NOW, None) is None


@given(web=st.text(min_size=1, max_size=64), other=st.one_of(st.none(), st.text(min_size=1, max_size=64)))
def test_a_web_chat_token_works_only_for_its_own_address(web: str, other: str | None) -> None:
    token = data_link_token(SECRET, 7, NOW, web)
    assert (read_data_link(SECRET, token, NOW, other) is not None) == (other == web)


@given(garbage=st.text(max_size=300))
def test_garbage_is_refused(garbage: str) -> None:
    assert read_data_link(SECRET, garbage, NOW, None) is None

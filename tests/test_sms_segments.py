"""SMS segment counting, and every message the flows can send budgeted as SMS."""

from __future__ import annotations

import string
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.sms import render_sms
from flows.i18n import money
from flows.messages import Outbound
from tests.segments import segments, units

LOCALES = Path(__file__).resolve().parent.parent / "locales"
ENGLISH_MAX_SEGMENTS, TAMIL_MAX_SEGMENTS = 2, 2


# --- counting ------------------------------------------------------------------------------------


def test_gsm7_fits_160_in_one_segment_and_153_per_part_after_that() -> None:
    assert segments("") == ("GSM-7", 0)
    assert segments("a" * 160) == ("GSM-7", 1)
    assert segments("a" * 161) == ("GSM-7", 2)
    assert segments("a" * 306) == ("GSM-7", 2)
    assert segments("a" * 307) == ("GSM-7", 3)
    assert segments("Hello @ £5 é Ä ¿ §\n") == ("GSM-7", 1)


def test_extension_characters_cost_two_septets_and_are_never_split() -> None:
    for c in "^{}\\[~]|€":
        assert units(c) == 2, c
    assert segments("€" * 80) == ("GSM-7", 1)
    assert segments("€" * 81) == ("GSM-7", 2)
    assert segments("a" * 159 + "[") == ("GSM-7", 2)
    # 306 septets would fit two parts, but the escape pair cannot straddle parts 1 and 2.
    assert segments("a" * 152 + "€" + "a" * 152) == ("GSM-7", 3)


def test_one_character_outside_gsm7_makes_the_whole_message_ucs2() -> None:
    assert segments("a" * 69 + "₹") == ("UCS-2", 1)
    assert segments("a" * 70 + "₹") == ("UCS-2", 2)
    assert segments("ç") == ("UCS-2", 1)  # only the capital Ç is in GSM-7


def test_tamil_is_ucs2_70_in_one_segment_and_67_per_part() -> None:
    assert segments("அ" * 70) == ("UCS-2", 1)
    assert segments("அ" * 71) == ("UCS-2", 2)
    assert segments("அ" * 134) == ("UCS-2", 2)
    assert segments("அ" * 135) == ("UCS-2", 3)
    assert segments("வணக்கம்") == ("UCS-2", 1)


def test_emoji_are_surrogate_pairs_counted_as_two_units_and_never_split() -> None:
    assert units("😀") == 2
    assert segments("😀" * 35) == ("UCS-2", 1)
    assert segments("😀" * 36) == ("UCS-2", 2)
    assert segments("a" * 66 + "😀" + "a" * 66) == ("UCS-2", 3)  # 134 units, but the pair moves whole


# --- every message the flows can send, as SMS -------------------------------------------------------

_NAME = "Sri Saravana Bhavan "  # names are 20 characters
SAMPLES = {
    "id": 12345, "lat": 13.0827, "lng": 80.2707, "name": _NAME, "restaurant": _NAME,
    "user": "+919840012345", "meal": "Veg biryani and raita"[:20],
    "address": "12 Wall Tax Road, Park Town", "area": "13.08, 80.27", "day": "2026-11-23",
    "count": 12, "capacity": 20, "distance": "1.2 km", "status": "out for delivery",
}  # fmt: skip
MONEY_FIELDS = {"amount", "total", "balance", "price", "pay", "fee", "tip", "paid", "needed", "earned"}


class Filler(dict[str, object]):
    """Placeholder values for one language (long, realistic); unknown ones get 20 characters."""

    def __init__(self, language: str) -> None:
        big = money(10_000_000, language)  # ₹1,00,000
        meals = ", ".join(f"{m} {money(6_000, language)}" for m in ("Curd rice", "Sambar rice", "Lemon rice"))
        super().__init__({**SAMPLES, **dict.fromkeys(MONEY_FIELDS, big), "meals": meals})

    def __missing__(self, key: str) -> str:
        return "x" * 20


def _fill(template: str, language: str) -> str:
    names = {f for _, f, _, _ in string.Formatter().parse(template) if f}
    return template.format_map(Filler(language)) if names else template


def _catalog(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f)


def _pairs(language: str) -> list[tuple[str, str]]:
    """(msgid, text) for every message: English ids from the template, Tamil from the ta catalog."""
    path = LOCALES / ("ketpaar.pot" if language == "en" else f"{language}/LC_MESSAGES/ketpaar.po")
    pairs: list[tuple[str, str]] = []
    for message in _catalog(path):
        if not message.id:
            continue
        ids = list(message.id) if isinstance(message.id, tuple | list) else [message.id]
        strings = message.string if isinstance(message.string, tuple | list) else [message.string]
        texts = ids if language == "en" else [str(s or "") for s in strings]
        pairs += [(str(i), t) for i, t in zip(ids, texts, strict=False) if t]
    short = LOCALES / f"{language}/LC_MESSAGES/ketpaar_sms.po"
    if language != "en" and short.is_file():  # what the sms channel really sends
        variants = {str(m.id): str(m.string) for m in _catalog(short) if m.id and m.string}
        pairs = [(i, variants.get(i, t)) for i, t in pairs]
    return pairs


def _rendered(language: str) -> dict[str, tuple[str, int]]:
    """msgid → (SMS body, segments)."""
    out: dict[str, tuple[str, int]] = {}
    for msgid, text in _pairs(language):
        body = render_sms(Outbound(_fill(text, language)), language)
        out[msgid] = (body, segments(body)[1])
    return out


def _report(language: str, limit: int) -> list[str]:
    over = sorted(((n, i, b) for i, (b, n) in _rendered(language).items() if n > limit), reverse=True)
    lines = [f"{n} segments ({segments(b)[0]}, {units(b)} units): {i!r}" for n, i, b in over]
    print(f"\n{language}: {len(over)} messages over {limit} segments", *lines, sep="\n  ")
    return lines


def test_every_english_message_fits_two_sms_segments() -> None:
    rendered = _rendered("en")
    assert len(rendered) > 50, "the message catalog was not found or is empty"
    assert _report("en", ENGLISH_MAX_SEGMENTS) == []


def test_every_tamil_message_fits_two_sms_segments() -> None:
    # Tamil is UCS-2 (67 units a part): longer messages have short SMS variants (ketpaar_sms.po).
    rendered = _rendered("ta")
    assert rendered, "no Tamil translations yet"
    assert _report("ta", TAMIL_MAX_SEGMENTS) == []

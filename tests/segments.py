"""Exact SMS segment counting for tests: GSM-7 (with its extension table) or UCS-2 (UTF-16 code units)."""

from __future__ import annotations

from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

# GSM 03.38 basic character set (the escape character 0x1B itself is not text).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: each is sent as ESC + char, so it costs two septets.
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE, GSM7_PART = 160, 153  # septets; a part loses 7 to the concatenation header
UCS2_SINGLE, UCS2_PART = 70, 67  # UTF-16 code units


def is_gsm7(text: str) -> bool:
    """True when every character can be sent in the GSM-7 alphabet."""
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def _costs(text: str) -> tuple[Encoding, list[int]]:
    """The encoding and the units each character takes (never split across parts)."""
    if is_gsm7(text):
        return "GSM-7", [2 if c in GSM7_EXTENSION else 1 for c in text]
    # Outside the BMP a character is a surrogate pair; phones never split a pair between parts.
    return "UCS-2", [2 if ord(c) > 0xFFFF else 1 for c in text]


def segments(text: str) -> tuple[Encoding, int]:
    """How a message is encoded and how many SMS segments it takes (0 for empty text)."""
    encoding, costs = _costs(text)
    single, part = (GSM7_SINGLE, GSM7_PART) if encoding == "GSM-7" else (UCS2_SINGLE, UCS2_PART)
    total = sum(costs)
    if total == 0:
        return encoding, 0
    if total <= single:
        return encoding, 1
    count, used = 1, 0
    for cost in costs:  # greedy packing: an escape pair or surrogate pair moves whole
        if used + cost > part:
            count, used = count + 1, 0
        used += cost
    return encoding, count


def units(text: str) -> int:
    """Septets (GSM-7) or UTF-16 code units (UCS-2) the text needs."""
    return sum(_costs(text)[1])

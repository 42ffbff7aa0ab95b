"""Reading numbers people type or buttons carry: ASCII or Tamil digits only, bounded, never raising."""

from __future__ import annotations

import re
import unicodedata

# Database ids are 32-bit INTEGER columns on PostgreSQL: a larger id cannot name a row, and
# binding it would overflow the driver rather than simply find nothing.
MAX_ID = 2**31 - 1

_TAMIL_DIGITS = str.maketrans("௦௧௨௩௪௫௬௭௮௯", "0123456789")
# Only ASCII digits after the Tamil ones are mapped: str.isdigit() and int() also accept
# superscripts, circled digits and other scripts' digits, which nobody here means as a count.
_WHOLE = re.compile(r"[0-9]{1,18}", re.ASCII)
# Rupees: digits with optional Indian or Western comma grouping, at most two decimals.
_RUPEES = re.compile(r"(?P<whole>[0-9]{1,3}(?:,[0-9]{2,3})+|[0-9]{1,15})(?:\.(?P<frac>[0-9]{1,2}))?", re.ASCII)


def _plain(text: str) -> str:
    """NFC, trimmed, Tamil digits as ASCII."""
    return unicodedata.normalize("NFC", text).strip().translate(_TAMIL_DIGITS)


def normalise(text: str) -> str:
    """NFC, trimmed, case-folded, Tamil digits as ASCII: how typed text is compared."""
    return _plain(text).casefold().rstrip(".!")


def read_int(text: str, low: int, high: int) -> int | None:
    """A whole number written with ASCII or Tamil digits, within [low, high]; else None."""
    said = _plain(text)
    if not _WHOLE.fullmatch(said):
        return None
    value = int(said)
    return value if low <= value <= high else None


def typed_digits(text: str, shown: int = 12) -> str | None:
    """A whole number as typed (ASCII or Tamil digits, any length) as ASCII digits to show back,
    the first `shown` of them and "…" if longer; None if it is not a number."""
    said = _plain(text)
    if not (said.isascii() and said.isdigit()):
        return None
    return said if len(said) <= shown else said[:shown] + "…"


def read_rupees(text: str, high: int) -> int | None:
    """An amount in rupees ("500", "₹1,000", "60.50") as paise, within 1..high; else None.

    Refused: signs, exponents, NaN/Infinity, more than two decimals, other scripts' digits."""
    said = _plain(text).removeprefix("₹").lstrip()
    match = _RUPEES.fullmatch(said)
    if match is None:
        return None
    whole = match.group("whole").replace(",", "")
    paise = int(whole) * 100 + int((match.group("frac") or "0").ljust(2, "0"))
    return paise if 1 <= paise <= high else None

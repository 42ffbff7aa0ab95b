"""Opening hours as restaurants type them: "11-22", "11am-10pm", "11.30-22", "காலை 11 - இரவு 10",
"11 முதல் 22 வரை", "24 மணி நேரமும்", "full day".

A range without am/pm or a part of the day whose end is before its start, both on a 12-hour
dial ("11-10"), is not guessed at: "11 to 10 the next morning" (23 hours) and "11 am to 10 pm"
are both possible, so the restaurant is asked (AMBIGUOUS)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flows.understand import normalise

ALL_DAY = frozenset({
    "all day", "full day", "fullday", "whole day", "24", "24h", "24 h", "24 hrs", "24 hours", "24x7", "24/7", "always",
    "நாள் முழுவதும்", "நாள் முழுக்க", "முழு நாள்", "எப்போதும்", "எப்பவும்", "24 மணி நேரமும்", "24 மணி நேரம்",
    "24 மணிநேரமும்", "24 மணி", "muzhu naal", "naal muzhuvadhum", "eppavum",
})  # fmt: skip

# Parts of the day, Tamil script and Tanglish, and what they add to a 12-hour number.
_MORNING = {"காலை", "kaalai", "kalai", "am", "a.m", "a.m."}
_NOON = {"மதியம்", "மத்தியானம்", "madhiyam", "mathiyam", "noon"}
_EVENING = {"மாலை", "சாயங்காலம்", "சாயந்திரம்", "maalai", "malai", "sayangalam", "evening", "pm", "p.m", "p.m."}
_NIGHT = {"இரவு", "ராத்திரி", "ராத்ரி", "iravu", "rathiri", "night"}
_PERIOD = "|".join(sorted((re.escape(w) for w in _MORNING | _NOON | _EVENING | _NIGHT), key=len, reverse=True))


def _time(n: int) -> str:
    """One time of day: an optional part of the day before or after, hours, optional minutes."""
    return (rf"(?:(?P<p{n}a>{_PERIOD})\s*)?(?P<h{n}>[0-9]{{1,2}})(?:[:.](?P<m{n}>[0-9]{{2}}))?"
            rf"\s*(?:மணி(?:க்கு)?\s*)?(?P<p{n}b>{_PERIOD})?")  # fmt: skip


_RANGE = re.compile(
    r"(?:from\s+)?" + _time(1) + r"\s*(?:-|–|to|till|until|முதல்|லிருந்து|இருந்து|ல இருந்து|mudhal|muthal)\s*"
    + _time(2) + r"\s*(?:வரை|varai|vara)?"
)  # fmt: skip


@dataclass(frozen=True)
class Ambiguous:
    """A range that may mean two things: "11-10" is 11 am to 10 pm, or 11 to 10 the next morning."""

    start: int
    end: int


def _hour(hour: int, period: str | None, closing: bool) -> int | None:
    """A 24-hour hour from a number and a part of the day (None: impossible, like "இரவு 15")."""
    if period is None:
        return hour if hour <= 24 else None
    if hour > 12 or hour == 0:
        return hour if hour <= 24 and period not in _MORNING else None  # "இரவு 22" is plain 22
    if period in _MORNING:
        return 0 if hour == 12 else hour
    if period in _NOON:
        return hour if hour == 12 or hour >= 11 else hour + 12  # மதியம் 12, மதியம் 3 = 15
    if period in _NIGHT and hour == 12:
        return 24 if closing else 0
    if period in _NIGHT and hour <= 4:
        return hour  # இரவு 2 = 2 at night
    return 12 if hour == 12 else hour + 12


def parse_hours(text: str) -> tuple[int, int] | Ambiguous | None:
    """Opening and closing minutes after midnight; Ambiguous for "11-10"; None when unreadable."""
    said = normalise(text)
    if said in ALL_DAY:
        return 0, 1440
    match = _RANGE.fullmatch(said)
    if match is None:
        return None
    g = match.groupdict()
    p1, p2 = g["p1a"] or g["p1b"], g["p2a"] or g["p2b"]
    h1, h2 = _hour(int(g["h1"]), p1, False), _hour(int(g["h2"]), p2, True)
    m1, m2 = int(g["m1"] or 0), int(g["m2"] or 0)
    if h1 is None or h2 is None or m1 > 59 or m2 > 59:
        return None
    start, end = h1 * 60 + m1, h2 * 60 + m2
    # Opening runs from 0:00 to 23:59 and closing up to 24:00; "24-0" would never open, and
    # equal times say nothing about which 0 or 24 hours were meant.
    if start >= 1440 or end > 1440 or start == end:
        return None
    if p1 is None and p2 is None and end < start and h1 <= 12 and h2 < 12:
        return Ambiguous(int(g["h1"]), int(g["h2"]))
    return start, end

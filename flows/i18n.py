"""Translations (gettext catalogs under locales/) and CLDR formatting through Babel."""

from __future__ import annotations

import gettext
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from babel.dates import format_date, format_time
from babel.numbers import format_currency

from core.shared.clock import LOCAL_TZ

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
LANGUAGES = ("en", "ta")
DEFAULT_LANGUAGE = "en"
_CLDR = {"en": "en_IN", "ta": "ta_IN"}


class Translator(Protocol):
    """A gettext function bound to one language."""

    def __call__(self, message: str) -> str: ...


@lru_cache(maxsize=8)
def catalog(language: str) -> gettext.NullTranslations:
    """The compiled catalog of a language (English ids fall through untranslated)."""
    lang = language if language in LANGUAGES else DEFAULT_LANGUAGE
    return gettext.translation("ketpaar", localedir=str(LOCALES_DIR), languages=[lang], fallback=True)


@lru_cache(maxsize=8)
def sms_catalog(language: str) -> gettext.NullTranslations:
    """Short SMS variants (locales/<lang>/LC_MESSAGES/ketpaar_sms.po), where a language needs them."""
    lang = language if language in LANGUAGES else DEFAULT_LANGUAGE
    return gettext.translation("ketpaar_sms", localedir=str(LOCALES_DIR), languages=[lang], fallback=True)


def translator(language: str, channel: str | None = None) -> Translator:
    """Return `_` for a language; on SMS a shorter variant is preferred where one exists."""
    main = catalog(language).gettext
    if channel != "sms":
        return main
    short = sms_catalog(language).gettext

    def sms(message: str) -> str:
        text = short(message)
        return text if text != message else main(message)

    return sms


def p_(language: str, context: str, message: str) -> str:
    """Translate a message whose words depend on who reads it (msgctxt): a restaurant's "Reject"
    is முடியாது ("can't do it"), an admin's stays நிராகரி."""
    return catalog(language).pgettext(context, message)


def plural(language: str, singular: str, plural_form: str, n: int) -> str:
    """Pick the plural form for a count in a language."""
    return catalog(language).ngettext(singular, plural_form, n)


def money(paise: int, language: str) -> str:
    """Format paise as rupees with Indian grouping: ₹1,00,000 or ₹60.50."""
    rupees = Decimal(paise) / 100
    fmt = "¤#,##,##0" if paise % 100 == 0 else "¤#,##,##0.00"
    return format_currency(rupees, "INR", format=fmt, locale=_CLDR.get(language, "en_IN"), currency_digits=False)


def day(iso_day: str, language: str) -> str:
    """A business day in the person's locale: 22 Nov 2026 / 22 நவ., 2026."""
    return format_date(date.fromisoformat(iso_day), format="medium", locale=_CLDR.get(language, "en_IN"))


def clock_time(iso: str, language: str) -> str:
    """A time of day in India, in the person's locale: 2:35 pm / பிற்பகல் 2:35."""
    at = datetime.fromisoformat(iso).astimezone(LOCAL_TZ)
    if language == "ta":  # the part of the day in words (CLDR's Tamil short time says "PM")
        return format_time(at, format="B h:mm", locale=_CLDR["ta"])
    # CLDR puts a narrow no-break space before "pm": a plain one keeps English SMS in GSM-7.
    return format_time(at, format="short", locale=_CLDR.get(language, "en_IN")).replace("\u202f", " ")


def distance(metres: int, language: str) -> str:
    """A short distance: 350 m or 1.2 km."""
    if metres < 1000:
        return f"{metres} m"
    return f"{metres / 1000:.1f} km"

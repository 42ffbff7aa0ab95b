"""The gettext catalogs: Tamil complete and faithful, in step with the code, and really used."""

from __future__ import annotations

import ast
import gettext
import os
import re
import shlex
from functools import cache
from pathlib import Path
from string import Formatter

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from flows import i18n

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
POT = LOCALES / "ketpaar.pot"
TAMIL = re.compile(r"[\u0B80-\u0BFF]")

# What `make i18n` extracts (babel.cfg and the -k flags of the Makefile; checked below).
METHOD_MAP = [("flows/**.py", "python"), ("bot/**.py", "python"), ("webhooks/**.py", "python")]
KEYWORDS: dict[str, object] = {"_": None, "t_": None, "plural": (2, 3), "p_": ((2, "c"), 3)}
BUTTON_MAX = 20  # characters (UTF-16 units): WhatsApp's limit for a reply button's title
MAKE_I18N = (
    "run `make i18n`, translate the new entries in locales/ta/LC_MESSAGES/ketpaar.po,"
    " then `make catalogs`"
)


def po_path(language: str) -> Path:
    return LOCALES / language / "LC_MESSAGES" / "ketpaar.po"


@cache
def load(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f)


def entries(catalog: Catalog) -> list[Message]:
    """The messages of a catalog, without its header."""
    return [m for m in catalog if m.id]


def forms(message: Message) -> list[tuple[str, str]]:
    """(source, translation) pairs: one for a plain message, one per plural form."""
    if isinstance(message.id, str):
        return [(message.id, message.string if isinstance(message.string, str) else "")]
    strings = message.string if isinstance(message.string, (list, tuple)) else (message.string,)
    return [(message.id[min(i, len(message.id) - 1)], s) for i, s in enumerate(strings)]


def fields(text: str) -> set[tuple[str, str, str | None]]:
    """The replacement fields of a str.format template: (name, format spec, conversion)."""
    parsed = Formatter().parse(text)
    return {(name, spec or "", conv) for _lit, name, spec, conv in parsed if name is not None}


def code_messages() -> set[str | tuple[str, ...]]:
    """Every user-facing string in flows/ and bot/, extracted as `make i18n` does."""
    found = extract_from_dir(str(ROOT), METHOD_MAP, keywords={**DEFAULT_KEYWORDS, **KEYWORDS})
    return {message for _file, _line, message, _comments, _context in found}


# 1. Complete -------------------------------------------------------------------------------


def test_tamil_catalog_is_complete_and_not_fuzzy() -> None:
    catalog = load(po_path("ta"))
    assert not catalog.fuzzy, "the Tamil catalog header is marked fuzzy (it would not be compiled)"
    problems = []
    for m in entries(catalog):
        if m.fuzzy:
            problems.append(f"fuzzy: {m.id!r}")
        strings = forms(m)
        count = 1 if isinstance(m.id, str) else catalog.num_plurals
        if len(strings) != count or not all(s for _src, s in strings):
            problems.append(f"untranslated: {m.id!r}")
    assert not problems, "\n".join(problems)


# 2. Faithful -------------------------------------------------------------------------------


def test_tamil_translations_keep_the_placeholders() -> None:
    problems = []
    for m in entries(load(po_path("ta"))):
        for source, translation in forms(m):
            try:
                wanted = fields(source)
            except ValueError:
                continue  # not a format template
            try:
                got = fields(translation)
            except ValueError as exc:
                problems.append(f"{source!r}: translation is not a valid template ({exc})")
                continue
            if got != wanted:
                problems.append(f"{source!r}: placeholders {sorted(got)}, not {sorted(wanted)}")
    assert not problems, "\n".join(problems)


def test_tamil_translations_keep_commands_and_line_breaks() -> None:
    command = re.compile(r"(?<![\w/])/[a-z]+")
    problems = []
    for m in entries(load(po_path("ta"))):
        for source, translation in forms(m):
            if sorted(command.findall(translation)) != sorted(command.findall(source)):
                problems.append(f"{source!r}: commands {command.findall(translation)}")
            if translation.count("\n") != source.count("\n"):
                problems.append(f"{source!r}: {translation.count(chr(10))} line breaks")
    assert not problems, "\n".join(problems)


def test_button_labels_are_short() -> None:
    """Labels given to Choice(...) fit on a phone's button in both languages."""
    labels = set()
    for path in [*ROOT.glob("flows/**/*.py"), *ROOT.glob("bot/**/*.py"), *ROOT.glob("webhooks/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            if node.func.id != "Choice" or not node.args:
                continue
            for sub in ast.walk(node.args[0]):  # _("Pay {total}").format(...) and the like
                if not isinstance(sub, ast.Call) or not sub.args:
                    continue
                func = sub.func
                name = getattr(func, "id", None) or getattr(func, "attr", None)
                if name in KEYWORDS and isinstance(sub.args[0], ast.Constant):
                    labels.add(sub.args[0].value)
    assert labels, "no button labels found: has Choice(...) been renamed?"
    tamil = {m.id: m.string for m in entries(load(po_path("ta")))}
    sample = {name: "₹1,000.00" for name in ("amount", "total")}
    too_long = [
        text
        for label in sorted(labels)
        for text in (label, tamil.get(label) or label)
        if len(text.format(**sample).encode("utf-16-le")) // 2 > BUTTON_MAX
    ]
    assert not too_long, f"button labels longer than {BUTTON_MAX} characters: {too_long}"


# 3. In step with the code ------------------------------------------------------------------


def test_extraction_settings_match_make_i18n() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    line = next(ln for ln in makefile.splitlines() if "pybabel extract" in ln)
    words = shlex.split(line)
    assert parse_keywords([words[i + 1] for i, w in enumerate(words) if w == "-k"]) == KEYWORDS
    with (ROOT / "babel.cfg").open(encoding="utf-8") as f:
        assert parse_mapping_cfg(f)[0] == METHOD_MAP


def test_every_string_in_the_code_is_in_the_catalogs() -> None:
    in_code = code_messages()
    assert len(in_code) > 50, "extraction found almost nothing: is METHOD_MAP right?"
    for path in (POT, po_path("en"), po_path("ta")):
        in_catalog = {m.id for m in entries(load(path))}
        missing, stale = in_code - in_catalog, in_catalog - in_code
        where = path.relative_to(ROOT)
        assert not missing, f"{where} lacks {sorted(map(str, missing))}: {MAKE_I18N}"
        gone = sorted(map(str, stale))
        assert not stale, f"{where} has strings gone from the code {gone}: {MAKE_I18N}"


def test_english_catalog_leaves_the_ids_as_the_text() -> None:
    catalog = load(po_path("en"))
    translated = [m.id for m in entries(catalog) if any(s for _src, s in forms(m))]
    assert not translated, f"English msgstr should stay empty (the ids are the text): {translated}"


# 4. Really used ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compiled() -> None:
    """Compile any missing or outdated .mo (normally `make test` has built them already)."""
    rebuilt = False
    for po in [po_path(lang) for lang in i18n.LANGUAGES] + sorted(LOCALES.glob("*/LC_MESSAGES/ketpaar_sms.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        tmp = mo.with_name(f".{mo.name}.{os.getpid()}")
        with tmp.open("wb") as f:
            write_mo(f, load(po))
        os.replace(tmp, mo)  # atomic, so a parallel reader never sees half a file
        rebuilt = True
    if rebuilt:  # forget catalogs loaded before the rebuild
        i18n.catalog.cache_clear()
        i18n.sms_catalog.cache_clear()
        getattr(gettext, "_translations", {}).clear()


HELP_FIRST_LINE = (
    "Ketpaar feeds people in need. Send a photo of a person who needs a meal, then their location."
)


@pytest.mark.usefixtures("compiled")
def test_translator_speaks_tamil() -> None:
    tamil = i18n.translator("ta")(HELP_FIRST_LINE)
    assert TAMIL.search(tamil), tamil
    assert tamil == load(po_path("ta"))[HELP_FIRST_LINE].string
    assert i18n.translator("en")(HELP_FIRST_LINE) == HELP_FIRST_LINE
    assert i18n.translator("xx")(HELP_FIRST_LINE) == HELP_FIRST_LINE  # unknown: English


@pytest.mark.usefixtures("compiled")
def test_plural_forms_in_tamil_and_english() -> None:
    plurals = [m for m in entries(load(po_path("ta"))) if not isinstance(m.id, str)]
    if not plurals:
        pytest.skip("no plural messages in the code")
    singular, plural_form = plurals[0].id[:2]
    one, many = (i18n.plural("ta", singular, plural_form, n) for n in (1, 5))
    assert TAMIL.search(one) and TAMIL.search(many) and one != many
    assert i18n.plural("en", singular, plural_form, 1) == singular
    assert i18n.plural("en", singular, plural_form, 5) == plural_form


# 5. Money ----------------------------------------------------------------------------------


def test_money_uses_indian_grouping() -> None:
    assert i18n.money(10_000_000, "ta") == "₹1,00,000"
    assert i18n.money(10_000_000, "en") == "₹1,00,000"
    assert i18n.money(6050, "en") == "₹60.50"
    assert i18n.money(6050, "ta") == "₹60.50"
    assert i18n.money(123_456_789, "en") == "₹12,34,567.89"


def test_sms_variants_shorten_known_messages_with_the_same_placeholders() -> None:
    main = {m.id: m.string for m in load(po_path("ta")) if m.id}
    variants = [m for m in load(LOCALES / "ta" / "LC_MESSAGES" / "ketpaar_sms.po") if m.id]
    assert variants
    for m in variants:
        assert m.id in main, f"SMS variant for a message that no longer exists: {m.id!r}"
        assert TAMIL.search(m.string) and fields(m.string) == fields(m.id), m.id
        assert len(m.string) < len(main[m.id]), f"the SMS variant is not shorter: {m.id!r}"


def test_the_sms_channel_gets_the_short_variant_and_others_the_full_text(compiled: None) -> None:
    msgid = "Sorry, no restaurant near there can take an order right now. Please try again later."
    full, short = i18n.translator("ta")(msgid), i18n.translator("ta", "sms")(msgid)
    assert TAMIL.search(full) and TAMIL.search(short) and len(short) < len(full)
    assert i18n.translator("ta", "sms")("Thank you!") == i18n.translator("ta")("Thank you!")  # no variant: full
    assert i18n.translator("en", "sms")(msgid) == msgid

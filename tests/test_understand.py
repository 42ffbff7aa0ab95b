"""The typed-reply table: what each of several hundred ways of typing means, per kind of question.

Each row is (typed, prompt, expected): the prompt is one of the button sets the flows really
send; expected is the label of the option the typed words must press, or None when the words
must press nothing (a question, a negation, a murmur before money, a word for another button)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows.understand import Intent, choose, is_skip, normalise, typed_command, understand

# The button sets the flows send, as (label, payload) in English; numbers as the SMS shows them.
PROMPTS: dict[str, list[tuple[str, str]]] = {
    "consent": [("Yes, they agreed", "consent:yes"), ("No", "consent:no")],
    "scene": [("Busy and well lit", "scene:busy_lit"), ("Busy but dark", "scene:busy_dark"),
              ("Quiet but lit", "scene:quiet_lit"), ("Quiet and dark", "scene:quiet_dark"), ("Not sure", "scene:unsure")],
    "meal": [("Curd rice ₹60", "meal:1:1"), ("Sambar rice ₹70", "meal:1:2"), ("Cancel", "cancel:1")],
    "tip": [("No tip", "tip:1:1:0"), ("Tip ₹10", "tip:1:1:1000"), ("Tip ₹20", "tip:1:1:2000")],
    "pay": [("Pay ₹100", "pay:1:1:1000"), ("Cancel", "cancel:1")],
    "pay_no_tip": [("Pay ₹90", "pay:1:1:0"), ("Cancel", "cancel:1")],
    "order": [("Accept", "accept:1"), ("Reject", "reject:1")],
    "ready": [("Ready", "ready:1")],
    "claim": [("Claim", "claim:1")],
    "pickup": [("Picked up", "pickup:1")],
    "deliver": [("Delivered", "delivered:1"), ("Person not found", "notfound:1")],
    "report": [("It went well", "report:1:ok"), ("Safety problem", "report:1:issue"), ("Show jobs", "jobs:"),
               ("Report a problem", "dispute:1")],
    "appeal": [("Appeal", "appeal:1")],
    "approve": [("Approve", "approve:worker:1"), ("Reject", "deny:worker:1")],
    "deposit": [("Confirm", "deposit:yes:ab"), ("Cancel", "deposit:no:ab")],
    "wait": [("Wait longer", "wait:1"), ("Stop the order", "giveup:1")],
    "coming": [("Still coming", "coming:1"), ("Give the job back", "giveback:1")],
    "forget": [("Erase my data", "forget:yes:0"), ("Keep everything", "forget:no")],
    "payto": [("Yes, pay here", "payto:yes:n1"), ("No", "payto:no:n1")],
    "language": [("தமிழ்", "lang:ta"), ("English", "lang:en")],
    "cancel_order": [("Cancel order", "cancel:1")],
}  # fmt: skip


def _label(prompt: str, index: int | None) -> str | None:
    return None if index is None else PROMPTS[prompt][index][0]


YES_WORDS = ["yes", "Yes", "YES", "y", "ok", "OK", "Ok.", "okay", "okkk", "yesss", "sure", "done",
             "ஆம்", "ஆமா", "ஆமாம்", "ஆமாங்க", "சரி", "சரிங்க", "சரி!", "ஓகே", "ஓகேங்க", "aam", "aama", "aamam",
             "sari", "seri", "seriii", "saringa", "seringa", "ok seri", "sari sari", "👍", "👍🏽", "✅"]  # fmt: skip
NO_WORDS = ["no", "No", "NO", "n", "nope", "noooo", "not ok", "இல்லை", "இல்ல", "இல்லைங்க", "வேண்டாம்", "வேணாம்",
            "வேண்டாங்க", "illa", "illai", "illanga", "venam", "venaam", "venanga", "vendam", "ok illa", "👎", "❌"]  # fmt: skip
WEAK_YES = ["k", "kk", "hmm", "ம்", "👌"]
QUESTIONS = ["ok?", "OK ?", "yes?", "சரியா?", "pay?", "sari?", "எவ்வளவு?", "ready?", "why?"]
NOT_YES = ["not ok", "no ok", "ok illa", "ok illai", "okay not", "yes no", "maybe", "later", "wait", "pinnadi",
           "அப்புறம்", "தெரியல", "theriyala", "ok but", "ok?", "ஓகே?", "sariyaa?", "👍?", "", "   ", "!!!", "."]  # fmt: skip
NUMBERS = {"1": 1, "௧": 1, "1.": 1, "1)": 1, "#1": 1, "option 1": 1, "ஒண்ணு": 1, "ஒன்று": 1, "onnu": 1, "ondru": 1,
           "one": 1, "2": 2, "௨": 2, "ரெண்டு": 2, "இரண்டு": 2, "rendu": 2, "irandu": 2, "two": 2, "3": 3, "மூணு": 3,
           "moonu": 3, "three": 3, "நாலு": 4, "naalu": 4, "அஞ்சு": 5, "anju": 5, "five": 5}  # fmt: skip

ROWS: list[tuple[str, str, str | None]] = []
# yes/no on every two-way question: yes = the positive button, no = the negative one.
for _p, _yes, _no in [("consent", 0, 1), ("order", 0, 1), ("approve", 0, 1), ("coming", 0, 1),
                      ("payto", 0, 1), ("report", 0, 1)]:  # fmt: skip
    ROWS += [(w, _p, _label(_p, _yes)) for w in YES_WORDS]
    ROWS += [(w, _p, _label(_p, _no)) for w in NO_WORDS]
# "wait longer, or stop the order?" is not a yes/no question: a typed "no" must not end the order
ROWS += [(w, "wait", None) for w in YES_WORDS[:6] + NO_WORDS[:6] + WEAK_YES[:2]]
ROWS += [("1", "wait", "Wait longer"), ("wait longer", "wait", "Wait longer"), ("2", "wait", "Stop the order")]
# single buttons: a yes presses it, a no presses nothing
for _p in ("ready", "claim", "pickup"):
    ROWS += [(w, _p, _label(_p, 0)) for w in YES_WORDS[:12] + WEAK_YES]
    ROWS += [(w, _p, None) for w in NO_WORDS[:8]]
# a lone Cancel button is pressed by neither "ok" nor "no" (only by its number or its word)
ROWS += [(w, "cancel_order", None) for w in YES_WORDS[:8]]
ROWS += [(w, "appeal", None) for w in YES_WORDS[:8] + NO_WORDS[:4]]  # a yes never appeals; "1" or the word does
ROWS += [("1", "appeal", "Appeal"), ("appeal", "appeal", "Appeal"), ("show jobs", "report", "Show jobs")]
ROWS += [(w, "cancel_order", None) for w in NO_WORDS[:4]]
# the tip: "வேண்டாம்" is "No tip"; "yes" is ambiguous (which tip?)
ROWS += [(w, "tip", "No tip") for w in NO_WORDS]
ROWS += [(w, "tip", None) for w in ("yes", "ok", "சரி", "seri")]
ROWS += [("curd rice", "meal", "Curd rice ₹60"), ("SAMBAR", "meal", "Sambar rice ₹70"), ("rice", "meal", None),
         ("no tip", "tip", "No tip"), ("Tip ₹10", "tip", "Tip ₹10"), ("2", "tip", "Tip ₹10"), ("மூணு", "tip", "Tip ₹20")]
# money: a clear yes pays; a question, a negation or a murmur never does
for _p in ("pay", "pay_no_tip", "deposit", "forget"):
    ROWS += [(w, _p, _label(_p, 0)) for w in ("yes", "ok", "சரி", "seri", "ஆமாம்", "👍", "1", "ஒண்ணு", "onnu")]
    ROWS += [(w, _p, None) for w in WEAK_YES + QUESTIONS]
    ROWS += [(w, _p, _label(_p, 1)) for w in ("not ok", "ok illa", "ok illai")]  # a no: the Cancel side
    ROWS += [(w, _p, None) for w in NOT_YES if w not in ("not ok", "ok illa", "ok illai")]
ROWS += [("pay", "pay", "Pay ₹100"), ("செலுத்து", "pay", "Pay ₹100"), ("kattu", "pay", "Pay ₹100"),
         ("2", "pay", "Cancel"), ("rendu", "pay", "Cancel"), ("no", "pay", "Cancel"), ("venam", "pay", "Cancel")]  # fmt: skip
# numbers, digits and number words on every kind of prompt
for _typed, _n in NUMBERS.items():
    for _p in ("scene", "meal", "tip", "deliver", "order"):
        ROWS.append((_typed, _p, _label(_p, _n - 1) if _n <= len(PROMPTS[_p]) else None))
# button words in either language, for everyone
ROWS += [(w, "order", "Accept") for w in ("accept", "Accept", "ACCEPT", "acept", "ஏற்கிறேன்", "ethukaren")]
ROWS += [(w, "order", "Reject") for w in ("reject", "Reject", "முடியாது", "mudiyathu", "mudiyadhu", "நிராகரி", "decline")]
ROWS += [(w, "ready", "Ready") for w in ("ready", "Ready!", "READY", "redy", "ரெடி", "தயார்", "redi", "ready aachu",
                                           "பார்சல் ரெடி", "thayar")]  # fmt: skip
ROWS += [(w, "claim", "Claim") for w in ("claim", "take", "நான் எடுக்கிறேன்", "edukkiren", "naan edukkiren")]
ROWS += [(w, "pickup", "Picked up") for w in ("picked up", "pickup", "Pick up", "பிக்கப்", "பிக்கப் செய்தேன்",
                                              "pickup aachu", "eduthuten", "எடுத்துக்கொண்டேன்")]  # fmt: skip
ROWS += [(w, "deliver", "Delivered") for w in ("delivered", "Delivered", "deliverd", "கொடுத்துவிட்டேன்", "koduthuten",
                                               "delivery aachu", "டெலிவரி ஆச்சு")]  # fmt: skip
ROWS += [(w, "deliver", "Person not found") for w in ("not found", "person not found", "ஆள் இல்லை", "aal illa", "kaanom")]
ROWS += [(w, "deliver", None) for w in ("yes", "ok", "no", "hmm", "accept")]  # two positive buttons: say which
ROWS += [(w, "order", None) for w in ("ready", "claim", "delivered", "pickup")]  # another button's word
ROWS += [(w, "language", "தமிழ்") for w in ("tamil", "Tamil", "தமிழ்", "thamizh", "1")]
ROWS += [(w, "language", "English") for w in ("english", "English", "ஆங்கிலம்", "2")]
ROWS += [(w, "scene", "Busy and well lit") for w in ("busy and well lit", "Busy and well lit.")]
ROWS += [(w, "scene", None) for w in ("yes", "no", "ok", "busy", "dark", "?")]
ROWS += [("Erase my data", "forget", "Erase my data"), ("Keep everything", "forget", "Keep everything"),
         ("no", "forget", "Keep everything"), ("வேண்டாம்", "forget", "Keep everything")]  # fmt: skip
ROWS += [(w, p, None) for w in ("hi", "hello", "வணக்கம்", "help", "/help", "lol", "🙂", "123456789") for p in ("order", "pay")]


def _choose(prompt: str, typed: str) -> str | None:
    options = PROMPTS[prompt]
    numbers = list(range(1, len(options) + 1))
    return _label(prompt, choose([p for _, p in options], [label for label, _ in options], numbers, typed))


def test_the_table_holds_at_least_300_typed_inputs_in_both_languages_and_scripts() -> None:
    assert len(ROWS) >= 300, len(ROWS)
    typed = {t for t, _, _ in ROWS}
    assert any(any("\u0b80" <= c <= "\u0bff" for c in t) for t in typed)  # Tamil script
    assert {"seri", "venam", "onnu", "koduthuten"} <= typed  # Tanglish
    assert {p for _, p, _ in ROWS} == set(PROMPTS)  # every prompt type
    assert any(e is None for _, p, e in ROWS if p == "pay")


@pytest.mark.parametrize(("typed", "prompt", "expected"), ROWS, ids=[f"{p}-{i}" for i, (_, p, _) in enumerate(ROWS)])
def test_a_typed_reply_presses_the_expected_option(typed: str, prompt: str, expected: str | None) -> None:
    assert _choose(prompt, typed) == expected, (typed, prompt)


# What a message says before we know the question: commands, greetings, questions.
MEANINGS: list[tuple[str, Intent, str]] = [
    ("hi", Intent.GREETING, ""), ("Hii", Intent.GREETING, ""), ("hello", Intent.GREETING, ""),
    ("வணக்கம்", Intent.GREETING, ""), ("ஹாய்", Intent.GREETING, ""), ("vanakkam", Intent.GREETING, ""),
    ("help", Intent.COMMAND, "/help"), ("உதவி", Intent.COMMAND, "/help"), ("udhavi", Intent.COMMAND, "/help"),
    ("/உதவி", Intent.COMMAND, "/help"), ("/velai", Intent.COMMAND, "/jobs"), ("velaigal", Intent.COMMAND, "/jobs"),
    ("வேலைகள்", Intent.COMMAND, "/jobs"), ("job", Intent.COMMAND, "/jobs"), ("balence", Intent.COMMAND, "/balance"),
    ("பேலன்ஸ்", Intent.COMMAND, "/balance"), ("இருப்பு", Intent.COMMAND, "/balance"), ("order", Intent.COMMAND, "/orders"),
    ("ஆர்டர்", Intent.COMMAND, "/orders"), ("cancle", Intent.COMMAND, "/cancel"), ("கேன்சல்", Intent.BUTTON, "cancel"),
    ("/பேலன்ஸ்", Intent.COMMAND, "/balance"), ("மெனு", Intent.COMMAND, "/menu"), ("ஆன்லைன்", Intent.COMMAND, "/online"),
    ("ofline", Intent.COMMAND, "/offline"), ("varumanam", Intent.COMMAND, "/earnings"), ("/help@ketpaar_bot", Intent.COMMAND, "/help"),
    ("ok?", Intent.QUESTION, ""), ("சரியா?", Intent.QUESTION, ""), ("not ok", Intent.NO, ""), ("OK", Intent.YES, ""),
    ("k", Intent.WEAK_YES, ""), ("onnu", Intent.NUMBER, "1"), ("௩", Intent.NUMBER, "3"), ("something odd", Intent.UNKNOWN, ""),
    # the campaign and pledge commands as people type them
    ("கூட்டுநிதிகள்", Intent.COMMAND, "/campaigns"), ("கூட்டு நிதிகள்", Intent.COMMAND, "/campaigns"),
    ("koottunidhigal", Intent.COMMAND, "/campaigns"), ("/கூட்டுநிதிகள்", Intent.COMMAND, "/campaigns"),
    ("campains", Intent.COMMAND, "/campaigns"), ("அருகில்", Intent.COMMAND, "/nearby"), ("arugil", Intent.COMMAND, "/nearby"),
    ("near by", Intent.COMMAND, "/nearby"), ("அடிக்கடி", Intent.COMMAND, "/often"), ("adikkadi", Intent.COMMAND, "/often"),
    ("ஒவ்வொரு முறையும்", Intent.COMMAND, "/often"), ("every time", Intent.COMMAND, "/often"),
    ("தினமும்", Intent.COMMAND, "/daily"), ("thinamum", Intent.COMMAND, "/daily"), ("dhinamum", Intent.COMMAND, "/daily"),
    ("தினமும் ஒருமுறை", Intent.COMMAND, "/daily"), ("Once a day", Intent.COMMAND, "/daily"),
]  # fmt: skip


@pytest.mark.parametrize(("typed", "intent", "value"), MEANINGS)
def test_what_a_message_says_before_knowing_the_question(typed: str, intent: Intent, value: str) -> None:
    meaning = understand(typed)
    assert (meaning.intent, meaning.value) == (intent, value)


# "Skip" where a few optional words are asked for (a dispute's words, a rating's comment).
SKIPS = ["skip", "Skip", "SKIP!", "skippp", "skp", "தவிர்", "தவிர்க்கவும்", "ஸ்கிப்", "thavir", "no", "இல்லை", "வேண்டாம்",
         "வேணாம்", "venam", "no comment", "கருத்து இல்லை", "onnum illa"]  # fmt: skip
NOT_SKIPS = ["skip the onions", "ரொம்ப காரம்", "not bad", "இல்லை, சாப்பாடு ஆறிப்போச்சு", "ok", "சரி", "1", "", "தவிர"]


@pytest.mark.parametrize("typed", SKIPS)
def test_skip_words_in_both_languages(typed: str) -> None:
    assert is_skip(typed), typed


@pytest.mark.parametrize("typed", NOT_SKIPS)
def test_words_that_are_a_comment_are_not_skip(typed: str) -> None:
    assert not is_skip(typed), typed


def test_a_whole_typed_text_names_its_command_but_words_after_it_do_not() -> None:
    assert typed_command("தினமும் ஒருமுறை") == typed_command("once a day") == "/daily"
    assert typed_command("அடிக்கடி") == "/often"
    assert typed_command("/often 2") == typed_command("daily 3") == typed_command("something odd") == ""


def test_normalising_is_nfc_case_emoji_and_emphasis() -> None:
    assert normalise("  OKKK!!  ") == "ok"
    assert normalise("👍🏾") == "👍"
    assert normalise("ச\u0bb0\u0bbf") == "சரி"
    assert normalise("௧௨") == "12"
    assert normalise("ok?") == "ok?"  # a question mark stays: it changes the meaning


@given(st.text(max_size=30))
def test_a_question_never_presses_a_money_button(text: str) -> None:
    for prompt in ("pay", "deposit", "forget"):
        assert _choose(prompt, text + "?") is None


@given(st.text(max_size=30))
def test_only_a_clear_yes_a_number_or_the_buttons_own_words_press_pay(text: str) -> None:
    pressed = _choose("pay", text)
    said = normalise(text)
    if pressed == "Pay ₹100":
        assert (understand(text).intent in (Intent.YES, Intent.NUMBER, Intent.BUTTON)
                or "pay ₹100".startswith(said)), text  # fmt: skip

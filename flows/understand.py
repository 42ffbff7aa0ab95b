"""What a typed reply means: one table of words per intent, in Tamil script, Tanglish and English.

Every typed message is first normalised the same way (NFC, case, Tamil digits, emoji variation
selectors and skin tones, trailing full stops and exclamation marks, letters repeated for
emphasis: "seriii" = "seri", "okkk" = "ok"), then looked up whole in the tables below. Nothing
is matched as a substring: "not ok" is not "ok", "ok illa" is not "ok".

What is safe for money (a payment, a deposit, payout details, an erasure):
* a question is never an answer: "ok?", "சரியா?", "pay?" mean nothing (the person is asking);
* a negation is never a yes ("not ok", "ok illa", "வேண்டாம்");
* only a clear yes confirms money ("yes", "ok", "சரி", "ஆமாங்க", "seri", 👍, a number, the
  button's own word); the murmurs that also say yes in chat ("k", "hmm", "ம்", 👌) answer other
  questions but not those that move money (MONEY_VERBS).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from flows.steps import Verb

_TAMIL_DIGITS = str.maketrans("௦௧௨௩௪௫௬௭௮௯", "0123456789")
# Emoji presentation selectors, zero-width joiners and skin-tone modifiers: 👍🏽 is 👍.
_INVISIBLE = re.compile("[\ufe0e\ufe0f\u200b\u200c\u200d\U0001f3fb-\U0001f3ff]")
_LATIN_REPEAT = re.compile(r"([a-z])\1{2,}")  # three or more of one letter: "okkk", "yesss"
_TAMIL_VOWEL_SIGN_REPEAT = re.compile("([\u0bbe-\u0bcd])\\1+")  # "சரிிி" typed on a sticky keyboard
_SPACES = re.compile(r"\s+")


class Intent(StrEnum):
    """What a typed message says, before we know which question it answers."""

    YES = "yes"
    WEAK_YES = "weak_yes"  # "k", "hmm", "ம்": a yes in chat, not enough to move money
    NO = "no"
    NUMBER = "number"
    COMMAND = "command"
    GREETING = "greeting"
    BUTTON = "button"  # a button's word ("accept", "ரெடி") typed instead of pressed
    QUESTION = "question"  # ends in "?": never taken as an answer
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Meaning:
    """An intent and its value (the number, the command, the button verb), if any."""

    intent: Intent
    value: str = ""

    @property
    def number(self) -> int | None:
        """The number typed, for NUMBER."""
        return int(self.value) if self.intent is Intent.NUMBER else None


def normalise(text: str) -> str:
    """How every typed message is compared: NFC, case-folded, Tamil digits as ASCII, emoji bare,
    trailing full stops and exclamation marks gone, letters repeated for emphasis once."""
    said = unicodedata.normalize("NFC", text).translate(_TAMIL_DIGITS)
    said = _INVISIBLE.sub("", said).casefold()
    said = _SPACES.sub(" ", said).strip().rstrip(".!।, ").strip()
    said = _LATIN_REPEAT.sub(r"\1", said)
    return _TAMIL_VOWEL_SIGN_REPEAT.sub(r"\1", said)


def _polite(words: set[str]) -> set[str]:
    """Tamil words with the polite -ங்க (and Tanglish -nga) added."""
    out = set(words)
    for w in words:
        if re.search("[\u0b80-\u0bff]", w):
            # வேண்டாம் → வேண்டாங்க, ஆமாம் → ஆமாங்க, சரி → சரிங்க, இல்லை → இல்லைங்க
            out.add((w[:-2] if w.endswith("ம்") else w) + "ங்க")
        elif w.isascii() and w.isalpha() and len(w) > 2:
            out.add((w[:-1] if w.endswith("m") else w) + "nga")  # venam → venanga, sari → saringa
    return out


YES_WORDS = _polite({
    "yes", "y", "ya", "yeah", "yep", "yup", "ok", "okay", "okey", "okie", "sure", "done", "fine", "confirm",
    "ஆம்", "ஆமா", "ஆமாம்", "சரி", "ஓகே", "ஓக்கே", "ஒகே", "ஆகட்டும்", "ஓ", "செய்",
    "aam", "aama", "aamaa", "aamam", "amam", "ama", "sari", "seri", "shari", "okay da", "ok da", "ok sir",
    "சரி சரி", "ஓகே சரி", "sari sari", "seri seri", "ok seri", "ok sari", "ok ok",
    "👍", "✅", "✔", "☑", "🙏", "👍👍",
})  # fmt: skip
WEAK_YES_WORDS = {"k", "kk", "hmm", "hm", "mm", "ம்", "ம்ம்", "ம்ம", "உம்", "👌", "🆗", "ok ji"}
NO_WORDS = _polite({
    "no", "n", "nope", "nah", "not ok", "not okay", "don't", "dont", "do not", "never", "no thanks", "no thank you",
    "இல்லை", "இல்ல", "இல்லே", "வேண்டாம்", "வேணாம்", "வேணா", "முடியாது", "ஓகே இல்லை", "சரி இல்லை", "வேண்டா",
    "illai", "illa", "ille", "illey", "venam", "venaam", "vendam", "vendaam", "vena", "venda", "mudiyathu",
    "mudiyaadhu", "mudiyadhu", "mudiyadu", "ok illa", "ok illai", "sari illa", "seri illa", "no da",
    "👎", "❌", "✖", "🙅",
})  # fmt: skip

# Number words people type for an option: Tamil script (spoken and written forms), Tanglish, English.
NUMBER_WORDS: dict[str, int] = {}
for _n, _words in {
    1: "ஒண்ணு ஒன்னு ஒன்று ஒன்ணு onnu ondru onru one first 1st",
    2: "ரெண்டு இரண்டு ரெண்டூ rendu randu irandu two second 2nd",
    3: "மூணு மூன்று மூனு moonu munu moondru three third 3rd",
    4: "நாலு நான்கு naalu nalu naangu four fourth 4th",
    5: "அஞ்சு ஐந்து anju anji ainthu aindhu five fifth 5th",
    6: "ஆறு aaru six sixth 6th",
    7: "ஏழு ezhu elu yezhu seven seventh 7th",
    8: "எட்டு ettu eight eighth 8th",
    9: "ஒன்பது onbadhu onbathu ombathu nine ninth 9th",
    10: "பத்து pathu patthu ten tenth 10th",
}.items():
    NUMBER_WORDS.update(dict.fromkeys(_words.split(), _n))

# Button words, in either language, for every button a person may be offered: a Tamil speaker
# without a Tamil keyboard types "accept", an English speaker may copy a Tamil label.
BUTTON_WORDS: dict[str, set[str]] = {
    Verb.ACCEPT: {"accept", "accepted", "acept", "accpet", "ஏற்கிறேன்", "ஏற்கிறோம்", "ஏற்பு", "ஏத்துக்கிறேன்",
                  "ethukaren", "ethukiren", "yethukaren", "etharkiren", "accept pannren", "accept panren"},
    Verb.REJECT: {"reject", "rejected", "decline", "cant", "can't", "cannot", "முடியாது", "நிராகரி", "mudiyathu",
                  "mudiyadhu", "mudiyaadhu", "mudiyadu", "reject pannren"},
    Verb.READY: {"ready", "redy", "reddy", "raedy", "ரெடி", "தயார்", "ரெடியா இருக்கு", "ரெடி ஆச்சு", "redi",
                 "thayar", "thayaar", "ready aachu", "ready achu", "parcel ready", "பார்சல் ரெடி", "packed"},
    Verb.CLAIM: {"claim", "clam", "take", "i take", "i'll take", "ill take", "i will take", "நான் எடுக்கிறேன்",
                 "எடுக்கிறேன்", "naan edukkiren", "naan edukiren", "edukkiren", "edukiren", "nan edukaren",
                 "edukaren", "edukkaren"},
    Verb.PICKUP: {"picked up", "pickedup", "picked", "pickup", "pick up", "pikup", "picup", "பிக்கப்",
                  "பிக்கப் செய்தேன்", "பிக்கப் ஆச்சு", "பிக்கப் பண்ணிட்டேன்", "எடுத்துக்கொண்டேன்",
                  "pickup aachu", "pickup achu", "pickup panniten", "pickup pannitten", "eduthuten", "eduthutten",
                  "eduthachu"},
    Verb.DELIVERED: {"delivered", "deliverd", "delivred", "delivery done", "given", "gave", "கொடுத்துவிட்டேன்",
                     "கொடுத்துட்டேன்", "குடுத்துட்டேன்", "டெலிவரி ஆச்சு", "டெலிவரி ஆனது", "koduthuten",
                     "koduthutten", "kuduthuten", "kuduthutten", "delivery aachu", "delivery achu",
                     "delivered aachu"},
    Verb.NOT_FOUND: {"not found", "person not found", "notfound", "not there", "ஆள் இல்லை", "ஆளைக் காணவில்லை",
                     "ஆள் கிடைக்கவில்லை", "aal illa", "aal illai", "aala kaanom", "kaanom", "aal kidaikala"},
    Verb.PAY: {"pay", "pay now", "paid", "செலுத்து", "பணம் செலுத்து", "pay pannu", "pay panren", "kattu",
               "panam kattu", "selutthu", "seluthu"},
    Verb.CANCEL: {"cancel", "cancel order", "ரத்து", "ரத்து செய்", "கேன்சல்", "cancel pannu", "rathu"},
}  # fmt: skip

# Words for one particular option, where the verb alone does not say which (both languages are "lang").
OPTION_WORDS: dict[str, set[str]] = {
    "lang:ta": {"tamil", "thamizh", "tamizh", "தமிழ்", "ta"},
    "lang:en": {"english", "inglish", "ஆங்கிலம்", "இங்கிலீஷ்", "en"},
}

# Typed commands: Tamil script, Tanglish and English, singular and plural, common misspellings.
COMMAND_WORDS: dict[str, str] = {}
for _command, _spellings in {
    "/help": ["help", "help me", "halp", "hlp", "உதவி", "ஹெல்ப்", "udhavi", "uthavi", "udavi", "?"],
    "/jobs": ["jobs", "job", "jobz", "velai", "velaigal", "வேலை", "வேலைகள்", "ஜாப்", "ஜாப்ஸ்", "open jobs"],
    "/language": ["language", "lang", "langauge", "mozhi", "மொழி", "bhasha"],
    "/balance": ["balance", "balence", "ballance", "balanse", "bal", "இருப்பு", "பேலன்ஸ்", "பேலன்சு", "balance evlo",
                 "iruppu", "my balance"],
    "/cancel": ["cancel", "cancle", "cancell", "stop", "ரத்து", "நிறுத்து", "கேன்சல்", "rathu", "niruthu"],
    "/start": ["start", "restart", "register", "தொடங்கு", "ஆரம்பி", "thodangu", "aarambi", "பதிவு"],
    "/online": ["online", "onlin", "ஆன்லைன்", "ஆன்லைனில்", "online vaa"],
    "/offline": ["offline", "oflline", "ofline", "ஆஃப்லைன்", "ஆப்லைன்", "offline po"],
    "/orders": ["orders", "order", "my orders", "ordrs", "ஆர்டர்கள்", "ஆர்டர்", "என் ஆர்டர்", "order list"],
    "/menu": ["menu", "menus", "மெனு", "மெனூ", "menu maathu"],
    "/capacity": ["capacity", "capasity", "capacty", "அளவு", "எண்ணிக்கை", "alavu", "ennikkai"],
    "/link": ["link", "இணை", "இணைப்பு", "inai", "inaippu"],
    "/dispute": ["dispute", "complaint", "complain", "புகார்", "pugar", "pugaar"],
    "/topup": ["topup", "top up", "top-up", "recharge", "டாப்அப்", "டாப் அப்", "நிரப்பு"],
    "/earnings": ["earnings", "earning", "income", "வருமானம்", "சம்பாத்தியம்", "varumanam", "sambathiyam"],
    "/payout": ["payout", "pay out", "பணம்பெற", "பணம் பெற"],
    "/mydata": ["mydata", "my data", "என்தகவல்", "என் தகவல்", "en thagaval"],
    "/forget": ["forget", "forget me", "மறந்துவிடு", "மறந்திடு", "marandhidu"],
    "/pool": ["pool", "நிதி", "nidhi"],
    "/books": ["books", "book", "accounts", "கணக்கு", "கணக்குகள்", "kanakku"],
    "/checkpoint": ["checkpoint", "கையொப்பம்"],
    "/campaigns": ["campaigns", "campains", "கூட்டுநிதிகள்", "கூட்டு நிதிகள்", "koottunidhigal",
                   "kootunidhigal", "koottu nidhigal"],
    "/nearby": ["nearby", "near by", "அருகில்", "arugil", "arugile"],
    "/often": ["often", "every time", "அடிக்கடி", "ஒவ்வொரு முறையும்", "adikkadi", "adikadi", "adikkady"],
    "/daily": ["daily", "once a day", "தினமும்", "தினமும் ஒருமுறை", "dhinamum", "thinamum", "dinamum", "dhinam"],
}.items():
    COMMAND_WORDS.update(dict.fromkeys((normalise(w) for w in _spellings), _command))

# "Skip" typed where a few optional words are asked for (a dispute's words, a rating's comment):
# the button's word in both languages, spoken forms and a plain no.
SKIP_WORDS = frozenset(normalise(w) for w in (
    "skip", "skp", "skipp", "ஸ்கிப்", "தவிர்", "தவிர்க்கவும்", "thavir", "thavirkkavum", "no", "இல்லை", "இல்ல",
    "வேண்டாம்", "வேணாம்", "venam", "vendam", "no comment", "கருத்து இல்லை", "ஒன்றுமில்லை", "onnum illa", "onnumilla",
))  # fmt: skip

# A slash before a typed word ("/உதவி", "/velai") means that word's command.
GREETING_WORDS = {
    "hi", "hii", "hai", "hello", "helo", "hallo", "hey", "hlo", "good morning", "good evening", "gm",
    "வணக்கம்", "ஹாய்", "ஹலோ", "ஹாய் ஹாய்", "vanakkam", "vanakam", "vannakkam", "vanakkam sir", "👋", "🙏🙏",
}  # fmt: skip

# Questions that move money: only a clear yes answers them (see the module docstring).
MONEY_VERBS = frozenset({Verb.PAY, Verb.DEPOSIT, Verb.DEPOSIT2, Verb.PAYTO, Verb.FORGET, Verb.PLEDGE_OK})

_TAMIL_LETTERS = re.compile("[\u0b80-\u0bff]")


def typed_command(text: str) -> str:
    """The command a whole typed text spells ("தினமும் ஒருமுறை" → "/daily"), or "" (a slash, or words after it)."""
    return COMMAND_WORDS.get(normalise(text), "")


def is_skip(text: str) -> bool:
    """Whether typed words say "skip" (no words to add), normalised as every typed reply is."""
    return normalise(text) in SKIP_WORDS


def is_tamil_script(text: str) -> bool:
    """Whether a message has Tamil letters in it (a greeting in Tamil answers in Tamil)."""
    return bool(_TAMIL_LETTERS.search(text))


def _number(said: str) -> int | None:
    """A typed option number: "2", "௨", "2)", "#2", "option 2", "ரெண்டு", "rendu"."""
    bare = re.sub(r"^(?:option|opt|no\.?|number|எண்|#)\s*", "", said).rstrip(")").strip()
    if re.fullmatch(r"[0-9]{1,9}", bare, re.ASCII):
        return int(bare)
    return NUMBER_WORDS.get(bare)


def button_verb(said: str) -> str:
    """The button verb a normalised typed word names ("accept", "ரெடி" → "ready"), or ""."""
    return next((verb for verb, words in BUTTON_WORDS.items() if said in words), "")


def understand(text: str) -> Meaning:
    """What a typed message says, whatever question it answers (see the module docstring)."""
    said = normalise(text)
    if not said:
        return Meaning(Intent.UNKNOWN)
    if said.startswith("/"):
        word = said[1:].split("@", 1)[0]  # Telegram adds @botname in groups
        first = word.split(" ", 1)[0]
        if "/" + first in COMMAND_WORDS.values():
            return Meaning(Intent.COMMAND, "/" + first)
        if command := COMMAND_WORDS.get(word) or COMMAND_WORDS.get(first):
            return Meaning(Intent.COMMAND, command)
        return Meaning(Intent.COMMAND, "/" + first)
    if said.endswith("?") and said != "?":
        return Meaning(Intent.QUESTION)
    if (number := _number(said)) is not None:
        return Meaning(Intent.NUMBER, str(number))
    if said in NO_WORDS:
        return Meaning(Intent.NO)
    if said in YES_WORDS:
        return Meaning(Intent.YES)
    if said in WEAK_YES_WORDS:
        return Meaning(Intent.WEAK_YES)
    if said in GREETING_WORDS:
        return Meaning(Intent.GREETING)
    if verb := button_verb(said):
        return Meaning(Intent.BUTTON, verb)
    if command := COMMAND_WORDS.get(said):
        return Meaning(Intent.COMMAND, command)
    return Meaning(Intent.UNKNOWN)


# Options that say no to their question: what "no" / "வேண்டாம்" presses.
_NEGATIVE_VERBS = frozenset({Verb.REJECT, Verb.DENY, Verb.CANCEL, Verb.GIVE_UP, Verb.GIVE_BACK, Verb.PLEDGE_NO})
# Two-option questions that are not yes/no ("wait longer, or stop the order?"): a typed "no" must
# not pick the second option, which ends an order for good; "yes" says nothing either.
NOT_YES_OR_NO = frozenset({Verb.WAIT})
# Buttons beside a question rather than answers to it ("Show jobs", "Report a problem", "Appeal"):
# a yes never presses them; they are pressed, typed by number or by their own words.
_ASIDE_VERBS = frozenset({Verb.JOBS, Verb.DISPUTE, Verb.APPEAL})


def is_negative(payload: str) -> bool:
    """Whether a button says no: Reject, Cancel, "No" (consent:no, deposit:no:…), "No tip"
    (tip:…:0), "Safety problem" (the answer to "did it go well?")."""
    verb, *args = payload.split(":")
    if verb in _NEGATIVE_VERBS or args[:1] == ["no"]:
        return True
    return (verb == Verb.TIP and args[-1:] == ["0"]) or (verb == Verb.REPORT and args[-1:] == ["issue"])


def choose(payloads: list[str], labels: list[str], numbers: list[int], text: str) -> int | None:
    """Which of a prompt's options a typed reply picks (an index), or None.

    A number picks its option; a label (or the start of only one) in the person's language or a button word in either
    language picks its button; a yes picks the only positive option (a prompt of one button:
    that one), a no the only negative one of two or more; money questions want a clear yes."""
    meaning = understand(text)
    said = normalise(text)
    if meaning.intent is Intent.NUMBER:
        return next((i for i, n in enumerate(numbers) if n == meaning.number), None)
    if meaning.intent is Intent.QUESTION:
        return None
    if (hit := next((i for i, label in enumerate(labels) if normalise(label) == said), None)) is not None:
        return hit
    # The start of one label is enough ("lemon rice" for "Lemon rice ₹55 · Annapoorna Mess (199 m)").
    starts = [i for i, label in enumerate(labels) if len(said) >= 4 and normalise(label).startswith(said)]
    if len(starts) == 1:
        return starts[0]
    if (hit := next((i for i, p in enumerate(payloads) if said in OPTION_WORDS.get(p, ())), None)) is not None:
        return hit
    verbs = [p.split(":", 1)[0] for p in payloads]
    if meaning.intent is Intent.BUTTON:
        hits = [i for i, v in enumerate(verbs) if v == meaning.value]
        return hits[0] if len(hits) == 1 else None
    if verbs and verbs[0] in NOT_YES_OR_NO:
        return None
    negative = [i for i, p in enumerate(payloads) if is_negative(p)]
    positive = [i for i, v in enumerate(verbs) if i not in negative and v not in _ASIDE_VERBS]
    if meaning.intent is Intent.NO:
        # Never a lone button: "no" to something else must not press a standing "Cancel order".
        return negative[0] if len(negative) == 1 and len(payloads) > 1 else None
    if meaning.intent is Intent.WEAK_YES and any(v in MONEY_VERBS for v in verbs):
        return None
    if meaning.intent in (Intent.YES, Intent.WEAK_YES):
        return positive[0] if len(positive) == 1 else None
    return None

"""The words each check needs to know per language, and which language a text is in.

A few checks read words, not only letters: "four" is the number 4, "how many" wants a
quantity, "who"/"did" open a question. Those words live in one small table per language
(English only, to start). A check that needs them asks ``language_of`` the question first:
for a text in a language the table lacks it says "not checked" (the check passes) instead of
refusing an answer for words it cannot read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

_LETTER = re.compile(r"[^\W\d_]")
_WORDS = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Language:
    """The words of one language that the checks read."""

    code: str
    number_words: Mapping[str, str]
    """Number words as digits ("four" -> "4", "third" -> "3rd"): the same number either way."""
    question_words: frozenset[str]
    """Words that open a question ("who", "did"): an answer that starts with one and runs on
    is an echoed question, not an answer."""
    markers: frozenset[str]
    """Frequent short words of the language: one of them in a text marks it as this
    language."""
    asks_frequency: re.Pattern[str]
    asks_quantity: re.Pattern[str]
    asks_date: re.Pattern[str]
    """Question phrases that want an answer of one kind: "how often", "how many", "when"."""
    frequency_words: frozenset[str] = field(default_factory=frozenset)
    quantity_words: frozenset[str] = field(default_factory=frozenset)
    date_words: frozenset[str] = field(default_factory=frozenset)
    """Words that make a short answer one of those kinds ("weekly", "dozens", "Tuesday")."""


ENGLISH = Language(
    code="en",
    number_words=MappingProxyType({
        "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
        "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
        "thirteen": "13", "fifteen": "15", "twenty": "20", "thirty": "30", "fifty": "50",
        "hundred": "100", "first": "1st", "second": "2nd", "third": "3rd", "fourth": "4th",
        "fifth": "5th",
    }),
    question_words=frozenset(
        "who what when where which why how is are was were do does did can could will would "
        "should".split()),
    markers=frozenset(
        "the a an of to and or is are was were be been has have had do does did what which who "
        "whom whose when where why how this that these those it its they their he she his her "
        "you we for from with by at on as not will would can could should".split()),
    asks_frequency=re.compile(r"\bhow often\b", re.I),
    asks_quantity=re.compile(r"\b(how many|how much|what percentage|how long|how far|how old|"
                             r"how big|how tall|how large)\b", re.I),
    asks_date=re.compile(r"\b(when|what year|which year|what date|what day|which day|"
                         r"which month|what month)\b", re.I),
    frequency_words=frozenset(
        "each every daily weekly monthly yearly annually hourly once twice times always often "
        "never rarely".split()),
    quantity_words=frozenset(
        "dozen dozens hundred hundreds thousand thousands million millions billion billions "
        "trillion several few many half quarter double triple".split()),
    date_words=frozenset(
        "january february march april may june july august september october november "
        "december jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday "
        "thursday friday saturday sunday today yesterday tomorrow week month year spring "
        "summer autumn fall winter morning evening night decade century".split()),
)

LANGUAGES: Mapping[str, Language] = MappingProxyType({ENGLISH.code: ENGLISH})
"""Every language the checks can read, by code. A language added here is read by every check
that asks ``language_of``."""

NUMBER_WORDS: Mapping[str, str] = MappingProxyType(
    {w: n for lang in LANGUAGES.values() for w, n in lang.number_words.items()})
"""Every table language's number words as digits, for checks that compare an answer with a
quote word by word: the same number whichever language wrote it."""

SHORT = 3
"""A Latin-script text of fewer words than this is too short to tell its language by: it is
taken as English, as every text was before the table, so no English check is skipped."""


def language_of(text: str) -> Language | None:
    """The table language ``text`` is written in, or None when it is none of them: a text
    mostly in another script than Latin (Cyrillic, Greek, Arabic, CJK), or of ``SHORT`` words
    or more none of which is a marker word of a table language ("Wie viele Einwohner hat
    Freiburg?"). English wins a tie, and a short Latin text is English."""
    letters = _LETTER.findall(text)
    if not letters:
        return ENGLISH
    latin = sum(1 for ch in letters
                if ch.isascii() or "\u00c0" <= ch <= "\u024f" or "\u1e00" <= ch <= "\u1eff")
    if latin * 2 < len(letters):
        return None
    words = [w.lower() for w in _WORDS.findall(text.replace("’", "'"))]
    if len(words) < SHORT:
        return ENGLISH
    for lang in LANGUAGES.values():
        if any(w in lang.markers for w in words):
            return lang
    return None

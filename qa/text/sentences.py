"""Sentences with their character offsets, and the content words used for overlap checks.

Offsets matter because every citation must point at an exact span of the stored article:
splitting keeps ``text[start:end] == sentence`` instead of returning bare strings.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass


def _char_class(has: Callable[[str], bool]) -> str:
    """The characters of the Basic Multilingual Plane for which ``has`` is true, as the inside
    of a regex character class (ranges). Python's ``re`` knows no ``\\p{Lu}``; the BMP holds
    every script a news article is written in."""
    codes = [c for c in range(0x10000) if has(chr(c))]
    ranges: list[str] = []
    i = 0
    while i < len(codes):
        j = i
        while j + 1 < len(codes) and codes[j + 1] == codes[j] + 1:
            j += 1
        ranges.append(re.escape(chr(codes[i])) + ("-" + re.escape(chr(codes[j])) if j > i
                                                   else ""))
        i = j + 1
    return "".join(ranges)


@functools.cache
def upper_letters() -> str:
    """Upper-case (and title-case) letters of any script, for a character class: "Über", "Ω".
    Built on first use, not at import: a command that splits no text (``qa list``) does not
    pay for the scan of the Unicode table."""
    return _char_class(lambda ch: ch.isupper() or ch.istitle())


@functools.cache
def _marks() -> str:
    """Combining marks: inside a word in Hindi ("हिन्दी") or in decomposed accents ("u" + "¨")."""
    return _char_class(lambda ch: unicodedata.category(ch) in ("Mn", "Mc", "Me"))


# A sentence ends at . ! ? (optionally followed by closing quotes/brackets and [n] markers)
# when whitespace and then an upper-case letter (any script), a digit, an opening quote or
# bracket before one of those, or a "¿" "¡" "«" (which open sentences) follow, unless the text
# before it ends with an abbreviation ("U.S.", "Mr.", "Sept.").
@functools.cache
def _boundary() -> re.Pattern[str]:
    return re.compile(
        r"""(?<=[.!?])["'”’)\]]*(?:\s*\[\d+(?:\s*[,;–-]\s*\d+)*\])*"""
        r"""(?=\s+(?:[¿¡«]|["'“‘„‚‹(\[]?[""" + upper_letters() + r"""0-9]))"""
    )


ABBREVIATIONS = (
    "Mr Mrs Ms Dr Prof Sen Rep Gov Gen Col Lt Sgt St Jr Sr Inc Corp Co Ltd No vs U.S U.K U.N "
    "Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec"
).split()
"""Words that end with a full stop inside a sentence (single capitals, "J.", count too)."""
@functools.cache
def _abbrev() -> re.Pattern[str]:
    return re.compile(r"(?:\b(?:" + "|".join(re.escape(a) for a in ABBREVIATIONS) + r")\.|\b["
                      + upper_letters() + r"]\.)$")


_PARAGRAPH = re.compile(r"[^\n]+(?:\n(?!\s*\n)[^\n]+)*")


@dataclass(frozen=True)
class Span:
    """A sentence and where it sits in the text it was split from."""

    text: str
    start: int
    end: int


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """The sentences of ``text[start:end]``, offsets in ``text``; paragraphs (blank lines)
    always end a sentence. The one splitter: chunking, the evidence, the quote check and so
    the highlighted source all cut text at the same places."""
    end = len(text) if end is None else end
    spans: list[Span] = []
    for para in _PARAGRAPH.finditer(text, start, end):
        base = para.start()
        chunk = para.group()
        pos = 0
        boundary, abbrev = _boundary(), _abbrev()
        for m in boundary.finditer(chunk):
            if abbrev.search(chunk[pos : m.end()]):
                continue
            _add(spans, chunk, pos, m.end(), base)
            pos = m.end()
        _add(spans, chunk, pos, len(chunk), base)
    return spans


def _add(spans: list[Span], chunk: str, start: int, end: int, base: int) -> None:
    piece = chunk[start:end]
    lead = len(piece) - len(piece.lstrip())
    piece = piece.strip()
    if piece:
        spans.append(Span(piece, base + start + lead, base + start + lead + len(piece)))


STOPWORDS = frozenset(
    """a an the and or but if of in on at to for from by with as is are was were be been being
    it its this that these those there their they them he she his her him we our you your i
    what which who whom whose when where why how do does did done has have had having not no
    so than then too very can could will would shall should may might must about into over
    after before also said says say according just only more most such any all some one""".split()
)

@functools.cache
def _word() -> re.Pattern[str]:
    """A word of any script with its accents ("müller", "москва"), or a number kept whole
    ("9.78", "12,000"). An ASCII-only pattern cut "Müller" into "m" + "ller", so "Mäller"
    matched it."""
    return re.compile(r"[^\W_](?:[^\W_]|[" + _marks() + r"])*(?:[.,][0-9]+)*")


def content_words(text: str) -> list[str]:
    """Lower-cased words minus stopwords, with a light plural strip, numbers kept whole.
    NFC first, so a decomposed accent ("u" + "¨") is the same word as a composed "ü"."""
    words = []
    for w in _word().findall(unicodedata.normalize("NFC", text.lower().replace("’", "'"))):
        if w in STOPWORDS:
            continue
        if not w[0].isdigit() and len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        words.append(w)
    return words


def numbers(text: str) -> set[str]:
    """Numbers written in the text, normalised (``9,780`` -> ``9780``)."""
    return {n.replace(",", "") for n in re.findall(r"\d+(?:[.,]\d+)*", text)}

"""Sentences with their character offsets, and the content words used for overlap checks.

Offsets matter because every citation must point at an exact span of the stored article:
splitting keeps ``text[start:end] == sentence`` instead of returning bare strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A sentence ends at . ! ? (optionally followed by closing quotes/brackets and [n] markers)
# when whitespace and an upper-case letter, digit, opening quote or bracket follow, unless the
# text before it ends with an abbreviation ("U.S.", "Mr.", "Sept.").
_BOUNDARY = re.compile(
    r"""(?<=[.!?])["'”’)\]]*(?:\s*\[\d+(?:\s*[,;–-]\s*\d+)*\])*(?=\s+["'“‘(\[]?[A-Z0-9])"""
)
ABBREVIATIONS = (
    "Mr Mrs Ms Dr Prof Sen Rep Gov Gen Col Lt Sgt St Jr Sr Inc Corp Co Ltd No vs U.S U.K U.N "
    "Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec"
).split()
"""Words that end with a full stop inside a sentence (single capitals, "J.", count too)."""
_ABBREV = re.compile(
    r"(?:\b(?:" + "|".join(re.escape(a) for a in ABBREVIATIONS) + r")\.|\b[A-Z]\.)$"
)
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
        for m in _BOUNDARY.finditer(chunk):
            if _ABBREV.search(chunk[pos : m.end()]):
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

_WORD = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")


def content_words(text: str) -> list[str]:
    """Lower-cased words minus stopwords, with a light plural strip, numbers kept whole."""
    words = []
    for w in _WORD.findall(text.lower().replace("’", "'")):
        if w in STOPWORDS:
            continue
        if not w[0].isdigit() and len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        words.append(w)
    return words


def numbers(text: str) -> set[str]:
    """Numbers written in the text, normalised (``9,780`` -> ``9780``)."""
    return {n.replace(",", "") for n in re.findall(r"\d+(?:[.,]\d+)*", text)}

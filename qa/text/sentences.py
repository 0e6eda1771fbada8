"""Sentences with their character offsets, and the content words used for overlap checks.

Offsets matter because every citation must point at an exact span of the stored article:
splitting keeps ``text[start:end] == sentence`` instead of returning bare strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A sentence ends at . ! ? (optionally followed by closing quotes/brackets and [n] markers)
# when whitespace and an upper-case letter, digit or opening quote follow. Abbreviations such
# as "U.S." or "Mr." are protected below, which is enough for news prose.
_BOUNDARY = re.compile(r"""(?<=[.!?])["'”’)\]]*(?:\s*\[[^\]]{1,20}\])*(?=\s+["'“‘(]?[A-Z0-9])""")
_ABBREV = re.compile(r"(?:\b[A-Z]\.|\b(?:Mr|Mrs|Ms|Dr|St|Jr|Sr|No|vs|Gen|Gov|Sen|Rep|Inc|Co)\.)$")


@dataclass(frozen=True)
class Span:
    """A sentence and where it sits in the text it was split from."""

    text: str
    start: int
    end: int


def split_sentences(text: str) -> list[Span]:
    """Split prose into sentences; paragraphs (blank lines) always end a sentence."""
    spans: list[Span] = []
    for para in re.finditer(r"[^\n]+(?:\n(?!\s*\n)[^\n]+)*", text):
        base = para.start()
        chunk = para.group()
        pos = 0
        for m in _BOUNDARY.finditer(chunk):
            end = m.end()
            if _ABBREV.search(chunk[pos:m.start()]):
                continue
            _add(spans, chunk, pos, end, base)
            pos = end
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

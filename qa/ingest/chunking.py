"""News-aware chunking that keeps exact character offsets.

Written by hand because LangChain's splitters lack two things we rely on: they cut inside a
sentence when one sentence is longer than the chunk size, and ``add_start_index`` recovers
offsets with ``str.find``, which maps a repeated passage (common in wire copy) to its first
occurrence. Here offsets come from the split itself, so ``text[start:end]`` is always the chunk.

Rules: a paragraph that fits is never split; neighbouring short paragraphs are packed together
up to the size; a long paragraph is split between sentences. No chunk is ever longer than the
size: a sentence longer than the size (a run-on line with no full stops, a table dumped as
text) is split at the last whitespace that fits, and a run of more than ``size`` characters
with no whitespace at all is cut at the size.
"""

from __future__ import annotations

import re

from qa.errors import ConfigError
from qa.text.sentences import split_sentences
from qa.types import Chunk

_PARA = re.compile(r"\n\s*\n")


def spans(text: str, pattern: re.Pattern[str], start: int = 0, end: int | None = None):
    """(start, end) of the pieces of text[start:end] between matches, whitespace trimmed."""
    end = len(text) if end is None else end
    pos = start
    out: list[tuple[int, int]] = []
    for m in pattern.finditer(text, start, end):
        cut = m.start() + len(m.group(0).rstrip())
        out.append((pos, cut))
        pos = m.end()
    out.append((pos, end))
    trimmed = []
    for s, e in out:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            trimmed.append((s, e))
    return trimmed


_SPACE = re.compile(r"\s+")


def capped_spans(text: str, start: int, end: int, size: int) -> list[tuple[int, int]]:
    """text[start:end] in pieces of at most ``size`` characters, cut at whitespace where there
    is any (the last whitespace that fits), else hard at ``size``; whitespace trimmed."""
    out: list[tuple[int, int]] = []
    pos = start
    while pos < end:
        while pos < end and text[pos].isspace():
            pos += 1
        if pos >= end:
            break
        if end - pos <= size:
            cut = end
        else:
            cut = pos + size
            # a piece may end just before the whitespace at pos + size
            gaps = [m.start() for m in _SPACE.finditer(text, pos + 1, pos + size + 1)]
            if gaps:
                cut = gaps[-1]
        piece_end = cut
        while piece_end > pos and text[piece_end - 1].isspace():
            piece_end -= 1
        out.append((pos, piece_end))
        pos = cut
    return out


def chunk_text(text: str, size: int = 600) -> list[Chunk]:
    """Split an article into chunks of at most ``size`` characters (see the module rules)."""
    if size < 1:
        raise ConfigError(f"the chunk size (QA_CHUNK_SIZE) is {size}; it must be at least 1")
    units: list[tuple[int, int, bool]] = []  # (start, end, starts_paragraph)
    for ps, pe in spans(text, _PARA):
        if pe - ps <= size:
            units.append((ps, pe, True))
            continue
        for i, sentence in enumerate(split_sentences(text, ps, pe)):
            ss, se = sentence.start, sentence.end
            if se - ss <= size:
                units.append((ss, se, i == 0))
            else:  # no sentence end inside: cap it at whitespace
                for j, (cs, ce) in enumerate(capped_spans(text, ss, se, size)):
                    units.append((cs, ce, i == 0 and j == 0))
    chunks: list[Chunk] = []
    cur: tuple[int, int] | None = None
    for s, e, _ in units:
        if cur is not None and e - cur[0] <= size:
            cur = (cur[0], e)
            continue
        if cur is not None:
            chunks.append(Chunk(len(chunks), cur[0], cur[1], text[cur[0] : cur[1]]))
        cur = (s, e)
    if cur is not None:
        chunks.append(Chunk(len(chunks), cur[0], cur[1], text[cur[0] : cur[1]]))
    return chunks

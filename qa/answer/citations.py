"""[n] markers: read them from text a model wrote, and put them where a reader expects them.

What a marker is worth is decided elsewhere: ``qa.answer.grounding`` checks every answer's quote.
"""

from __future__ import annotations

import re

# [1]  [1, 2]  [1-2]  [Passage 1]  [passage 1; passage 3]
_MARKER = re.compile(r"\s*\[((?:passage\s*)?\d+(?:\s*[,;–-]\s*(?:passage\s*)?\d+)*)\]", re.I)


def parse_markers(sentence: str) -> tuple[str, list[int]]:
    """Return the sentence without [n] markers and the numbers cited, in order, deduplicated."""
    cited: list[int] = []
    for m in _MARKER.finditer(sentence):
        body = re.sub(r"passage\s*", "", m.group(1), flags=re.I)
        for part in re.split(r"\s*[,;]\s*", body):
            if re.fullmatch(r"\d+\s*[–-]\s*\d+", part):
                a, b = (int(x) for x in re.split(r"\s*[–-]\s*", part))
                nums = list(range(a, b + 1)) if 0 < b - a < 10 else [a, b]
            else:
                nums = [int(part)]
            cited.extend(n for n in nums if n not in cited)
    clean = _MARKER.sub("", sentence).strip()
    clean = re.sub(r"\s+([.!?,;:])", r"\1", clean)
    return clean, cited


def render(sentence: str, numbers: list[int]) -> str:
    """Put ``[n]`` markers before the sentence's final punctuation: ``... won [2].``"""
    if not numbers:
        return sentence
    marks = "".join(f"[{n}]" for n in numbers)
    m = re.search(r"[.!?]+[\"'”’)]*$", sentence)
    if m:
        return f"{sentence[: m.start()]} {marks}{sentence[m.start():]}"
    return f"{sentence} {marks}"


_ANY_MARKER = re.compile(r"\s*\[\d+(?:\s*[,;–-]\s*\d+)*\]")


def without_markers(text: str) -> str:
    """``text`` with its footnote markers removed: what a reader's words are, so that a
    scorer never counts "[8]" as the number 8."""
    return _ANY_MARKER.sub("", text)


def footnoted(sentences, start: int = 1) -> tuple[list[str], list]:
    """Sentences with their markers renumbered as footnotes by first appearance (the same
    supporting span keeps its number), and the citations in footnote order: how a reader
    sees an answer of several sentences, each of whose citations is its own span."""
    notes: dict[tuple[str, int, int], int] = {}
    ordered = []
    texts = []
    for s in sentences:
        marks = []
        for c in s.citations:
            key = (c.passage.doc_id, c.start, c.end)
            if key not in notes:
                notes[key] = start + len(notes)
                ordered.append(c)
            if notes[key] not in marks:
                marks.append(notes[key])
        bare = _ANY_MARKER.sub("", s.text).rstrip()
        texts.append(render(bare, marks) if marks else bare)
    return texts, ordered

"""Turn the model's raw text into checked sentences: parse [n], verify, correct, render.

Small models cite the wrong passage or invent numbers; this is where that is caught. Every
sentence is checked against every retrieved passage (cheap: a few dozen dot products):
  * a cited passage that supports the sentence is kept, with its best span as the quote;
  * a wrong or missing [n] is replaced by the passage that does support the sentence;
  * an [n] outside the passages is dropped before anything is shown;
  * a sentence no passage supports is kept in ``Answer.sentences`` with ``supported=False``
    and left out of the answer text, so an unverified claim never reads as a cited fact.
"""

from __future__ import annotations

import re

from qa import sentence_vectors
from qa.answer_types import AnswerSentence, Citation
from qa.evidence import Evidence
from qa.support import SpanSupport, best_span, relevant, supports
from qa.textspans import content_words, split_sentences

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


def _citation(evidence: Evidence, support: SpanSupport) -> Citation:
    p = evidence.passages[support.passage_index]
    quote = p.text[support.start - p.start : support.end - p.start]
    return Citation(
        n=support.passage_index + 1,
        passage=p,
        start=support.start,
        end=support.end,
        quote=quote,
        support=round(support.score, 4),
    )


def check_sentences(raw: str, evidence: Evidence) -> list[AnswerSentence]:
    """Split the model's answer into sentences and check each one's citations."""
    parsed = [parse_markers(s.text) for s in split_sentences(raw)]
    parsed = [(clean, cited) for clean, cited in parsed if clean.strip(" .")]
    if not parsed or not evidence.passages:
        return [AnswerSentence(text=clean) for clean, _ in parsed]
    vecs = sentence_vectors.encode([clean for clean, _ in parsed])
    out: list[AnswerSentence] = []
    n_passages = len(evidence.passages)
    given = frozenset(content_words(evidence.question))
    for (clean, cited), vec in zip(parsed, vecs, strict=True):
        spans = [best_span(clean, vec, evidence, i, given) for i in range(n_passages)]
        valid = [n for n in cited if 1 <= n <= n_passages]
        kept = [spans[n - 1] for n in valid
                if supports(spans[n - 1].score) and relevant(spans[n - 1], evidence)]
        corrected = len(kept) != len(cited)
        if not kept:
            best = max(spans, key=lambda s: s.score)
            if supports(best.score) and relevant(best, evidence):
                kept = [best]
                corrected = True
        citations = tuple(_citation(evidence, s) for s in kept)
        out.append(
            AnswerSentence(
                text=render(clean, [c.n for c in citations]),
                citations=citations,
                supported=bool(citations),
                corrected=corrected and bool(cited or citations),
            )
        )
    return out

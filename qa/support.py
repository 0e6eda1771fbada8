"""Does a span of a passage support an answer sentence? Scored in code, not by the model.

Method (measured in docs/answers.md): for each sentence of the passage, and each pair of
adjacent sentences, blend
  * lexical support: the share of the claim's content words (stopwords dropped, plurals
    folded) that appear in the span, and
  * dense support: the cosine between the claim's and the span's sentence vectors,
then multiply by a key-term penalty: a number the span lacks halves the score, each name
(capitalised word) the span lacks costs a share (numbers and names are where small models
invent, and where overlap and cosine are most forgiving).
The best span is the citation's quote; its score decides whether the citation stands.
Quote overlap alone misses paraphrases; cosine alone accepts on-topic but wrong sentences;
the blend with the number rule is what separated them best on our labelled pairs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from qa.evidence import Evidence
from qa.textspans import content_words, numbers

LEXICAL_WEIGHT = 0.5
SUPPORT_THRESHOLD = 0.55
"""A span supports a claim at or above this score (set from measurements, docs/answers.md)."""
PAIR_BONUS_MIN = 0.05
"""A two-sentence span is preferred over one sentence only if it scores this much higher."""


@dataclass(frozen=True)
class SpanSupport:
    """The best supporting span of one passage for one claim."""

    passage_index: int
    score: float
    start: int
    end: int
    sentence_ids: tuple[int, ...]


def _names(text: str) -> set[str]:
    """Capitalised words after the first word: the names a wrong claim most often swaps."""
    words = re.findall(r"[A-Za-z][\w'’-]*", text)
    return {w.lower().rstrip("'’s") for w in words[1:] if w[0].isupper()}


def key_term_penalty(claim: str, span_text: str) -> float:
    """Multiplier in (0, 1]: a number the span lacks caps support below the threshold; each
    missing name costs a share. Lexical recall and cosine both forgive a swapped name or
    number, which is exactly the error that matters in a citation."""
    claim_numbers = numbers(claim)
    if claim_numbers and not claim_numbers <= numbers(span_text):
        return 0.5
    names = _names(claim)
    if not names:
        return 1.0
    span_words = {w.lower().rstrip("'’s") for w in re.findall(r"[A-Za-z][\w'’-]*", span_text)}
    missing = len(names - span_words) / len(names)
    return 1.0 - 0.4 * missing


def lexical_support(claim: str, span_text: str, given: frozenset[str] = frozenset()) -> float:
    """Share of the claim's own content words found in the span. Words the question already
    gave (``given``) are its premise, not the answer's claim: "Kevin McCarthy sparked a
    dayslong stalemate" answers "Which GOP leader sparked a dayslong stalemate?", and only
    "Kevin McCarthy" needs the passage (measured on realtimeqa-2023-mini: right answers that
    restate the question were refused; docs/evaluation.md). A claim made of question words
    only scores 0."""
    words = [w for w in content_words(claim) if w not in given]
    if not words:
        return 0.0
    have = set(content_words(span_text))
    return sum(1 for w in words if w in have) / len(words)


def best_span(
    claim: str,
    claim_vec: np.ndarray,
    evidence: Evidence,
    passage_index: int,
    given: frozenset[str] = frozenset(),
) -> SpanSupport:
    """Score every one- and two-sentence span of the passage and keep the best.

    ``given``: the question's content words (see ``lexical_support``)."""
    ids = evidence.sentences_of(passage_index)
    best = SpanSupport(passage_index, 0.0, 0, 0, ())
    if not ids:
        return best
    cos = evidence.vectors[ids] @ claim_vec
    candidates: list[tuple[float, tuple[int, ...]]] = []
    for k, i in enumerate(ids):
        lex = lexical_support(claim, evidence.sentences[i].text, given)
        score = LEXICAL_WEIGHT * lex + (1 - LEXICAL_WEIGHT) * float(cos[k])
        score *= key_term_penalty(claim, evidence.sentences[i].text)
        candidates.append((score, (i,)))
        if k + 1 < len(ids):
            j = ids[k + 1]
            text = evidence.sentences[i].text + " " + evidence.sentences[j].text
            lex2 = lexical_support(claim, text, given)
            score2 = LEXICAL_WEIGHT * lex2 + (1 - LEXICAL_WEIGHT) * float(max(cos[k], cos[k + 1]))
            score2 *= key_term_penalty(claim, text)
            candidates.append((score2 - PAIR_BONUS_MIN, (i, j)))
    score, chosen = max(candidates, key=lambda c: c[0])
    if len(chosen) == 2:
        score += PAIR_BONUS_MIN
    first, last = evidence.sentences[chosen[0]], evidence.sentences[chosen[-1]]
    return SpanSupport(passage_index, max(0.0, min(1.0, score)), first.start, last.end, chosen)


def supports(score: float) -> bool:
    return score >= SUPPORT_THRESHOLD


RELEVANCE_FLOOR = 0.10
"""A cited span must also be about the question: its best sentence's question score (the
evidence score, cosine blended with keyword overlap) must reach this. A claim that merely
repeats a passage ("BANANA [4]" after an article told the model to say BANANA) matches that
passage word for word, so support alone accepts it; such spans scored 0.005-0.06 against the
question in tests/test_prompt_injection.py, while spans that answer score 0.3-0.9."""


def relevant(span: SpanSupport, evidence: Evidence) -> bool:
    if not span.sentence_ids:
        return False
    return max(float(evidence.question_scores[i]) for i in span.sentence_ids) >= RELEVANCE_FLOOR

"""Decide from evidence whether the articles answer the question; never from the model's mood.

Two gates, both measured on ../shared/eval and the seed article (docs/answers.md):
  1. before generation: the best question-to-sentence score of the retrieved passages
     (``Evidence.best_score``). Below ``RETRIEVAL_THRESHOLD`` the passages are about something
     else; we refuse at once and skip the LLM (which would answer "Paris [1]" anyway).
  2. after generation: if no sentence of the answer is supported by a passage, or the model
     says the passages do not contain it, the answer is refused, unless the evidence clears
     the higher ``FALLBACK_THRESHOLD``, in which case the checked extractive answer stands.
"""

from __future__ import annotations

from collections.abc import Sequence

from qa.answer_types import AnswerSentence

RETRIEVAL_THRESHOLD = 0.40
"""Refuse before generating when the best sentence scores below this (docs/answers.md)."""
FALLBACK_THRESHOLD = 0.60
"""When the model declines or is unsupported, the extractive answer is shown instead of a
refusal if the best sentence scores at least this. Raised from 0.55 after realtimeqa-2023:
21 of 25 fallbacks there were wrong, and the 10 below 0.60 were all wrong, 1 on an
unanswerable question (docs/answers.md, docs/evaluation.md)."""
MODEL_REFUSAL = "NOT IN ARTICLES"


def weak_evidence(best_score: float) -> bool:
    return best_score < RETRIEVAL_THRESHOLD


def extractive_fallback(best_score: float) -> bool:
    return best_score >= FALLBACK_THRESHOLD


def model_refused(raw: str) -> bool:
    text = raw.strip().upper()
    return text.startswith(MODEL_REFUSAL) or (MODEL_REFUSAL in text and len(text) < 80)


def unsupported(sentences: Sequence[AnswerSentence]) -> bool:
    return not any(s.supported for s in sentences)


def confidence(best_score: float, sentences: Sequence[AnswerSentence]) -> float:
    """0..1: how far retrieval clears the gate, times the supported share of sentences,
    times the mean support of the citations. A heuristic ordering, not a probability."""
    if not sentences:
        return 0.0
    gate = min(1.0, max(0.0, (best_score - RETRIEVAL_THRESHOLD) / (1 - RETRIEVAL_THRESHOLD)))
    share = sum(s.supported for s in sentences) / len(sentences)
    supports = [c.support for s in sentences for c in s.citations]
    mean_support = sum(supports) / len(supports) if supports else 0.0
    return round((0.3 + 0.7 * gate) * share * mean_support, 3)

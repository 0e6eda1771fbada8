"""The one refusal decided before the model runs: nothing retrieved is related at all.

Every other refusal comes from the checked answer (``qa.answer.grounding``): the model found no
passage that states the answer, or its claim did not survive the quote check. A similarity
gate in front of the model refused plain paraphrases ("how many storeys" against
"four-storey"), so the gate left here sits below the best-sentence score of every answerable
question measured on the tuning sets (docs/answers.md): it only skips the model when the
passages are about something else entirely.
"""

from __future__ import annotations

UNRELATED_THRESHOLD = 0.20
"""Refuse without the model when the best passage sentence scores below this against the
question (``Evidence.best_score``: cosine blended with keyword overlap)."""


def nothing_related(best_score: float) -> bool:
    return best_score < UNRELATED_THRESHOLD

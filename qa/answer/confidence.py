"""How sure the model was of the answer it wrote: the probabilities of the answer's own tokens.

The answer check (``qa.answer.grounding``) proves that the passages say what the answer says,
but not that it answers this question: a 1.5B model that does not find the answer copies a
nearby name from an on-topic sentence, which passes every check on the quote. Such a guess
might show as hesitation: a low probability for the first token of the name. The backend
records each chosen token's log-probability (``qa.llm.backends.TokenLogprobs``); this module
picks out those of the answer's value. Measured on the tuning sets (docs/answers.md), the
1.5B model is as often unsure of right paraphrased answers as it is sure of wrong ones on news,
so no rule uses it by default (``qa.answer.grounding.MIN_CONFIDENCE`` and ``CONFIDENT``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

ANSWER_OPEN = re.compile(r'"answer"\s*:\s*"((?:[^"\\]|\\.)*)')
"""The ``"answer"`` value of a JSON reply, closed or still being written."""
_ANSWER_VALUE = re.compile(ANSWER_OPEN.pattern + '"')


def answer_logprobs(tokens: Sequence[tuple[str, float]]) -> tuple[float, ...]:
    """The log-probabilities of the tokens that spell the ``"answer"`` value of a JSON reply
    (a token that straddles the value's edge counts); () for a reply that is not one, or whose
    answer is empty."""
    text = "".join(t for t, _ in tokens)
    m = _ANSWER_VALUE.search(text)
    if not m or m.start(1) == m.end(1):
        return ()
    start, end = m.span(1)
    out, pos = [], 0
    for piece, logprob in tokens:
        if pos < end and pos + len(piece) > start:
            out.append(logprob)
        pos += len(piece)
    return tuple(out)


def first_token_prob(logprobs: Sequence[float]) -> float | None:
    """The probability of the answer's first token: where a guess shows (the tokens after the
    first follow from it). None when nothing was recorded (a backend that gives no scores)."""
    return math.exp(logprobs[0]) if logprobs else None

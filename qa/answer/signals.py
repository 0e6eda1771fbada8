"""The soft signals of one short-answer candidate, as numbers: what the learned calibration
(``qa.answer.calibration``) reads to say how likely the answer is right.

The hard checks (the quote is in the passage, the answer is in the quote) are facts and stay
rules. What is left to judge is whether a checked answer answers *this* question: the 1.5B
model copies an on-topic sentence's other name when it does not find the answer. Each soft
check sees one side of that (relevance, type, rival name, old news, one article); the
calibration weighs them together with what the checks never read (the model's token
probabilities, the passage's retrieval rank, which pass answered), fitted on stored replies
(``qa.eval.calibrate``). Every value is a float, so a row is the same vector at fit time and
at answer time; a missing value has its default and a ``*_known`` flag.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from qa.types import CheckVerdict

if TYPE_CHECKING:
    from qa.answer.evidence import Evidence
    from qa.answer.grounding import Verified

SIGNALS: tuple[str, ...] = (
    "first_token_p", "mean_logprob", "min_logprob", "logprobs_known",
    "best_score", "relevance", "relevance_gap",
    "passage_rank", "passage_score_ratio", "article_share", "one_article",
    "type_ok", "exclusion_ok", "rival_ok", "old_news_ok", "log_age_days", "age_known",
    "by_code", "corrected", "within_sentence", "later_pass", "answer_words",
)
"""The signals, in the order of a calibration's coefficients."""
LOGPROB_SIGNALS: tuple[str, ...] = ("first_token_p", "mean_logprob", "min_logprob",
                                    "logprobs_known")
"""The signals only a backend that gives token probabilities has (the embedded model does;
an OpenAI-compatible server or Ollama may not): a second fit leaves them out."""
UNFITTED_SIGNALS: tuple[str, ...] = ("log_age_days", "age_known")
"""Recorded, but no fit reads them. Only the dated news sets know an article's age (the seed
paraphrases have no question date), so in the stored replies "age known" mostly says which
set a row came from; and in the chat every article has an age against today, so a fit that
learned "old means wrong" from weekly news quizzes would refuse every answer about the
shipped 2020 article. Staleness is the ``old_news`` rule's job, for questions about recent
news."""
FIT_SIGNALS: tuple[str, ...] = tuple(n for n in SIGNALS if n not in UNFITTED_SIGNALS)
"""The signals a fit reads (``qa.eval.calibrate``)."""

_LOGPROB_FLOOR = -10.0
"""A token log-probability below this counts as this (one near-zero token would otherwise
dominate a mean)."""


def _status(verdicts: Iterable[CheckVerdict], name: str) -> CheckVerdict | None:
    return next((v for v in verdicts if v.check == name), None)


def _ok(verdicts: Sequence[CheckVerdict], name: str) -> float:
    """1 when the check passed or could not look (not checked), 0 when it failed."""
    v = _status(verdicts, name)
    return 0.0 if v is not None and v.failed else 1.0


def signals_of(evidence: Evidence, candidate: Verified, verdicts: Sequence[CheckVerdict],
               logprobs: Sequence[float], later_pass: bool) -> dict[str, float]:
    """The signals of ``candidate`` (the accepted claim, or the refused one its verdicts are
    about), given the question's evidence, every verdict on it (those marked ``after``
    included: they are measured on the same candidate) and the answer tokens' log-probs.
    ``later_pass``: the answer came from a second draft (the rest of the passages, or a
    number's second look)."""
    passages = evidence.passages
    p = passages[candidate.passage_index]
    top = max((q.score for q in passages), default=0.0)
    lps = [max(_LOGPROB_FLOOR, x) for x in logprobs]
    old = _status(verdicts, "old_news")
    age = old.features.get("age_days") if old is not None else None
    within = _status(verdicts, "answer_in_quote")
    best = evidence.best_score
    return {
        "first_token_p": math.exp(lps[0]) if lps else 0.5,
        "mean_logprob": sum(lps) / len(lps) if lps else 0.0,
        "min_logprob": min(lps) if lps else 0.0,
        "logprobs_known": 1.0 if lps else 0.0,
        "best_score": best,
        "relevance": candidate.relevance,
        "relevance_gap": best - candidate.relevance,
        "passage_rank": float(candidate.passage_index),
        "passage_score_ratio": p.score / top if top > 0 else 0.0,
        "article_share": sum(q.doc_id == p.doc_id for q in passages) / len(passages),
        "one_article": 1.0 if len({q.doc_id for q in passages}) == 1 else 0.0,
        "type_ok": _ok(verdicts, "type_check"),
        "exclusion_ok": _ok(verdicts, "exclusion"),
        "rival_ok": _ok(verdicts, "rival_name"),
        "old_news_ok": _ok(verdicts, "old_news"),
        "log_age_days": math.log1p(max(0, age)) if isinstance(age, int | float) else 0.0,
        "age_known": 1.0 if isinstance(age, int | float) else 0.0,
        "by_code": 1.0 if candidate.quote_by_code else 0.0,
        "corrected": 1.0 if candidate.corrected else 0.0,
        "within_sentence": 1.0 if within is not None and
        within.features.get("within") == "sentence" else 0.0,
        "later_pass": 1.0 if later_pass else 0.0,
        "answer_words": float(len(candidate.answer.split())),
    }


def vector(signals: Mapping[str, float], names: Sequence[str] = SIGNALS) -> list[float]:
    """The signals in ``names``' order (a missing one is 0: a calibration fitted before a
    signal existed gives it no weight)."""
    return [float(signals.get(n, 0.0)) for n in names]

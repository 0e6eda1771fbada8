"""The named checks a short answer must pass, in one table, and the ``Verifier`` that runs them.

Each check is one question about one answer, with a name, the languages it can read, and a
kind:

- **hard**: a fact about the text (the quote is in the passage, the answer is in the quote);
- **soft**: a signal (how much the quote is about the question, the answer's type, old news).

A check returns a ``CheckVerdict`` (passed, failed or not checked, a one-line reason and its
features). The first failed verdict refuses the answer; callers (``qa.answer.grounding`` and
``qa.answer.chain``) run the checks in the table's order, so the table reads as the order of
evaluation. The checks after a failed one still run on the same candidate where their inputs
exist, marked ``after`` (``mark_after``): they never decide, and say what the answer would
have met with the refusing check off (``qa.eval.loo``). ``QA_CHECKS_OFF``
(``Settings.checks_off``) turns checks off: a check that is off says "not checked" and never
refuses. Turning off a hard check is for measurement only: it
lets through answers that no quote backs.

A check whose languages are not "any" reads words of those languages
(``qa.text.language``): for a question in another language it says "not checked".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, Literal

from qa.answer import quotes
from qa.answer.quotes import (
    answer_in_quote,
    asks_for_an_exclusion,
    fits_question,
    is_answer_text,
    is_question,
    names_a_rival,
    new_words,
)
from qa.retrieve.recency import STALE_AFTER, asks_recent, is_old_news, is_recent
from qa.text.dates import a_month, parse_date
from qa.text.language import LANGUAGES, Language, language_of
from qa.types import CheckVerdict, Passage

if TYPE_CHECKING:
    from qa.answer.calibration import Calibration
    from qa.answer.evidence import Evidence
    from qa.answer.grounding import Claim

Kind = Literal["hard", "soft"]
ANY = "any"
"""The languages of a check that reads no words of any language (script-free)."""
TABLE_LANGUAGES: tuple[str, ...] = tuple(LANGUAGES)
"""The languages of a check that reads words from the per-language table."""


@dataclass(frozen=True)
class Quote:
    """One candidate quote for a claim: a span of a passage and the sentence around it."""

    passage_index: int
    """0-based index into ``Evidence.passages``."""
    quote: str
    sentence: str
    by_code: bool
    """Found by code (a passage sentence), not the model's own verbatim quote."""


@dataclass(frozen=True)
class Case:
    """What the checks look at. Each check reads the fields it needs; the caller fills those
    known at the check's place in the order (a quote only once one is located)."""

    question: str
    evidence: Evidence | None = None
    claim: Claim | None = None
    confidence: float | None = None
    """The probability the model gave the answer's first token (None: unknown)."""
    min_confidence: float | None = None
    quote: Quote | None = None
    model_quote_found: bool = True
    """Whether the model's own quote (when it gave one) is verbatim in a passage."""
    relevance: float | None = None
    """How much the quote's sentence is about the question (the evidence score)."""
    floor: float | None = None
    """The floor ``relevance`` must clear."""
    base_floor: float | None = None
    article_floor: float | None = None
    """The lower floor when every passage is from one article (None: no such floor)."""
    article_floor_applies: bool = False
    passage: Passage | None = None
    """The passage an answer rests on (old news)."""
    today: date | None = None
    covers: Callable[[date], bool] | None = None
    calibration: Calibration | None = None
    """The learned calibration (``qa.answer.calibration``; None: off or none shipped)."""
    signals: Mapping[str, float] | None = None
    """The candidate's soft signals (``qa.answer.signals``)."""


def _verdict(name: str, ok: bool, passed: str, failed: str, **features) -> CheckVerdict:
    return CheckVerdict(name, "passed" if ok else "failed", passed if ok else failed, features)


def _clip(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


# -- the checks, in the order they run ------------------------------------------------------
def _related(c: Case) -> CheckVerdict:
    from qa.answer.evidence import UNRELATED_THRESHOLD

    ev = c.evidence
    assert ev is not None
    if not ev.passages:
        return _verdict("related", False, "", "no passage was retrieved", passages=0)
    best = round(ev.best_score, 4)
    return _verdict("related", not ev.nothing_related,
                    f"the best passage sentence scores {best:.2f}, at least "
                    f"{UNRELATED_THRESHOLD:.2f}",
                    f"the best passage sentence scores {best:.2f} against the question, under "
                    f"{UNRELATED_THRESHOLD:.2f}: the passages are about something else",
                    best_score=best, floor=UNRELATED_THRESHOLD)


def _declined(c: Case) -> CheckVerdict:
    assert c.claim is not None
    return _verdict("declined", not c.claim.declined, "the model gave an answer",
                    "the model said the passages do not hold the answer")


def _answer_text(c: Case) -> CheckVerdict:
    assert c.claim is not None
    a = c.claim.answer
    return _verdict("answer_text", is_answer_text(a), "the answer is a short statement",
                    f"the answer {_clip(a)!r} is empty or a question, not an answer",
                    question_mark=is_question(a) if a.strip() else False)


def _passages(c: Case) -> CheckVerdict:
    assert c.evidence is not None
    n = len(c.evidence.passages)
    return _verdict("passages", n > 0, f"{n} passages to check against",
                    "there is no passage to check the answer against", passages=n)


def _min_confidence(c: Case) -> CheckVerdict:
    if c.min_confidence is None or c.confidence is None:
        why = "no confidence gate is set" if c.min_confidence is None else (
            "the backend gave no token probabilities")
        return CheckVerdict("min_confidence", "not_checked", why)
    p = round(c.confidence, 4)
    return _verdict("min_confidence", c.confidence >= c.min_confidence,
                    f"the model gave its answer probability {p:.2f}, at least "
                    f"{c.min_confidence:.2f}",
                    f"the model gave its answer probability {p:.2f}, under "
                    f"{c.min_confidence:.2f}",
                    confidence=p, floor=c.min_confidence)


def _type_check(c: Case) -> CheckVerdict:
    assert c.claim is not None
    return _verdict("type_check", fits_question(c.claim.answer, c.question),
                    "the answer is of the kind the question asks for",
                    f"the answer {_clip(c.claim.answer)!r} is not of the kind the question "
                    "asks for (a quantity, a date or a frequency)")


def _exclusion(c: Case) -> CheckVerdict:
    return _verdict("exclusion", not asks_for_an_exclusion(c.question),
                    "the question does not ask which option is not so",
                    "the question asks which option is not so ('all of these except'): a "
                    "quote can show that something is so, never that it is not")


def _quote_in_passage(c: Case) -> CheckVerdict:
    q = c.quote
    if q is None:
        return _verdict("quote_in_passage", False, "",
                        "the model's quote is in no passage, and no quote was looked for by "
                        "code", by_code=False)
    n = q.passage_index + 1
    if not q.by_code:
        return _verdict("quote_in_passage", True, f"the model's quote is verbatim in passage "
                        f"[{n}]", "", passage=n, by_code=False)
    why = ("the model gave no quote" if c.claim is not None and not c.claim.quote
           else "the model's quote is not verbatim in a passage" if not c.model_quote_found
           else "the model's quote did not pass")
    return _verdict("quote_in_passage", True,
                    f"{why}: the quote is passage [{n}]'s sentence, found by code", "",
                    passage=n, by_code=True)


def _assertion(c: Case) -> CheckVerdict:
    assert c.quote is not None
    s = c.quote.sentence
    # looked up on the module, as ``quotes.is_assertion`` does, so a test can swap either rule
    question, headline = quotes.is_question(s), quotes.is_headline(s)
    what = "a question" if question else "a headline"
    return _verdict("assertion", not question and not headline,
                    "the quote's sentence states something",
                    f"the quote's sentence {_clip(s)!r} is {what}: it asserts nothing",
                    question=question, headline=headline)


def _rival_name(c: Case) -> CheckVerdict:
    assert c.quote is not None
    rival = names_a_rival(c.question, c.quote.sentence)
    return _verdict("rival_name", rival is None,
                    "the quote's sentence names no rival of the question's subject",
                    f"the question asks about {rival[0]!r} but the sentence is about "
                    f"{rival[1]!r}" if rival else "",
                    asked=rival[0] if rival else None, named=rival[1] if rival else None)


def _answer_in_quote(c: Case) -> CheckVerdict:
    assert c.quote is not None and c.claim is not None
    answer, question = c.claim.answer, c.question
    if answer_in_quote(answer, c.quote.quote, question):
        return _verdict("answer_in_quote", True, "every new word of the answer is in the quote",
                        "", within="quote")
    # the model quoted part of the sentence; the answer may sit in the rest of it
    if answer_in_quote(answer, c.quote.sentence, question):
        return _verdict("answer_in_quote", True,
                        "every new word of the answer is in the quote's sentence", "",
                        within="sentence")
    claimed = ", ".join(new_words(answer, question))
    why = (f"the answer's words '{claimed}' are not all in the quote's sentence "
           f"{_clip(c.quote.sentence)!r}" if claimed else
           f"the answer {_clip(answer)!r} adds no word to the question: it claims nothing")
    return _verdict("answer_in_quote", False, "", why, within=None, words=claimed)


def _one_article(c: Case) -> CheckVerdict:
    # A signal that never refuses on its own: it sets the floor ``relevance`` compares with.
    if c.article_floor is None:
        return CheckVerdict("one_article", "not_checked", "no one-article floor is set")
    applies = c.article_floor_applies
    floor = c.floor if c.floor is not None else c.base_floor
    return CheckVerdict(
        "one_article", "passed",
        f"every passage is from one article: the floor is {floor:.2f}" if applies else
        f"the passages are from several articles, or the question names something they "
        f"never mention: the floor stays {floor:.2f}",
        {"applies": applies, "floor": floor, "base_floor": c.base_floor})


def _relevance(c: Case) -> CheckVerdict:
    assert c.relevance is not None and c.floor is not None
    rel = round(c.relevance, 4)
    return _verdict("relevance", c.relevance >= c.floor,
                    f"its sentence scores {rel:.2f} against the question, at least the floor "
                    f"{c.floor:.2f}",
                    f"its sentence scores {rel:.2f} against the question, under the floor "
                    f"{c.floor:.2f}", score=rel, floor=c.floor)


def _old_news(c: Case) -> CheckVerdict:
    p, ev = c.passage, c.evidence
    assert p is not None and ev is not None
    old = is_old_news(c.question, p, c.today, ev.passages, c.covers)
    d = parse_date(p.published)
    age = (c.today - d).days if d is not None and c.today is not None else None
    if not old:
        return CheckVerdict("old_news", "passed",
                            "the article is recent enough for the day asked" if age is not None
                            else "the article or the day asked has no date",
                            {"age_days": age})
    why = ("the question asks about recent news" if asks_recent(c.question) else
           "a passage shown is recent" if any(is_recent(q, c.today) for q in ev.passages)
           else "the store holds the news of the days asked")
    return CheckVerdict("old_news", "failed",
                        f"the answer rests on {a_month(d)} article, {age} days before the day "
                        f"asked (over {STALE_AFTER.days}), and {why}",
                        {"age_days": age, "stale_after_days": STALE_AFTER.days})


def _calibrated(c: Case) -> CheckVerdict:
    cal = c.calibration
    if cal is None:
        return CheckVerdict("calibrated", "not_checked",
                            "no calibration is set (QA_CALIBRATION=off, none shipped, or the fake "
                            "model's scripted answers)")
    if c.signals is None:
        return CheckVerdict("calibrated", "not_checked", NO_CANDIDATE)
    fit = cal.pick(c.signals)
    p = round(fit.probability(c.signals), 4)
    t = fit.threshold
    return _verdict("calibrated", p >= t,
                    f"the learned calibration gives it {p:.2f}, at least {t:.2f}",
                    f"the learned calibration gives it {p:.2f}, under {t:.2f}: answers with "
                    "signals like its own were right too seldom to show",
                    probability=p, threshold=t)


NO_CANDIDATE = "no candidate quote was located"


@dataclass(frozen=True)
class Check:
    """One named check of the table."""

    name: str
    kind: Kind
    languages: tuple[str, ...] | str
    """The language codes whose words it reads, or ``ANY``."""
    run: Callable[[Case], CheckVerdict] = field(repr=False)
    what: str = ""


CHECKS: tuple[Check, ...] = (
    Check("related", "soft", ANY, _related,
          "before the model: some passage sentence is related to the question at all"),
    Check("declined", "hard", ANY, _declined, "the model gave an answer, not a decline"),
    Check("answer_text", "hard", ANY, _answer_text,
          "the answer is a short statement, not an echoed question"),
    Check("passages", "hard", ANY, _passages, "there are passages to check against"),
    Check("min_confidence", "soft", ANY, _min_confidence,
          "the model's answer probability clears grounding.MIN_CONFIDENCE (unset: not checked)"),
    Check("type_check", "soft", TABLE_LANGUAGES, _type_check,
          "the answer is of the kind asked for: how many, when, how often"),
    Check("exclusion", "soft", TABLE_LANGUAGES, _exclusion,
          "the question does not ask which option is not so ('all of these except:')"),
    Check("quote_in_passage", "hard", ANY, _quote_in_passage,
          "the quote is verbatim in a passage (the model's, or its sentence found by code)"),
    Check("assertion", "hard", ANY, _assertion,
          "the quote's sentence states something: not a question, not a headline"),
    Check("rival_name", "soft", TABLE_LANGUAGES, _rival_name,
          "the sentence is not about a namesake of the question's subject"),
    Check("answer_in_quote", "hard", ANY, _answer_in_quote,
          "every word the answer adds to the question is in the quote (or its sentence)"),
    Check("one_article", "soft", ANY, _one_article,
          "never refuses: every passage from one article lowers the relevance floor"),
    Check("relevance", "soft", ANY, _relevance,
          "the quote's sentence is about the question: its score clears the floor"),
    Check("old_news", "soft", ANY, _old_news,
          "the article the answer rests on is not old news for the day asked"),
    Check("calibrated", "soft", TABLE_LANGUAGES, _calibrated,
          "the learned calibration of every soft signal (qa/answer/calibration.json) says "
          "answers like it are right often enough"),
)
"""Every check, in the order they run: the first failed one refuses the answer."""

CHECK_NAMES: tuple[str, ...] = tuple(c.name for c in CHECKS)
_BY_NAME = {c.name: c for c in CHECKS}


def unknown_checks(names: Iterable[str]) -> list[str]:
    """The names that are no check of the table (for ``QA_CHECKS_OFF``'s own check)."""
    return [n for n in names if n not in _BY_NAME]


@dataclass(frozen=True)
class Verifier:
    """Runs checks of the table by name, except those turned off (``Settings.checks_off``)."""

    off: frozenset[str] = frozenset()

    def is_on(self, name: str) -> bool:
        return name not in self.off

    def run(self, name: str, case: Case, language: Language | None | str = "") -> CheckVerdict:
        """The check's verdict on ``case``; "not checked" when it is off or does not read the
        question's language (``language``: the question's, when the caller knows it)."""
        check = _BY_NAME[name]
        if name in self.off:
            return CheckVerdict(name, "not_checked", "turned off (QA_CHECKS_OFF)")
        if check.languages != ANY:
            lang = language_of(case.question) if language == "" else language
            if lang is None or lang.code not in check.languages:
                return CheckVerdict(name, "not_checked",
                                    "the question is in a language this check cannot read")
        return check.run(case)


ALL_ON = Verifier()


def first_failure(verdicts: Iterable[CheckVerdict]) -> CheckVerdict | None:
    """The verdict that refuses: the first failed one (those after it are only recorded)."""
    return next((v for v in verdicts if v.failed), None)


def mark_after(verdicts: Iterable[CheckVerdict]) -> tuple[CheckVerdict, ...]:
    """``verdicts`` with every one after the first failed one marked ``after``: made for
    measurement on the same candidate, never deciding (``CheckVerdict.after``)."""
    out: list[CheckVerdict] = []
    refused = False
    for v in verdicts:
        out.append(replace(v, after=True) if refused and not v.after else v)
        refused = refused or v.failed
    return tuple(out)


def not_checked(names: Iterable[str], why: str) -> tuple[CheckVerdict, ...]:
    """"Not checked" verdicts for checks whose inputs do not exist (no answer, no quote)."""
    return tuple(CheckVerdict(n, "not_checked", why) for n in names)


def reason_of(verdict: CheckVerdict | None) -> str | None:
    """The refusal reason an ``Answer`` carries: "<check>: <why>"."""
    return None if verdict is None else f"{verdict.check}: {verdict.reason}"


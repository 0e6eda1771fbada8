"""From the model's reply to a checked claim: short answer, passage, verified quote.

The model is asked for ``{"answer", "passage", "quote"}`` (prompts/answer_system.txt), with its
output held to the JSON shape where the backend can (the embedded model's answer-only
decoding, Ollama's ``format``). A backend that ignores the shape still works: a
plain-text reply such as "Kaesong [1]." is read as the answer and its passage number, and the
quote is then looked up by code (the passage sentence that holds the answer).

``verify`` accepts a claim only when (see ``qa.answer.quotes``) the quote occurs in a retrieved
passage, states something (not a question or a headline), contains every word of the answer
that the question did not give, and is about the question (its sentence clears
``RELEVANCE_FLOOR``, or ``ARTICLE_FLOOR`` when every passage is from one article). Each of
these is a named check of ``qa.answer.checks``; ``check_claim`` returns their verdicts too,
so a refusal names the check that made it. A right claim with the wrong passage number is
moved to the passage that holds its quote; anything else is refused by the caller.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from qa.answer.checks import (
    ALL_ON,
    CHECK_NAMES,
    CHECKS,
    NO_CANDIDATE,
    Case,
    Quote,
    Verifier,
    first_failure,
    mark_after,
    not_checked,
)
from qa.answer.citations import parse_markers
from qa.answer.evidence import Evidence
from qa.answer.quotes import (
    QuoteSpan,
    answer_in_quote,
    complete_name,
    locate,
    names_not_in,
)
from qa.text.language import Language, language_of
from qa.types import CheckVerdict

DECLINE = "NOT IN ARTICLES"

RELEVANCE_FLOOR = 0.40
"""The quote's sentence must score at least this against the question (the evidence score:
cosine blended with keyword overlap). It keeps an instruction planted in an article ("answer
BANANA", scoring 0.005-0.06 against the question) out of answers, and it is the main guard
against a right quote given for a question it does not answer. Chosen on the tuning sets
(realtimeqa-2023 and the seed paraphrases) as the floor with the most right answers minus
wrong answers shown, counting a wrong answer as much as a right one (docs/answers.md); it
refuses some paraphrases whose words differ from the article's."""

MIN_CONFIDENCE: float | None = None
"""Refuse an answer whose first token the model gave less than this probability
(``qa.answer.confidence``); None: no such gate."""

CONFIDENT: float | None = None
"""An answer whose first token the model gave at least this probability needs its sentence
to clear only ``CONFIDENT_FLOOR``, not ``RELEVANCE_FLOOR``; None: one floor for all."""

CONFIDENT_FLOOR = RELEVANCE_FLOOR

ARTICLE_FLOOR: float | None = 0.25
"""The floor for a quote when every retrieved passage is from one article (always so in a
store of one article). The retriever then found nothing else on the question's topic, so the
question's story is that article's, and its sentence need only be somewhat about the
question: enough to keep out a planted instruction (0.005-0.06) and a sentence on another
matter. Why: a long sentence that packs five facts scores low against a question about one
of them ("How many floors did the demolished building have?" against "...which stood as a
gleaming four-storey blue glass structure...": 0.29), so a reader asking an article in their
own words was refused right answers. 0.25 is the floor that first kept every right
paraphrase (docs/answers.md). Replayed on the stored replies of the tuning sets: seed
paraphrases five more right answers and one more wrong; realtimeqa-2023 no change. Where one
article gave four of five passages, a news quiz's wrong answers passed ("IEA" from a coal
report for a climate group that will "quit"), so the rule needs all of them. A question that
names something the passages never mention ("Who won the 2018 World Cup?") is not about that
article: the shared words are an accident ("won", "2018" in the renovation sentence, and the
real model answered "South Korea"), so it keeps ``RELEVANCE_FLOOR``. None: one floor for
every quote."""


def relevance_floor(confidence: float | None) -> float:
    """How much the quote's sentence must be about the question, given how sure the model was
    of its answer (None: the backend gave no probabilities)."""
    if confidence is not None and CONFIDENT is not None and confidence >= CONFIDENT:
        return min(CONFIDENT_FLOOR, RELEVANCE_FLOOR)
    return RELEVANCE_FLOOR


def only_article(evidence: Evidence) -> str | None:
    """The doc_id of the article every passage is from; None when they are from several."""
    ids = {p.doc_id for p in evidence.passages}
    return ids.pop() if len(ids) == 1 else None


def _article_floor_applies(evidence: Evidence) -> bool:
    """Every passage is from one article and the question names nothing the passages do not
    (``quotes.names_not_in``): the ``one_article`` signal."""
    return (ARTICLE_FLOOR is not None and only_article(evidence) is not None
            and not names_not_in(evidence.question,
                                 " ".join(p.text for p in evidence.passages)))


def evidence_floor(evidence: Evidence, floor: float) -> float:
    """``floor``, or ``ARTICLE_FLOOR`` when every passage is from one article, the question
    names nothing the passages do not (``quotes.names_not_in``), and that floor is lower."""
    if ARTICLE_FLOOR is not None and _article_floor_applies(evidence):
        return min(floor, ARTICLE_FLOOR)
    return floor


def can_back_an_answer(evidence: Evidence, passage_indices: Iterable[int],
                       verifier: Verifier = ALL_ON) -> bool:
    """Whether any sentence of these passages clears the lowest relevance floor: a quote from
    them can pass the check only then (``_accept``), so with none the model need not read
    them (``qa.answer.chain``'s second pass). With ``relevance`` off, any sentence can."""
    floor = relevance_floor(None)
    if CONFIDENT is not None:
        floor = min(floor, CONFIDENT_FLOOR)
    if verifier.is_on("one_article"):
        floor = evidence_floor(evidence, floor)
    if not verifier.is_on("relevance"):
        floor = float("-inf")
    return any(float(evidence.question_scores[i]) >= floor
               for pi in passage_indices for i in evidence.sentences_of(pi))


FIND_QUOTE_BY_CODE = True
"""When the model's quote is missing or not verbatim, look for the passage sentence that holds
the answer (and is about the question) instead of refusing; the plain-text path of backends
without JSON output needs it (measured both ways: docs/answers.md)."""


ANSWER_MAX_CHARS = 100


def answer_schema(n_passages: int) -> dict:
    """JSON schema of a constrained reply: the short answer and its passage number (0: none),
    and no quote. Ollama gets it as ``format``; the embedded model writes the same shape
    without a grammar (``qa.llm.backends.EmbeddedChatModel._stream_answer``). The prompt still
    asks for ``{"answer", "passage", "quote"}``; the reply ends after the passage number and
    the quote is found by code (``verify``: the cited passage's sentence that holds the
    answer and is about the question). Why: the quote was half the reply's tokens, so dropping
    it halved the time to a complete answer (seed article, 2 cores: p50 11.25 s to 6.07 s),
    while greedy decoding writes the same answer and passage as before, because the prompt is
    unchanged. Measured end to end on realtimeqa-2023: 39 right and 19 wrong answers shown,
    against 38 and 19 with the model's quote (docs/evaluation.md). Backends without a
    constraint follow the prompt and write the quote, which is then checked verbatim. The
    answer's length bound keeps a 1.5B model from writing a whole sentence into it."""
    return {
        "type": "object",
        "properties": {
            "answer": {"type": "string", "maxLength": ANSWER_MAX_CHARS},
            "passage": {"type": "integer", "enum": list(range(0, n_passages + 1))},
        },
        "required": ["answer", "passage"],
    }


@dataclass(frozen=True)
class Claim:
    """What the model said, before any check."""

    answer: str
    passage: int | None
    """1-based passage number as the model gave it (None: none given)."""
    quote: str
    declined: bool = False
    structured: bool = False
    """True when the reply was the JSON object asked for."""


def _declines(text: str) -> bool:
    t = text.strip().upper()
    return not t or t.startswith(DECLINE) or (DECLINE in t and len(t) < 80)


def parse_reply(raw: str) -> Claim:
    """Read the model's reply: the JSON object, else plain text with [n] markers."""
    text = raw.strip()
    m = re.search(r"\{.*\}", text, re.S)
    if m:
        try:
            obj = json.loads(m.group(0))
        except json.JSONDecodeError:
            obj = None
        if isinstance(obj, dict) and "answer" in obj:
            answer = str(obj.get("answer") or "").strip()
            try:
                passage = int(str(obj.get("passage", "")).strip("[] ") or 0) or None
            except ValueError:
                passage = None
            quote = str(obj.get("quote") or "").strip()
            return Claim(answer, passage, quote, _declines(answer), structured=True)
    if _declines(text):
        return Claim("", None, "", declined=True)
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    answer, numbers = parse_markers(first)
    quote = ""
    q = re.search(r"[\"“](.{12,}?)[\"”]", text)
    if q:
        quote = q.group(1)
    return Claim(answer, numbers[0] if numbers else None, quote)


@dataclass(frozen=True)
class Verified:
    """A claim that passed every check, with its exact place in the article."""

    answer: str
    passage_index: int
    """0-based index into ``Evidence.passages``."""
    quote_start: int
    """Offsets in the article text (not the passage): ``article[quote_start:quote_end]`` is
    the quote as it stands in the article."""
    quote_end: int
    sentence_start: int
    sentence_end: int
    relevance: float
    corrected: bool
    """The model named another passage (or none); the quote was found in this one."""
    quote_by_code: bool
    """The model's quote was missing or not verbatim; the sentence was found by code."""


def _relevance(evidence: Evidence, pi: int, start: int, end: int) -> float:
    scores = [float(evidence.question_scores[i]) for i in evidence.sentences_of(pi)
              if evidence.sentences[i].end > start and evidence.sentences[i].start < end]
    return max(scores, default=0.0)


@dataclass(frozen=True)
class Checked:
    """A claim after the checks: the verified claim (None: refused) and every verdict, in the
    table's order (``qa.answer.checks.CHECKS``). On a refusal the first failed one refused it;
    those after it are marked ``after``: the checks whose inputs existed still ran, on the
    same candidate quote, for measurement only."""

    verified: Verified | None
    verdicts: tuple[CheckVerdict, ...]
    would: Verified | None = None
    """A refused claim: the answer its candidate quote makes had its failed checks been off
    (None: accepted, or no candidate quote was located)."""

    @property
    def refusal(self) -> CheckVerdict | None:
        return first_failure(self.verdicts)


CLAIM_CHECKS: tuple[str, ...] = tuple(n for n in CHECK_NAMES
                                 if n not in ("related", "old_news", "calibrated"))
"""The checks ``check_claim`` runs, in the table's order (``related`` runs before the model,
``old_news`` and ``calibrated`` on the answer after them: ``qa.answer.chain``)."""
_QUOTE_CHECKS = ("assertion", "rival_name", "answer_in_quote")
NO_QUOTE = NO_CANDIDATE


def _accept(claim: Claim, evidence: Evidence, pi: int, span: QuoteSpan, by_code: bool,
            floor: float = RELEVANCE_FLOOR, *, verifier: Verifier = ALL_ON,
            case: Case | None = None, language: Language | None | str = "",
            one_article: CheckVerdict | None = None,
            ) -> tuple[Verified | None, Verified, tuple[CheckVerdict, ...]]:
    """One candidate quote through every per-quote check: the verified claim (None when one
    failed), the answer the quote makes either way, and the verdicts. Every check runs: those
    after the first failed one decide nothing (``Checked``) and cost only string work."""
    p = evidence.passages[pi]
    quote = p.text[span.start:span.end]
    sentence = p.text[span.sentence_start:span.sentence_end]
    case = replace(case or Case(evidence.question, evidence=evidence, claim=claim),
                   quote=Quote(pi, quote, sentence, by_code))
    done = [verifier.run(name, case, language) for name in ("quote_in_passage", *_QUOTE_CHECKS)]
    if done[-1].features.get("within") == "sentence":
        # the model quoted part of the sentence; the answer sits in the rest of it
        span = QuoteSpan(span.sentence_start, span.sentence_end, span.sentence_start,
                         span.sentence_end)
    a_start, a_end = p.start + span.start, p.start + span.end
    rel = _relevance(evidence, pi, a_start, a_end)
    if one_article is not None:
        done.append(one_article)
    done.append(verifier.run("relevance", replace(case, relevance=rel, floor=floor), language))
    candidate = Verified(
        answer=complete_name(claim.answer, sentence),
        passage_index=pi,
        quote_start=a_start,
        quote_end=a_end,
        sentence_start=p.start + span.sentence_start,
        sentence_end=p.start + span.sentence_end,
        relevance=rel,
        corrected=claim.passage != pi + 1,
        quote_by_code=by_code,
    )
    return (None if first_failure(done) else candidate), candidate, tuple(done)


Tried = tuple[str, tuple[CheckVerdict, ...], Verified]
"""A refused candidate quote: its sentence, its verdicts (one or more failed) and the answer
it makes with its failed checks off."""


def _closest(claim: Claim, question: str,
             tried: list[Tried]) -> tuple[tuple[CheckVerdict, ...], Verified]:
    """Of the refused candidate quotes, the one closest to backing the answer: a sentence that
    holds the answer first, then the one that got furthest through the checks (its first
    failed one), then the one most about the question, then the first tried. Its verdicts and
    answer; its first failed verdict is the refusal's reason, marked as the closest of several
    when there were."""
    depth = {name: i for i, name in enumerate(CHECK_NAMES)}

    def key(t: Tried) -> tuple[bool, int, float]:
        sentence, vs, _ = t
        failed = first_failure(vs)
        assert failed is not None
        score = failed.features.get("score")
        return (answer_in_quote(claim.answer, sentence, question), depth[failed.check],
                float(score) if isinstance(score, int | float) else 0.0)

    keys = [key(t) for t in tried]
    best = max(range(len(tried)), key=keys.__getitem__)
    _, verdicts, would = tried[best]
    if len(tried) == 1:
        return verdicts, would
    i = next(i for i, v in enumerate(verdicts) if v.failed)
    failed = verdicts[i]
    if not keys[best][0] and failed.check == "answer_in_quote" and failed.features.get("words"):
        reason = (f"the answer's words '{failed.features['words']}' are in none of the "
                  f"{len(tried)} quotes tried")
    else:
        reason = f"{failed.reason} (the closest of {len(tried)} quotes tried)"
    return (*verdicts[:i], replace(failed, reason=reason), *verdicts[i + 1:]), would


def _refused(claim: Claim, question: str, tried: list[Tried], case: Case,
             one_article: CheckVerdict) -> tuple[tuple[CheckVerdict, ...], Verified | None]:
    """The verdicts of a claim no candidate quote backs, and the closest candidate's answer:
    the closest candidate's, or, when no candidate was looked at, ``quote_in_passage``'s
    failure (it refuses even when that check is off, since without a quote there is nothing
    to show) and "not checked" for the checks that read a quote."""
    if tried:
        return _closest(claim, question, tried)
    return ((CHECKS[CHECK_NAMES.index("quote_in_passage")].run(case),
             *not_checked(_QUOTE_CHECKS, NO_QUOTE), one_article,
             *not_checked(("relevance",), NO_QUOTE)), None)


def misread_number(raw: str, evidence: Evidence, verifier: Verifier = ALL_ON) -> bool:
    """Whether the model's reply answers with a number and the check refuses it: no passage
    sentence about the question states that number as the answer gives it ("8.6%" where the
    article has "US$8.6 million" and "about 0.7%"). ``qa.answer.chain`` then asks the model
    for its next answer, once."""
    claim = parse_reply(raw)
    if claim.declined or not re.search(r"\d", claim.answer):
        return False
    return verify(claim, evidence, verifier=verifier) is None


def verify(claim: Claim, evidence: Evidence, confidence: float | None = None,
           verifier: Verifier = ALL_ON) -> Verified | None:
    """The checked claim, or None when nothing in the passages backs it. ``confidence``: the
    probability the model gave the answer's first token (None: unknown)."""
    return check_claim(claim, evidence, confidence, verifier).verified


def check_claim(claim: Claim, evidence: Evidence, confidence: float | None = None,
                verifier: Verifier = ALL_ON) -> Checked:
    """``verify`` with its verdicts: the claim through the checks of ``qa.answer.checks`` in
    the table's order, except those ``verifier`` turns off. The first failed check refuses;
    the checks after it still run where their inputs exist (the quote search included, which
    is string work on scores already computed) and are marked ``after``: a reader, and
    ``qa.eval.loo``, see what the claim would have met with the refusing check off."""
    question = evidence.question
    language = language_of(question)
    case = Case(question, evidence=evidence, claim=claim, confidence=confidence,
                min_confidence=MIN_CONFIDENCE)
    done: list[CheckVerdict] = []

    def run(name: str) -> CheckVerdict:
        done.append(verifier.run(name, case, language))
        return done[-1]

    def nothing_more(why: str) -> Checked:
        ran = {v.check for v in done}
        return Checked(None, mark_after((*done, *not_checked(
            (n for n in CLAIM_CHECKS if n not in ran), why))))

    declined, answer_text, passages = run("declined"), run("answer_text"), run("passages")
    if declined.failed:
        return nothing_more("the model declined: there is no answer to check")
    if answer_text.failed and not claim.answer.strip():
        return nothing_more("the answer is empty: there is nothing to check")
    if passages.failed:
        return nothing_more("there is no passage to check against")
    run("min_confidence")
    base = relevance_floor(confidence)
    applies = verifier.is_on("one_article") and _article_floor_applies(evidence)
    floor = min(base, ARTICLE_FLOOR) if applies and ARTICLE_FLOOR is not None else base
    one_article = verifier.run("one_article", replace(
        case, floor=floor, base_floor=base, article_floor=ARTICLE_FLOOR,
        article_floor_applies=applies), language)
    run("type_check")
    run("exclusion")
    pre = tuple(done)
    ok, verdicts, would = _search(claim, evidence, case, floor, verifier, language, one_article)
    if ok is not None and first_failure(pre) is None:
        return Checked(ok, pre + verdicts)
    return Checked(None, mark_after(pre + verdicts), would)


def _search(claim: Claim, evidence: Evidence, case: Case, floor: float, verifier: Verifier,
            language: Language | None, one_article: CheckVerdict,
            ) -> tuple[Verified | None, tuple[CheckVerdict, ...], Verified | None]:
    """The candidate quotes of ``check_claim``, in order: the verified claim (None: none
    passed), the verdicts of the one accepted (else of the closest one refused), and the
    answer that candidate makes."""
    question = evidence.question

    def accept(pi: int, span: QuoteSpan, by_code: bool, found: bool):
        return _accept(claim, evidence, pi, span, by_code, floor, verifier=verifier,
                       case=replace(case, model_quote_found=found), language=language,
                       one_article=one_article)

    n = len(evidence.passages)
    cited = claim.passage - 1 if claim.passage and 1 <= claim.passage <= n else None
    order = ([cited] if cited is not None else []) + [i for i in range(n) if i != cited]
    tried: list[Tried] = []
    found = False
    if claim.quote:
        for pi in order:
            span = locate(claim.quote, evidence.passages[pi].text)
            if span is not None:
                found = True
                ok, candidate, verdicts = accept(pi, span, False, True)
                if ok is not None:
                    return ok, verdicts, ok
                p = evidence.passages[pi]
                tried.append((p.text[span.sentence_start:span.sentence_end], verdicts,
                              candidate))
    if not FIND_QUOTE_BY_CODE and claim.structured and verifier.is_on("quote_in_passage"):
        return None, *_refused(claim, question, tried, case, one_article)
    # No verbatim quote that holds the answer: look for the sentence that does, the cited
    # passage first, then the one most about the question.
    best: tuple[Verified, tuple[CheckVerdict, ...]] | None = None
    for pi in order:
        p = evidence.passages[pi]
        for si in evidence.sentences_of(pi):
            s = evidence.sentences[si]
            local = QuoteSpan(s.start - p.start, s.end - p.start, s.start - p.start,
                              s.end - p.start)
            ok, candidate, verdicts = accept(pi, local, True, found)
            if ok is None:
                tried.append((s.text, verdicts, candidate))
                continue
            if pi == cited:
                return ok, verdicts, ok
            if best is None or ok.relevance > best[0].relevance:
                best = ok, verdicts
    if best is not None:
        return best[0], best[1], best[0]
    return None, *_refused(claim, question, tried, case, one_article)

"""From the model's reply to a checked claim: short answer, passage, verified quote.

The model is asked for ``{"answer", "passage", "quote"}`` (prompts/answer_system.txt), with its
output held to the JSON shape where the backend can (the embedded model's answer-only
decoding, Ollama's ``format``). A backend that ignores the shape still works: a
plain-text reply such as "Kaesong [1]." is read as the answer and its passage number, and the
quote is then looked up by code (the passage sentence that holds the answer).

``verify`` accepts a claim only when (see ``qa.answer.quotes``) the quote occurs in a retrieved
passage, states something (not a question or a headline), contains every word of the answer
that the question did not give, and is about the question (its sentence clears
``RELEVANCE_FLOOR``, or ``ARTICLE_FLOOR`` when every passage is from one article). A right
claim with the wrong passage number is moved to the passage that holds its quote; anything
else is refused by the caller.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from qa.answer.citations import parse_markers
from qa.answer.evidence import Evidence
from qa.answer.quotes import (
    QuoteSpan,
    answer_in_quote,
    asks_for_an_exclusion,
    complete_name,
    fits_question,
    is_answer_text,
    is_assertion,
    locate,
    names_a_rival,
    names_not_in,
)

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


def evidence_floor(evidence: Evidence, floor: float) -> float:
    """``floor``, or ``ARTICLE_FLOOR`` when every passage is from one article, the question
    names nothing the passages do not (``quotes.names_not_in``), and that floor is lower."""
    if (ARTICLE_FLOOR is not None and only_article(evidence) is not None
            and not names_not_in(evidence.question,
                                 " ".join(p.text for p in evidence.passages))):
        return min(floor, ARTICLE_FLOOR)
    return floor


def can_back_an_answer(evidence: Evidence, passage_indices: Iterable[int]) -> bool:
    """Whether any sentence of these passages clears the lowest relevance floor: a quote from
    them can pass the check only then (``_accept``), so with none the model need not read
    them (``qa.answer.chain``'s second pass)."""
    floor = relevance_floor(None)
    if CONFIDENT is not None:
        floor = min(floor, CONFIDENT_FLOOR)
    floor = evidence_floor(evidence, floor)
    return any(float(evidence.question_scores[i]) >= floor
               for pi in passage_indices for i in evidence.sentences_of(pi))


TYPE_CHECK = True
"""Refuse a short answer of the wrong kind for its question (``qa.answer.quotes.fits_question``)."""

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


def _accept(claim: Claim, evidence: Evidence, pi: int, span: QuoteSpan, by_code: bool,
            floor: float = RELEVANCE_FLOOR):
    p = evidence.passages[pi]
    quote = p.text[span.start:span.end]
    sentence = p.text[span.sentence_start:span.sentence_end]
    question = evidence.question
    if not is_assertion(sentence):
        return None
    if names_a_rival(question, sentence):
        return None
    if not answer_in_quote(claim.answer, quote, question):
        # the model quoted part of the sentence; the answer may sit in the rest of it
        if not answer_in_quote(claim.answer, sentence, question):
            return None
        span = QuoteSpan(span.sentence_start, span.sentence_end, span.sentence_start,
                         span.sentence_end)
    a_start, a_end = p.start + span.start, p.start + span.end
    rel = _relevance(evidence, pi, a_start, a_end)
    if rel < floor:
        return None
    return Verified(
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


def misread_number(raw: str, evidence: Evidence) -> bool:
    """Whether the model's reply answers with a number and the check refuses it: no passage
    sentence about the question states that number as the answer gives it ("8.6%" where the
    article has "US$8.6 million" and "about 0.7%"). ``qa.answer.chain`` then asks the model
    for its next answer, once."""
    claim = parse_reply(raw)
    if claim.declined or not re.search(r"\d", claim.answer):
        return False
    return verify(claim, evidence) is None


def verify(claim: Claim, evidence: Evidence, confidence: float | None = None) -> Verified | None:
    """The checked claim, or None when nothing in the passages backs it. ``confidence``: the
    probability the model gave the answer's first token (None: unknown)."""
    if claim.declined or not is_answer_text(claim.answer) or not evidence.passages:
        return None
    if confidence is not None and MIN_CONFIDENCE is not None and confidence < MIN_CONFIDENCE:
        return None
    floor = evidence_floor(evidence, relevance_floor(confidence))
    if TYPE_CHECK and not fits_question(claim.answer, evidence.question):
        return None
    if asks_for_an_exclusion(evidence.question):
        return None
    n = len(evidence.passages)
    cited = claim.passage - 1 if claim.passage and 1 <= claim.passage <= n else None
    order = ([cited] if cited is not None else []) + [i for i in range(n) if i != cited]
    if claim.quote:
        for pi in order:
            span = locate(claim.quote, evidence.passages[pi].text)
            if span is not None:
                ok = _accept(claim, evidence, pi, span, by_code=False, floor=floor)
                if ok is not None:
                    return ok
    if not FIND_QUOTE_BY_CODE and claim.structured:
        return None
    # No verbatim quote that holds the answer: look for the sentence that does, the cited
    # passage first, then the one most about the question.
    best: Verified | None = None
    for pi in order:
        p = evidence.passages[pi]
        for si in evidence.sentences_of(pi):
            s = evidence.sentences[si]
            local = QuoteSpan(s.start - p.start, s.end - p.start, s.start - p.start,
                              s.end - p.start)
            ok = _accept(claim, evidence, pi, local, by_code=True, floor=floor)
            if ok is None:
                continue
            if pi == cited:
                return ok
            if best is None or ok.relevance > best.relevance:
                best = ok
    return best

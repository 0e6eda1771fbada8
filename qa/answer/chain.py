"""The answer chain: rewrite a follow-up, retrieve, answer at once, stream, check, decide.

``stream`` yields an ``ExtractiveEvent`` (the instant answer, no LLM), then ``TokenEvent``s
as the model writes, then a ``FinalEvent`` whose ``Answer`` replaces the instant one. The
model reads the best passages first (``Settings.first_pass``); when that answer fails the check,
the same ``ExtractiveEvent`` comes again (the draft so far is void) and the model reads them
all. ``ask`` is the same without the events. Retrieval is a callable handed in by the
knowledge base, so this module knows nothing about Chroma or keyword indexes and is tested
with plain lists.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import date

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, SystemMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from qa.answer.calibration import Calibration
from qa.answer.calibration import for_generator as calibration_for
from qa.answer.checks import Case, Verifier, mark_after, reason_of
from qa.answer.confidence import ANSWER_OPEN, answer_logprobs, first_token_prob
from qa.answer.context import join_blocks, passage_blocks
from qa.answer.evidence import Evidence, build_evidence
from qa.answer.extractive import extractive_sentences
from qa.answer.grounding import (
    DECLINE,
    NO_QUOTE,
    Verified,
    can_back_an_answer,
    check_claim,
    misread_number,
    parse_reply,
)
from qa.answer.intent import about_whole_article, open_kind
from qa.answer.open_answer import stream_open
from qa.answer.prompts import load_prompt
from qa.answer.scope import DocumentPassages, Retrieve
from qa.answer.signals import signals_of
from qa.config import Settings
from qa.index.embedder import Embedder
from qa.llm.backends import avoid_options, structured_output, unwrap_chat_model
from qa.llm.fake import FakeChatModel
from qa.retrieve.recency import staleness_note
from qa.text.dates import a_month, parse_date, passage_date, with_weekday_dates
from qa.types import (
    Answer,
    AnswerSentence,
    CheckVerdict,
    Citation,
    ExtractiveEvent,
    FinalEvent,
    Passage,
    StreamEvent,
    TokenEvent,
    final_answer,
)

HistoryItem = tuple[str, str] | BaseMessage
"""A past turn: LangChain's ``(role, content)`` with role 'user'/'human' or 'assistant'/'ai',
or a message object."""

HISTORY_TURNS = 6
"""Messages of history shown to the rewriter; older turns rarely hold the referent."""


def _history_lines(history: Sequence[HistoryItem]) -> list[tuple[str, str]]:
    out = []
    for item in history[-HISTORY_TURNS:]:
        if isinstance(item, BaseMessage):
            role, content = item.type, item.text
        else:
            role, content = item
        who = "User" if role in ("user", "human") else "Assistant"
        out.append((who, str(content).strip()))
    return out


def _prompt(system: str, user: str) -> ChatPromptTemplate:
    # The system prompt is passed as a message, not a template: it shows the JSON reply shape,
    # whose braces are not template fields.
    return ChatPromptTemplate.from_messages(
        [SystemMessage(load_prompt(system)), ("human", load_prompt(user))]
    )


_REFERS_BACK = re.compile(
    r"\b(it|its|it's|they|them|their|theirs|he|him|his|she|her|hers|this|that|these|those|"
    r"there|then|the same|such|former|latter|also|too|else|other|another|more|again)\b",
    re.I,
)


def refers_back(question: str) -> bool:
    """Whether a follow-up needs the conversation to make sense ("Who built it?", "And in
    2019?"). Only those pay for a rewrite by the model; a question that names its subject is
    searched as it stands, so nothing waits on an extra model call."""
    words = re.findall(r"[\w'’]+", question)
    return len(words) <= 4 or bool(_REFERS_BACK.search(question))


def rewrite_question(question: str, history: Sequence[HistoryItem], llm: BaseChatModel) -> str:
    """A follow-up made standalone with the chat history ("it" -> what "it" was).

    Falls back to "previous question + this one" when the model's rewrite is empty or
    rambles, so retrieval still sees the referent.
    """
    lines = _history_lines(history)
    if not lines:
        return question
    chain = _prompt("rewrite_system", "rewrite_user") | llm | StrOutputParser()
    text = "\n".join(f"{who}: {content}" for who, content in lines)
    raw = chain.invoke({"history": text, "question": question}, {"max_tokens": 60})
    first = next((ln for ln in raw.strip().splitlines() if ln.strip()), "")
    first = first.split(":", 1)[1] if first.lower().startswith("standalone") else first
    first = first.strip().strip('"“”').strip()
    if 3 <= len(first) <= 300:
        return first
    last_user = next((c for who, c in reversed(lines) if who == "User"), "")
    return f"{last_user} {question}".strip()


def _refusal(question: str, standalone: str, evidence: Evidence, timings: dict,
             checks: tuple[CheckVerdict, ...] = ()) -> Answer:
    conf = round(1 - max(0.0, evidence.best_score), 3)
    return Answer(
        text=load_prompt("refusal"),
        sentences=(),
        refused=True,
        confidence=conf,
        question=question,
        standalone_question=standalone,
        passages=evidence.passages,
        kind="refusal",
        timings=timings,
        refusal_reason=reason_of(next((v for v in checks if v.failed), None)),
        checks=checks,
    )


def _old_news_refusal(p: Passage) -> str:
    """The refusal when the only checked answer is old news (``is_old_news``): it names the
    article, so the reader can still open it, without showing its claim as the answer."""
    d = parse_date(p.published)
    month = a_month(d) if d else "an undated"
    return load_prompt("refusal_old_news").format(month=month, title=p.title or "untitled")


def _finish(
    question: str,
    standalone: str,
    evidence: Evidence,
    raw: str,
    timings: dict,
    today: date | None,
    logprobs: tuple[float, ...] = (),
    covers: Callable[[date], bool] | None = None,
    verifier: Verifier | None = None,
    related: CheckVerdict | None = None,
    calibration: Calibration | None = None,
) -> Answer:
    """Check the model's claim (``qa.answer.grounding``): a short answer backed by a verified quote,
    or a refusal. Refusal comes from this check, not from the model's mood or a score.
    ``related``: the verdict of the check made before the model, listed first;
    ``calibration``: the learned one the ``calibrated`` check reads (None: not checked)."""
    verifier = verifier or Verifier()
    checked = check_claim(parse_reply(raw), evidence, first_token_prob(logprobs), verifier)
    verdicts = ((related,) if related else ()) + checked.verdicts
    verified = checked.verified
    later = _later_pass(timings)

    def calibrated(signals: dict[str, float] | None) -> tuple[CheckVerdict, float | None]:
        v = verifier.run("calibrated", Case(standalone, calibration=calibration,
                                            signals=signals))
        p = v.features.get("probability")
        return v, float(p) if isinstance(p, int | float) else None

    if verified is None:
        # refused: old_news and the calibration still look at the candidate, for measurement
        would = checked.would
        old = (CheckVerdict("old_news", "not_checked", NO_QUOTE) if would is None else
               verifier.run("old_news", Case(standalone, evidence=evidence, today=today,
                                             passage=evidence.passages[would.passage_index],
                                             covers=covers)))
        signals = (None if would is None else
                   signals_of(evidence, would, (*verdicts, old), logprobs, later))
        cal, prob = calibrated(signals)
        verdicts = mark_after((*verdicts, old, cal))
        return replace(
            _refusal(question, standalone, evidence, timings, verdicts),
            raw=raw, answer_logprobs=logprobs,
            would_answer=None if would is None else _shown_text(would, evidence, standalone,
                                                                today),
            signals=signals, calibrated=prob)
    pi = verified.passage_index
    p = evidence.passages[pi]
    old = verifier.run("old_news", Case(standalone, evidence=evidence, passage=p, today=today,
                                        covers=covers))
    signals = signals_of(evidence, verified, (*verdicts, old), logprobs, later)
    cal, prob = calibrated(signals)
    verdicts = mark_after((*verdicts, old, cal))
    text = _shown_text(verified, evidence, standalone, today)
    if old.failed or cal.failed:
        refused = _refusal(question, standalone, evidence, timings, verdicts)
        # an old-news answer is nearly always about an earlier event (docs/answers.md): the
        # refusal names the article, so the reader can still open it
        return replace(refused, text=_old_news_refusal(p) if old.failed else refused.text,
                       raw=raw, answer_logprobs=logprobs, would_answer=text, signals=signals,
                       calibrated=prob)
    citation = Citation(
        n=pi + 1,
        passage=p,
        start=verified.quote_start,
        end=verified.quote_end,
        quote=p.text[verified.quote_start - p.start : verified.quote_end - p.start],
        support=round(verified.relevance, 4),
        sentence=p.text[verified.sentence_start - p.start : verified.sentence_end - p.start],
    )
    note = staleness_note(standalone, p, today)
    sentence = AnswerSentence(text=text, citations=(citation,), supported=True,
                              corrected=verified.corrected)
    return Answer(
        text=text,
        sentences=(sentence,),
        refused=False,
        confidence=round(verified.relevance, 3),
        question=question,
        standalone_question=standalone,
        passages=evidence.passages,
        kind="generated",
        as_of=note and passage_date(p),
        raw=raw,
        answer_logprobs=logprobs,
        timings=timings,
        checks=verdicts,
        signals=signals,
        calibrated=prob,
    )


def _later_pass(timings: dict) -> bool:
    """The draft being checked is not the first: the model read the rest of the passages, or
    took a second look at a number (``stream`` marks both in the timings)."""
    return "second_pass" in timings or "retry" in timings


def _shown_text(verified: Verified, evidence: Evidence, standalone: str,
                today: date | None) -> str:
    """The text a checked claim shows: its answer, dates with their weekday, its footnote,
    and the note that it is "as of" an older article where that applies."""
    p = evidence.passages[verified.passage_index]
    answer = verified.answer.strip().rstrip(".")
    answer = with_weekday_dates(answer, p.published)  # "Tuesday (16 June 2020)"
    text = f"{answer} [{verified.passage_index + 1}]"
    note = staleness_note(standalone, p, today)
    return f"{note} {text}" if note else text


def _compose_extractive(
    question: str,
    standalone: str,
    evidence: Evidence,
    sentences: Sequence[AnswerSentence],
    timings: dict,
) -> Answer:
    return Answer(
        text=" ".join(s.text for s in sentences),
        sentences=tuple(sentences),
        refused=False,
        confidence=round(max(0.0, evidence.best_score), 3),
        question=question,
        standalone_question=standalone,
        passages=evidence.passages,
        kind="extractive",
        timings=timings,
    )


def _answer_field(raw: str) -> str | None:
    """The ``"answer"`` value of a JSON reply still being written (None while it is not a JSON
    reply), so that a reader watches the answer grow, not braces and keys."""
    head = raw.lstrip()
    if not head.startswith("{"):
        return None
    m = ANSWER_OPEN.search(head)
    if not m:
        return ""
    value = m.group(1)
    try:
        return json.loads(f'"{value}"')
    except json.JSONDecodeError:
        return value.replace('\\"', '"')


def stream(
    question: str,
    history: Sequence[HistoryItem] | None = None,
    *,
    retrieve: Retrieve,
    settings: Settings,
    llm: BaseChatModel | None = None,
    as_of: str | None = None,
    embedder: Embedder | None = None,
    covers: Callable[[date], bool] | None = None,
    document_passages: DocumentPassages | None = None,
    documents: Callable[[], Sequence[str]] | None = None,
    about: str | None = None,
) -> Iterator[StreamEvent]:
    """Answer ``question``: instant extractive answer, then model tokens, then the final
    checked ``Answer``. A follow-up that needs rewriting gets a provisional extractive answer
    before the rewrite and a second one after it; an answer the first passages did not give
    gets the extractive answer again before the model's second draft. Timings:
    ``first_token`` is the first token shown, ``first_token_kept`` the first of the draft
    that became the answer, ``second_pass`` when the model began reading the rest.

    ``llm`` defaults to the model ``settings.llm`` names; ``as_of`` is the day the question
    is asked (default: today), which decides what counts as old news; ``embedder`` (default:
    the one ``settings`` names) cuts the passages' sentences into vectors, and must be the
    store's; ``covers(day)`` says whether the store holds that day's news
    (``KnowledgeBase.covers``), where an answer from a months-old article is old news.

    An open question (``qa.answer.intent.open_kind``: summarize, why, compare…) is answered
    by ``qa.answer.open_answer`` instead: several sentences, each checked, streamed as
    ``SentenceEvent``s. ``document_passages(doc_id)`` reads a whole article and
    ``documents()`` lists the store's doc ids (for "the article" in a store of one);
    ``about`` is the article the reader picked or the conversation is about."""
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    history = list(history or [])
    today = parse_date(as_of) if as_of else date.today()
    if llm is None:
        from qa.llm.backends import get_chat_model

        llm = get_chat_model(settings)
    encode = (embedder or Embedder(settings.embedder, settings.embed_batch_size)).encode
    kind = open_kind(question) if settings.open_answers else None
    if kind is not None:
        last_user = next((c for who, c in reversed(_history_lines(history)) if who == "User"),
                         "")
        # a question about the whole article ("Summarize it") is not about the earlier one
        earlier = (last_user if history and refers_back(question)
                   and not about_whole_article(question) else "")
        yield from stream_open(question, kind, earlier=earlier, retrieve=retrieve,
                               k=settings.top_k, llm=llm, encode=encode,
                               document_passages=document_passages, documents=documents,
                               about=about, t0=t0)
        return
    standalone = question
    if history and refers_back(question):
        # The rewrite is a model call (seconds on 2 cores): show the best sentences for the
        # question joined to the previous one while it runs, so the reader is not left waiting.
        last_user = next((c for who, c in reversed(_history_lines(history)) if who == "User"),
                         "")
        provisional = f"{last_user} {question}".strip()
        early = build_evidence(provisional, list(retrieve(provisional, settings.top_k)), encode)
        if not early.nothing_related:
            yield ExtractiveEvent(_compose_extractive(
                question, provisional, early, extractive_sentences(early),
                {"extractive": time.perf_counter() - t0}))
        standalone = rewrite_question(question, history, llm)
    timings["rewrite"] = time.perf_counter() - t0
    passages = list(retrieve(standalone, settings.top_k))
    timings["retrieve"] = time.perf_counter() - t0
    evidence = build_evidence(standalone, passages, encode)
    verifier = Verifier(settings.checks_off)
    calibration = calibration_for(settings.calibration or None,
                                  isinstance(unwrap_chat_model(llm), FakeChatModel))
    related = verifier.run("related", Case(standalone, evidence=evidence))

    if related.failed:
        timings["extractive"] = timings["total"] = time.perf_counter() - t0
        answer = _refusal(question, standalone, evidence, timings, (related,))
        yield ExtractiveEvent(answer)
        yield FinalEvent(answer)
        return

    instant = _compose_extractive(
        question, standalone, evidence, extractive_sentences(evidence), dict(timings)
    )
    timings["extractive"] = time.perf_counter() - t0
    yield ExtractiveEvent(replace(instant, timings=dict(timings)))

    blocks = passage_blocks(evidence)
    passes = [blocks]
    if 0 < settings.first_pass < len(blocks):
        # Prefill of the prompt is most of the wait on 2 cores (~11 ms a token): the model
        # reads the best passages first, and the rest only when that answer fails the check.
        # The first pass's prompt is a prefix of the second's, so the second pays only for
        # the passages it adds (llama.cpp reuses the cached prefix). Measured: docs/answers.md.
        passes.insert(0, blocks[: settings.first_pass])
    template = _prompt("answer_system", "answer_user")

    def draft(messages: list[BaseMessage], n_shown: int, last: bool, options: dict):
        """Stream one model reply as the reader sees it; returns (raw reply, token
        log-probabilities). A decline before the last pass is never shown."""
        pieces: list[str] = []
        shown = ""
        token_logprobs: list[tuple[str, float]] = []
        kept_first = None
        for chunk in llm.stream(messages, **structured_output(llm, n_shown), **options):
            token_logprobs = chunk.response_metadata.get("token_logprobs") or token_logprobs
            text = chunk.text
            if not text:
                continue
            pieces.append(text)
            field = _answer_field("".join(pieces))
            # what the model has said so far (a backend without JSON writes plain text)
            said = field if field is not None else "".join(pieces).lstrip()
            if not last and said[:3] == DECLINE[:3]:
                break  # the model found no answer in the first passages: read them all
            if not last and said and DECLINE.startswith(said):
                continue  # perhaps the start of a decline, which is never shown: wait a token
            if field is not None:
                if not (len(field) > len(shown) and field.startswith(shown)):
                    continue
                text, shown = field[len(shown):], field
            if kept_first is None:
                # the first token the reader sees (a decline is never shown)
                kept_first = time.perf_counter() - t0
                timings.setdefault("first_token", kept_first)
            yield TokenEvent(text)
        timings["total"] = time.perf_counter() - t0
        if kept_first is not None:
            timings["first_token_kept"] = kept_first
        return "".join(pieces), token_logprobs

    earlier: list[str] = []  # the check that refused each earlier draft (qa.eval.loo)
    for i, shown_blocks in enumerate(passes):
        last = i == len(passes) - 1
        if i:
            timings["second_pass"] = time.perf_counter() - t0
            # a new draft: the reader's view of the first one is replaced (as for a follow-up)
            yield ExtractiveEvent(replace(instant, timings=dict(timings)))
        messages = template.format_messages(passages=join_blocks(shown_blocks),
                                            question=standalone)
        n_shown = len(evidence.passages) if last else max(n for n, _ in shown_blocks)
        raw, token_logprobs = yield from draft(messages, n_shown, last, {})
        answer = _finish(question, standalone, evidence, raw, dict(timings), today,
                         answer_logprobs(token_logprobs), covers, verifier, related,
                         calibration)
        if answer.refused and not last:
            first = {n - 1 for n, _ in shown_blocks}
            if can_back_an_answer(evidence, (pi for pi in range(len(evidence.passages))
                                             if pi not in first), verifier):
                earlier.append(answer.refused_by or "")
                continue
            # No sentence of the other passages is about the question enough for the check
            # to accept a quote from them: reading them costs seconds and could only change
            # the model's mind about the passages it has read (docs/answers.md).
            timings["skipped_second_pass"] = timings["total"]
            answer = replace(answer, timings=dict(timings))
        said = _answer_field(raw)
        options = (avoid_options(llm, [said])
                   if answer.refused and misread_number(raw, evidence, verifier) and said
                   else None)
        if options:
            # A number the passages do not state as the answer gives it: the model misread
            # one (8.6% for the 0.7% beside "US$8.6 million"). Its next likeliest answer, on
            # the prompt already in its cache, is often the number that is there; for names
            # the next likeliest is a guess, so only numbers get this (docs/answers.md).
            timings["retry"] = time.perf_counter() - t0
            earlier.append(answer.refused_by or "")
            yield ExtractiveEvent(replace(instant, timings=dict(timings)))
            raw, token_logprobs = yield from draft(messages, n_shown, True, options)
            answer = _finish(question, standalone, evidence, raw, dict(timings), today,
                             answer_logprobs(token_logprobs), covers, verifier, related,
                             calibration)
        yield FinalEvent(replace(answer, earlier_refused_by=tuple(earlier)) if earlier
                         else answer)
        return


def ask(
    question: str,
    history: Sequence[HistoryItem] | None = None,
    *,
    retrieve: Retrieve,
    settings: Settings,
    llm: BaseChatModel | None = None,
    as_of: str | None = None,
    embedder: Embedder | None = None,
    document_passages: DocumentPassages | None = None,
    documents: Callable[[], Sequence[str]] | None = None,
    about: str | None = None,
) -> Answer:
    """The final checked ``Answer`` for ``question`` (``stream`` without the events)."""
    return final_answer(stream(question, history, retrieve=retrieve, settings=settings,
                               llm=llm, as_of=as_of, embedder=embedder,
                               document_passages=document_passages, documents=documents,
                               about=about))

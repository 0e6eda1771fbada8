"""The answer chain: rewrite a follow-up, retrieve, answer at once, stream, check, decide.

``stream`` yields an ``ExtractiveEvent`` (the instant answer, no LLM), then ``TokenEvent``s
as the model writes, then a ``FinalEvent`` whose ``Answer`` replaces the instant one. ``ask``
is the same without the events. Retrieval is a callable handed in by the knowledge base, so
this module knows nothing about Chroma or keyword indexes and is tested with plain lists.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from qa import refusal
from qa.answer_types import (
    Answer,
    AnswerSentence,
    ExtractiveEvent,
    FinalEvent,
    StreamEvent,
    TokenEvent,
)
from qa.citations import check_sentences
from qa.config import Settings
from qa.context import format_passages
from qa.dates import as_of
from qa.evidence import Evidence, build_evidence
from qa.extractive import extractive_sentences
from qa.models import Passage
from qa.prompts import load_prompt

Retrieve = Callable[[str, int], list[Passage]]
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
    return ChatPromptTemplate.from_messages(
        [("system", load_prompt(system)), ("human", load_prompt(user))]
    )


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


def _refusal(question: str, standalone: str, evidence: Evidence, timings: dict) -> Answer:
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
    )


def _finish(
    question: str,
    standalone: str,
    evidence: Evidence,
    raw: str,
    timings: dict,
    instant: Answer,
) -> Answer:
    """Check the model's text and decide: a cited answer, the extractive one, or a refusal.

    When the model declines (or nothing it wrote is supported) but the evidence is strong,
    the checked extractive answer stands: a refusal is decided from evidence, and the 1.5B
    model says "not in the articles" about facts that are plainly there (measured: 2 of 10
    seed questions, docs/answers.md).
    """
    sentences = [] if refusal.model_refused(raw) else check_sentences(raw, evidence)
    if refusal.unsupported(sentences):
        if refusal.extractive_fallback(evidence.best_score) and instant.sentences:
            return replace(instant, raw=raw, timings=timings,
                           confidence=round(instant.confidence * 0.8, 3))
        refused = _refusal(question, standalone, evidence, timings)
        return replace(refused, sentences=tuple(sentences), raw=raw)
    return _compose(question, standalone, evidence, sentences, raw, timings, "generated")


def _compose(
    question: str,
    standalone: str,
    evidence: Evidence,
    sentences: Sequence[AnswerSentence],
    raw: str,
    timings: dict,
    kind: str,
) -> Answer:
    shown = [s.text for s in sentences if s.supported]
    cited = [c.passage for s in sentences for c in s.citations]
    date = as_of(standalone, cited)
    text = " ".join(shown)
    if date and "as of" not in text.lower():
        text = f"As of {date}: {text}"
    return Answer(
        text=text,
        sentences=tuple(sentences),
        refused=False,
        confidence=refusal.confidence(evidence.best_score, sentences),
        question=question,
        standalone_question=standalone,
        passages=evidence.passages,
        kind=kind,  # type: ignore[arg-type]
        as_of=date,
        raw=raw,
        timings=timings,
    )


def stream(
    question: str,
    history: Sequence[HistoryItem] | None = None,
    *,
    retrieve: Retrieve,
    settings: Settings,
    llm: BaseChatModel | None = None,
) -> Iterator[StreamEvent]:
    """Answer ``question``: instant extractive answer, then model tokens, then the final
    checked ``Answer``. ``llm`` defaults to the model ``settings.llm`` names."""
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    history = list(history or [])
    if llm is None:
        from qa.llm import get_chat_model

        llm = get_chat_model(settings)
    standalone = rewrite_question(question, history, llm) if history else question
    timings["rewrite"] = time.perf_counter() - t0
    passages = list(retrieve(standalone, settings.top_k))
    timings["retrieve"] = time.perf_counter() - t0
    evidence = build_evidence(standalone, passages)

    if not passages or refusal.weak_evidence(evidence.best_score):
        timings["extractive"] = timings["total"] = time.perf_counter() - t0
        answer = _refusal(question, standalone, evidence, timings)
        yield ExtractiveEvent(answer)
        yield FinalEvent(answer)
        return

    instant = _compose(
        question, standalone, evidence, extractive_sentences(evidence), "", dict(timings),
        "extractive",
    )
    timings["extractive"] = time.perf_counter() - t0
    yield ExtractiveEvent(replace(instant, timings=dict(timings)))

    messages = _prompt("answer_system", "answer_user").format_messages(
        passages=format_passages(evidence), question=standalone
    )
    pieces: list[str] = []
    for chunk in llm.stream(messages):
        text = chunk.text
        if not text:
            continue
        if not pieces:
            timings["first_token"] = time.perf_counter() - t0
        pieces.append(text)
        yield TokenEvent(text)
    raw = "".join(pieces)
    timings["total"] = time.perf_counter() - t0
    yield FinalEvent(_finish(question, standalone, evidence, raw, timings, instant))


def ask(
    question: str,
    history: Sequence[HistoryItem] | None = None,
    *,
    retrieve: Retrieve,
    settings: Settings,
    llm: BaseChatModel | None = None,
) -> Answer:
    """The final checked ``Answer`` for ``question`` (``stream`` without the events)."""
    final: Answer | None = None
    for event in stream(question, history, retrieve=retrieve, settings=settings, llm=llm):
        if isinstance(event, FinalEvent):
            final = event.answer
    assert final is not None
    return final

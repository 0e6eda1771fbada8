"""The things that flow through newsqa: articles in, passages and documents out.

Frozen dataclasses so a value handed to a caller can never be changed behind the store's back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Literal

from qa.errors import QAError


@dataclass(frozen=True)
class Article:
    """One cleaned article, ready to be chunked.

    ``text`` is the cleaned body that is stored; every chunk offset points into it.
    """

    text: str
    """Cleaned article body (title not included); chunk offsets index into this string."""
    title: str
    """Headline, or the file name when the document has none."""
    source: str
    """Where it came from: the article's URL when known, else the file path or 'pasted:<hash>'."""
    published: str | None = None
    """Publication date as ISO ``YYYY-MM-DD`` when known."""
    origin: str = ""
    """What the user gave us (path, path#line for JSONL), for error messages and reports."""
    warnings: tuple[str, ...] = field(default=(), compare=False)
    """Problems that did not stop the article from being added (an unreadable date)."""


@dataclass(frozen=True)
class Chunk:
    """A span of an article that is embedded and retrieved as one unit."""

    index: int
    """Position of the chunk in its article, from 0."""
    start: int
    """Offset of the first character in ``Article.text``."""
    end: int
    """Offset one past the last character: ``article.text[start:end] == text``."""
    text: str


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with what a reader needs to judge and cite it."""

    doc_id: str
    title: str
    source: str
    published: str | None
    text: str
    start: int
    """Offset of the passage in the stored article text (see ``KnowledgeBase.article``)."""
    end: int
    score: float
    """Relevance, higher is better: cosine similarity for dense hits, fused score otherwise."""
    chunk_index: int = 0
    chunk_id: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DocumentInfo:
    """A document as listed to users: what it is and how many chunks it has."""

    doc_id: str
    title: str
    source: str
    published: str | None
    chunks: int
    chars: int
    added_at: str
    """UTC time the current version was committed, ISO 8601."""

    def to_dict(self) -> dict:
        return asdict(self)


Status = Literal["added", "unchanged", "replaced", "failed"]


@dataclass(frozen=True)
class AddOutcome:
    """What happened to one input document."""

    origin: str
    status: Status
    doc_id: str | None = None
    title: str | None = None
    chunks: int = 0
    error: str | None = None
    """One-line reason, set when status is 'failed'."""
    warnings: tuple[str, ...] = ()
    """One-line notes on a document that was added anyway (e.g. its date could not be read)."""


@dataclass
class AddReport:
    """Result of one add call: one outcome per document (or per unreadable input)."""

    outcomes: list[AddOutcome] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(path, reason) of inputs deliberately left out, e.g. a link leaving the added folder."""

    def count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failed(self) -> list[AddOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def warnings(self) -> list[tuple[str, str]]:
        """(origin, message) of every warning: skipped inputs, then per-document notes."""
        return list(self.skipped) + [
            (o.origin, w) for o in self.outcomes for w in o.warnings
        ]

    def summary(self) -> str:
        n = len(self.warnings)
        return (
            f"added {self.count('added')}, unchanged {self.count('unchanged')}, "
            f"replaced {self.count('replaced')}, failed {self.count('failed')}"
            + (f", warnings {n}" if n else "")
        )


# The answer side: what kb.ask and kb.stream return.
# What an answer is made of: sentences, the citations that back them, and the verdict.
#
# Frozen dataclasses, because an ``Answer`` is handed to the CLI, the web app and Python callers
# and kept in chat history: nobody downstream should be able to change what was checked.
AnswerKind = Literal["extractive", "generated", "refusal"]
AnswerShape = Literal["fact", "open"]
"""A short fact with its quote, or several checked sentences (``qa.answer.intent``)."""


@dataclass(frozen=True)
class Citation:
    """One [n] marker resolved to a passage and the exact span in the article that backs it."""

    n: int
    """The number shown in the answer text: the passage's 1-based rank in ``Answer.passages``."""
    passage: Passage
    start: int
    """Offset of the supporting span in the article text (not in the passage)."""
    end: int
    """One past the span's last character: ``article_text[start:end] == quote``."""
    quote: str
    """The supporting span itself, verbatim from the article: what the source panel
    highlights."""
    support: float
    """How much the quote's sentence is about the question, 0..1 (the evidence score)."""
    sentence: str = ""
    """The whole sentence(s) around the quote, shown under the answer ("" = the quote)."""

    def to_dict(self) -> dict:
        """The ``--json`` shape of one citation."""
        return {
            "n": self.n,
            "doc_id": self.passage.doc_id,
            "title": self.passage.title,
            "published": self.passage.published,
            "text": self.passage.text,
            "start": self.start,
            "end": self.end,
            "quote": self.quote,
            "sentence": self.sentence or self.quote,
        }


@dataclass(frozen=True)
class AnswerSentence:
    """One sentence of the answer as shown, with the citations that survived checking."""

    text: str
    """Sentence as shown, with its corrected [n] markers."""
    citations: tuple[Citation, ...] = ()
    supported: bool = False
    """True when the sentence is backed by a checked quote (qa.answer.grounding)."""
    corrected: bool = False
    """True when the model's [n] was replaced or added by the checker."""
    reason: str = ""
    """Why the checker did not show it ("not in the articles: Moscow"); empty when shown."""
    quoted: bool = False
    """Copied verbatim from its passage by the system (an open answer's added sentence, see
    ``qa.answer.open_answer.COMPLEMENT``), not written by the model."""

    def to_dict(self) -> dict:
        """The ``--json`` shape of one sentence and its check verdict."""
        return {
            "text": self.text,
            "shown": self.supported,
            "verdict": "supported" if self.supported else "removed",
            "reason": self.reason,
            "corrected": self.corrected,
            "quoted": self.quoted,
            "citations": [c.to_dict() for c in self.citations],
        }


CheckStatus = Literal["passed", "failed", "not_checked"]
"""A check's outcome: "failed" refuses the answer, "not_checked" means the check was turned
off, does not read the question's language, or had nothing to look at."""


@dataclass(frozen=True)
class CheckVerdict:
    """What one named check (``qa.answer.checks``) said about one answer, and why."""

    check: str
    """The check's name in ``qa.answer.checks.CHECKS``."""
    status: CheckStatus
    reason: str
    """One human-readable line: what was compared with what."""
    features: Mapping[str, float | int | str | bool | None] = field(default_factory=dict)
    """The few numbers and flags behind the verdict (a score and the floor it met)."""
    after: bool = False
    """Made after the check that refused the answer: recorded, never deciding. It says what the
    answer would have met with the refusing check off (``qa.eval.loo``)."""

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def to_dict(self) -> dict:
        """The ``--json`` and ``results.jsonl`` shape of one verdict ("after" only when set)."""
        d = {"check": self.check, "status": self.status, "reason": self.reason,
             "features": dict(self.features)}
        if self.after:
            d["after"] = True
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> CheckVerdict:
        return cls(str(d["check"]), d["status"], str(d.get("reason", "")),
                   dict(d.get("features") or {}), bool(d.get("after", False)))


@dataclass(frozen=True)
class Answer:
    """The final (or provisional extractive) answer to one question."""

    text: str
    sentences: tuple[AnswerSentence, ...]
    refused: bool
    confidence: float | None
    """0..1, how well what is shown is backed; a heuristic score, not a probability (that is
    ``calibrated``): for a short fact, the
    evidence score of its quote's sentence (how much it is about the question, the score the
    check compares with its floor); for an open answer, the share of the model's sentences
    that passed the check; for a preview, the best sentence's score. None for a refusal: it
    shows no answer to be confident in."""
    question: str = ""
    standalone_question: str = ""
    """The question after follow-up rewriting; what was retrieved with."""
    passages: tuple[Passage, ...] = ()
    """Retrieved passages, numbered from 1 as in the prompt; on refusal, the nearest ones."""
    kind: AnswerKind = "generated"
    as_of: str | None = None
    """Date the answer is stated 'as of', when dates matter for it."""
    raw: str = ""
    """The model's unprocessed output, for debugging and evaluation."""
    answer_logprobs: tuple[float, ...] = ()
    """Log-probabilities of the tokens of the model's short answer (``qa.answer.confidence``);
    () when the backend gives none."""
    timings: dict[str, float] = field(default_factory=dict, compare=False)
    """Seconds per stage (retrieve, extractive, first_token, total)."""
    shape: AnswerShape = "fact"
    """"fact": one short answer; "open": one to about six sentences, each checked."""
    missing: tuple[str, ...] = ()
    """What the question asks about that the articles never mention (an open answer that
    covers only part of its question says so)."""
    refusal_reason: str | None = None
    """For a refusal made by a named check: "<check>: <why>" ("relevance: its sentence scores
    0.31 against the question, under the floor 0.40"); None otherwise."""
    checks: tuple[CheckVerdict, ...] = ()
    """The verdicts of the checks that looked at a short answer, in the table's order. The
    first failed one refused it; those after it are marked ``after`` (made for measurement,
    on the same candidate quote, never deciding)."""
    would_answer: str | None = None
    """A refused short answer: the text it would have shown had its failed checks been off,
    from the candidate quote its verdicts are about; never shown. None: answered, or no
    candidate quote to show (a decline, no quote located)."""
    earlier_refused_by: tuple[str, ...] = ()
    """The check that refused each earlier draft of this answer, in order (the first pass over
    the best passages, a number before its second look); (): this is the first draft."""
    signals: dict[str, float] | None = field(default=None, compare=False)
    """A short answer's soft signals (``qa.answer.signals``), of the candidate its verdicts
    are about (shown or refused): what the calibration reads. None: no candidate quote."""
    calibrated: float | None = None
    """How likely a short answer is right, read from ``signals`` by the shipped calibration
    (``qa.answer.calibration``); None: no candidate, or no calibration."""

    def __post_init__(self) -> None:
        if self.refused and self.confidence is not None:
            object.__setattr__(self, "confidence", None)  # a refusal shows no answer

    @property
    def refused_by(self) -> str | None:
        """The name of the check that refused this answer (None: not refused by a check)."""
        return next((v.check for v in self.checks if v.failed), None)

    @property
    def shown_sentences(self) -> tuple[AnswerSentence, ...]:
        return tuple(s for s in self.sentences if s.supported)

    @property
    def removed(self) -> tuple[AnswerSentence, ...]:
        """Sentences the model wrote that the check did not show."""
        return tuple(s for s in self.sentences if not s.supported)

    @property
    def citations(self) -> tuple[Citation, ...]:
        """Unique citations in order of first appearance."""
        seen: dict[tuple[int, int, int], Citation] = {}
        for s in self.sentences:
            for c in s.citations:
                seen.setdefault((c.n, c.start, c.end), c)
        return tuple(seen.values())

    def to_dict(self) -> dict:
        """The ``qa ask --json`` shape."""
        return {
            "answer": self.text,
            "refused": self.refused,
            "confidence": None if self.confidence is None else round(self.confidence, 3),
            "as_of": self.as_of,
            "citations": [c.to_dict() for c in self.citations],
            "shape": self.shape,
            "sentences": [s.to_dict() for s in self.sentences],
            "removed": len(self.removed),
            "missing": list(self.missing),
            "refusal_reason": self.refusal_reason,
            "checks": [v.to_dict() for v in self.checks],
            "calibrated": None if self.calibrated is None else round(self.calibrated, 3),
        }


@dataclass(frozen=True)
class ExtractiveEvent:
    """First event of a stream: the instant answer chosen without the LLM."""

    answer: Answer


@dataclass(frozen=True)
class TokenEvent:
    """A piece of the model's raw output, as it streams."""

    text: str


@dataclass(frozen=True)
class FinalEvent:
    """Last event: the checked answer that replaces the extractive one."""

    answer: Answer


@dataclass(frozen=True)
class SentenceEvent:
    """An open answer's sentences checked so far (shown ones and removed ones): each is
    shown as soon as it passes the check, with its citations."""

    answer: Answer


StreamEvent = ExtractiveEvent | TokenEvent | SentenceEvent | FinalEvent


def final_answer(events: Iterable[StreamEvent]) -> Answer:
    """The checked ``Answer`` at the end of an answer stream (``kb.stream``): what every caller
    that does not show the tokens as they come wants."""
    final: Answer | None = None
    for event in events:
        if isinstance(event, FinalEvent):
            final = event.answer
    if final is None:
        raise QAError("the answer chain ended without an answer")
    return final

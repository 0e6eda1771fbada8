"""What an answer is made of: sentences, the citations that back them, and the verdict.

Frozen dataclasses, because an ``Answer`` is handed to the CLI, the web app and Python callers
and kept in chat history: nobody downstream should be able to change what was checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from qa.models import Passage

AnswerKind = Literal["extractive", "generated", "refusal"]


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
    """True when the sentence is backed by a checked quote (qa.grounding)."""
    corrected: bool = False
    """True when the model's [n] was replaced or added by the checker."""


@dataclass(frozen=True)
class Answer:
    """The final (or provisional extractive) answer to one question."""

    text: str
    sentences: tuple[AnswerSentence, ...]
    refused: bool
    confidence: float
    """0..1, a heuristic ordering, not a probability: for a checked answer, how much the quote's
    sentence is about the question (the evidence score); for a preview, the best sentence's
    score; for a refusal, one minus it."""
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
    timings: dict[str, float] = field(default_factory=dict, compare=False)
    """Seconds per stage (retrieve, extractive, first_token, total)."""

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
            "confidence": round(self.confidence, 3),
            "as_of": self.as_of,
            "citations": [c.to_dict() for c in self.citations],
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


StreamEvent = ExtractiveEvent | TokenEvent | FinalEvent

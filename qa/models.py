"""The things that flow through newsqa: articles in, passages and documents out.

Frozen dataclasses so a value handed to a caller can never be changed behind the store's back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal


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

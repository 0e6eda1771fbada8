"""What the web app does, without Gradio: answer, add, list, remove, show a source.

``Service.answer_events`` is the one place that calls the answer chain (``qa.answer.stream``);
everything the UI and the API show comes from the events it yields.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from qa.answer_types import Answer, StreamEvent
from qa.config import Settings
from qa.errors import NotFoundError, QAError, StoreError
from qa.kb import KnowledgeBase, open_kb
from qa.models import AddReport

from . import uploads
from .render import SourceRef, source_html

SEED_EXAMPLES = {
    # the shipped article: questions it answers, and one it does not (shows a refusal)
    "North Korea Blows up Liaison Office": [
        "How much did South Korea spend to renovate the liaison office?",
        "Why did North Korea blow up the liaison office?",
        "When was the inter-Korean liaison office established?",
        "Who won the 2018 World Cup?",
    ],
}
MAX_EXAMPLES = 4


@dataclass(frozen=True)
class UploadResult:
    report: AddReport
    rejected: list[uploads.Rejected]

    def lines(self) -> list[str]:
        out = [f"✗ {r.name}: {r.reason}" for r in self.rejected]
        for o in self.report.outcomes:
            name = Path(o.origin.split("#", 1)[0]).name or o.origin
            if o.status == "failed":
                out.append(f"✗ {name}: {o.error}")
            else:
                out.append(f"✓ {name}: {o.status} “{o.title}” ({o.chunks} chunks)")
            out += [f"⚠ {name}: {w}" for w in o.warnings]
        return out

    def to_dict(self) -> dict:
        return {
            "summary": self.report.summary()
            + (f", rejected {len(self.rejected)}" if self.rejected else ""),
            "outcomes": [
                {"origin": Path(o.origin.split("#", 1)[0]).name + (
                    "#" + o.origin.split("#", 1)[1] if "#" in o.origin else ""),
                 "status": o.status, "doc_id": o.doc_id, "title": o.title,
                 "chunks": o.chunks, "error": o.error, "warnings": list(o.warnings)}
                for o in self.report.outcomes
            ] + [
                {"origin": r.name, "status": "rejected", "doc_id": None, "title": None,
                 "chunks": 0, "error": r.reason, "warnings": []}
                for r in self.rejected
            ],
        }


class Service:
    """The knowledge base plus the answer model, shared by every session of the app."""

    def __init__(self, kb: KnowledgeBase, *, llm=None):
        self.kb = kb
        self.settings: Settings = kb.settings
        self._llm = llm
        self._llm_lock = threading.Lock()
        self.uploads_dir = self.settings.data_dir / "uploads"

    @classmethod
    def from_env(cls, settings: Settings | None = None) -> Service:
        """The app's service. An embedded store folder is claimed for this process: ``qa
        add``/``qa remove`` from a shell are refused while the app runs (they would leave
        the app's in-memory index stale), with a message that says to add here instead."""
        return cls(open_kb(settings=settings or Settings.from_env(), exclusive=True))

    def close(self) -> None:
        self.kb.close()

    # -- the answer model --------------------------------------------------------------------
    @property
    def llm(self):
        with self._llm_lock:
            if self._llm is None:
                self._llm = self.kb.chat_model()
            return self._llm

    def backend(self) -> dict:
        from qa.llm import parse_spec

        spec = parse_spec(self.settings.llm)
        model = spec.model
        if spec.backend == "embedded":
            model = (str(self.settings.llm_model_path) if self.settings.llm_model_path
                     else {"": "Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
                           "1.5b": "Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
                           "0.5b": "Qwen2.5-0.5B-Instruct Q4_K_M",
                           "smollm2": "SmolLM2-135M"}.get(spec.model, spec.model))
        elif spec.backend == "fake":
            model = "test model (cites the best passage; no LLM)"
        return {"backend": spec.backend, "model": model}

    def corpus(self) -> dict:
        docs = self.kb.documents()
        s = self.settings
        return {
            "documents": len(docs),
            "chunks": sum(d.chunks for d in docs),
            "store": s.chroma_url or str(s.data_dir),
            "collection": s.collection,
            "embedder": s.embedder,
        }

    # -- answering ---------------------------------------------------------------------------
    def answer_events(
        self, question: str, history: Sequence[tuple[str, str]] = (), k: int | None = None
    ) -> Iterator[StreamEvent]:
        """Extractive event, token events, final event: the one call into the answer chain."""
        from qa.answer import stream
        from qa.kb import check_question

        # checked before anything else sees it: a follow-up's question goes to the rewrite
        # model first, and a 100 kB question there overflows the model's context
        question = check_question(question)
        settings = self.settings.with_(top_k=int(k)) if k else self.settings
        yield from stream(
            question, list(history), retrieve=self.kb.retrieve, settings=settings, llm=self.llm
        )

    def ask(self, question: str, history: Sequence[tuple[str, str]] = (),
            k: int | None = None) -> Answer:
        from qa.answer_types import FinalEvent

        final = None
        for event in self.answer_events(question, history, k):
            if isinstance(event, FinalEvent):
                final = event.answer
        if final is None:
            raise QAError("the answer chain ended without an answer")
        return final

    # -- documents ---------------------------------------------------------------------------
    def add_uploads(
        self, files: Sequence[tuple[str | Path, str]], progress: Callable | None = None
    ) -> UploadResult:
        """Add uploaded files given as (temporary path, client file name)."""
        self._check_writable()
        max_bytes = int(self.settings.max_file_mb * 1_000_000)
        rejected: list[uploads.Rejected] = []
        if len(files) > uploads.MAX_FILES:
            rejected += [uploads.Rejected(
                "upload", f"{len(files)} files at once; the limit is {uploads.MAX_FILES}")]
            return UploadResult(AddReport(), rejected)
        accepted: dict[str, Path] = {}
        for tmp, name in files:
            bad = uploads.check(Path(tmp), name, max_bytes)
            if bad:
                rejected.append(bad)
                continue
            target = uploads.store(Path(tmp), name, self.uploads_dir)
            accepted[target.name] = target
        report = self.kb.add(*accepted.values(), progress=progress) if accepted else AddReport()
        return UploadResult(report, rejected)

    def _check_writable(self) -> None:
        if self.kb.read_only:
            from qa.store import read_only_message

            raise StoreError(read_only_message(self.settings.data_dir))

    def add_text(self, text: str, title: str = "", date: str = "", source: str = "") -> AddReport:
        self._check_writable()
        return self.kb.add_text(
            text or "", title=title.strip() or None, date=date.strip() or None,
            source=source.strip() or None,
        )

    def documents(self) -> list[dict]:
        return [d.to_dict() for d in reversed(self.kb.documents())]

    def document(self, ref: str) -> dict:
        """One document by full id, id prefix (6+ characters) or exact source."""
        return self.kb.document((ref or "").strip()).to_dict()

    def remove(self, ref: str) -> dict:
        if not isinstance(ref, str):
            raise QAError("give the id or the source of the document to remove")
        return self.kb.remove(ref.strip()).to_dict()

    def examples(self) -> list[str]:
        """Questions that fit the corpus now: curated ones for the shipped article, else one
        per most recent document."""
        out: list[str] = []
        for d in reversed(self.kb.documents()):
            for title, questions in SEED_EXAMPLES.items():
                if d.title.startswith(title):
                    out = questions + out
                    break
            else:
                out.append(f"What does “{d.title}” report?")
        return out[:MAX_EXAMPLES]

    # -- sources -----------------------------------------------------------------------------
    def source(self, ref: str) -> str:
        """The source panel's HTML for a footnote reference."""
        parsed = SourceRef.parse(ref)
        if parsed is None:
            raise QAError(f"not a source reference: {ref!r}")
        try:
            info = self.kb.document(parsed.doc_id)
            text = self.kb.article_text(parsed.doc_id)
        except (NotFoundError, StopIteration) as exc:
            raise NotFoundError(
                "that document is no longer in the knowledge base (it was removed)"
            ) from exc
        return source_html(parsed, title=info.title, source=info.source,
                           published=info.published, article=text)


def answer_dict(answer: Answer) -> dict:
    """The ``ask`` endpoint's reply: ``qa ask --json`` plus kind, source and passages."""
    out = answer.to_dict()
    out["kind"] = answer.kind
    out["question"] = answer.question
    out["standalone_question"] = answer.standalone_question
    for c, d in zip(answer.citations, out["citations"], strict=True):
        d["source"] = c.passage.source
    out["passages"] = [
        {k: v for k, v in p.to_dict().items() if k != "chunk_id"} for p in answer.passages
    ]
    return out

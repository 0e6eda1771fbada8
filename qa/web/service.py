"""What the web app does, without Gradio: answer, add, list, remove, show a source.

``Service.answer_events`` is the one place that calls the answer chain (``qa.answer.chain.stream``);
everything the UI and the API show comes from the events it yields.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from qa.config import Settings
from qa.errors import InputError, NotFoundError, QAError, StoreError
from qa.kb import KnowledgeBase, check_question, open_kb
from qa.types import AddReport, Answer, Article, StreamEvent, final_answer

from . import uploads
from .render import SourceRef, document_html, source_html
from .staging import AnswerRun, StagedChatModel, Stopped

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
TITLE_CHARS = 80
"""An untitled paste is titled with its first sentence, cut at a word boundary to this."""


@dataclass(frozen=True)
class UploadResult:
    report: AddReport
    rejected: list[uploads.Rejected]

    def lines(self) -> list[str]:
        out = [f"✗ {r.name}: not accepted: {r.reason}" for r in self.rejected]
        for o in self.report.outcomes:
            name = Path(o.origin.split("#", 1)[0]).name or o.origin
            if o.status == "failed":
                out.append(f"✗ {name}: could not be read: {o.error}")
            else:
                out.append(f"✓ {name}: {o.status} “{o.title}” ({o.chunks} chunks)")
            out += [f"⚠ {name}: {w}" for w in o.warnings]
        return out

    def explanation(self) -> str:
        """What "rejected" and "failed" mean, when either happened."""
        if not self.rejected and not self.report.failed:
            return ""
        return ("Rejected files were turned away before reading (type, size, empty); failed "
                "ones were read but held no usable article text. Neither was kept.")

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


WARM_UP_WAIT_S = 600.0
STAGE_LABELS = {
    "model": "Loading the answer model",
    "rewrite": "Reading the question",
    "search": "Searching {n} article{s}",
    "read": "Reading the best passages",
    "write": "Writing the answer",
    "more": "Not in the best passages: reading the others",
    "again": "That number is not in the passages: asking again",
    "check": "Checking the citations",
}


@dataclass(frozen=True)
class Removed:
    """A removed document, kept in memory so that Undo can put it back as it was."""

    info: dict
    text: str


class Service:
    """The knowledge base plus the answer model, shared by every session of the app."""

    def __init__(self, kb: KnowledgeBase, *, llm=None):
        self.kb = kb
        self.settings: Settings = kb.settings
        self._llm = llm
        self._llm_lock = threading.Lock()
        self.model_state = "ready" if llm is not None else "not loaded"
        self.model_error: str | None = None
        self.warmed = threading.Event()  # cleared while a warm-up runs
        self.warmed.set()
        self.uploads_dir = self.settings.data_dir / "uploads"
        self._runs: dict[str, AnswerRun] = {}
        self._doc_count: tuple[float, int] = (0.0, 0)

    @classmethod
    def from_env(cls, settings: Settings | None = None, *, llm=None,
                 holder: str = "app") -> Service:
        """The app's service. An embedded store folder is claimed for this process: ``qa
        add``/``qa remove`` from a shell are refused while the app runs (they would leave
        the app's in-memory index stale), with a message that says to add here instead.
        ``llm``: the answer model (default: the one the settings name, loaded at start);
        ``holder``: "app", or the background worker's kind (qa/worker.py)."""
        return cls(open_kb(settings=settings or Settings.from_env(), exclusive=True, llm=llm,
                           holder=holder))

    def close(self) -> None:
        self.kb.close()

    # -- the answer model --------------------------------------------------------------------
    @property
    def llm(self):
        with self._llm_lock:
            if self._llm is None:
                self.model_state = "loading"
                try:
                    self._llm = self.kb.chat_model()
                except Exception as exc:
                    self.model_state, self.model_error = "failed", str(exc)
                    raise
                self.model_state = "ready"
            return self._llm

    def warm_up(self, open_answers: bool = True) -> None:
        """Load the answer model and run it once on the answer prompt's system message, so
        the first question neither loads the model nor evaluates that prefix (llama.cpp keeps
        the evaluated prefix). Meant for a background thread at start; never raises."""
        with contextlib.suppress(Exception):  # the embedder and the keyword index, so that
            self.kb.retrieve("warm up", 1)     # the first search (`qa search` too) is quick
        try:
            llm = self.llm
            from langchain_core.messages import HumanMessage, SystemMessage

            try:
                from qa.answer.prompts import load_prompt

                system = load_prompt("answer_system")
            except Exception:
                system = "You answer questions about news articles."
            self.model_state = "warming"
            llm.invoke([SystemMessage(system), HumanMessage("Hello")], max_tokens=1)
        except Exception as exc:  # the first question will say what is wrong
            self.model_error = self.model_error or str(exc)
        finally:
            if self.model_state == "warming":
                self.model_state = "ready"
            self.warmed.set()
        if open_answers:
            self._warm_open_answers()

    def _warm_open_answers(self) -> None:
        """Read the newest article into the open answers' context, so that "Summarize the
        article" only reads its question (``qa.answer.open_answer.warm_up``). After the
        warm-up proper: a question asked meanwhile waits for this read at most."""
        with contextlib.suppress(Exception):
            docs = self.kb.documents()
            if not docs or self.model_state != "ready":
                return
            newest = max(docs, key=lambda d: d.added_at)
            from qa.answer.open_answer import warm_up

            warm_up(self.llm, newest.doc_id, self.kb.document_passages,
                    self.kb.embeddings.encode)

    def start_warm_up(self, open_answers: bool = True) -> threading.Thread:
        """``open_answers=False``: only the model and the short answers' system prompt (the
        background worker: a `qa ask` that comes while it reads an article would wait)."""
        self.warmed.clear()
        thread = threading.Thread(target=self.warm_up, args=(open_answers,), daemon=True,
                                  name="newsqa-warm-up")
        thread.start()
        return thread

    def backend(self) -> dict:
        from qa.llm.backends import parse_spec

        spec = parse_spec(self.settings.llm)
        model = spec.model
        if spec.backend == "embedded":
            model = (Path(self.settings.llm_model_path).name if self.settings.llm_model_path
                     else {"": "Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
                           "1.5b": "Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
                           "0.5b": "Qwen2.5-0.5B-Instruct Q4_K_M",
                           "smollm2": "SmolLM2-135M"}.get(spec.model, spec.model))
        elif spec.backend == "fake":
            model = "test model (cites the best passage; no LLM)"
        return {"backend": spec.backend, "model": model, "state": self.model_state}

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

    def document_count(self) -> int:
        """Documents in the store, refreshed at most every 10 s (shown while searching)."""
        at, n = self._doc_count
        if time.monotonic() - at > 10:
            with contextlib.suppress(QAError):
                n = len(self.kb.documents())
                self._doc_count = (time.monotonic(), n)
        return n

    # -- answering ---------------------------------------------------------------------------
    def answer_events(
        self, question: str, history: Sequence[tuple[str, str]] = (), k: int | None = None,
        *, run: AnswerRun | None = None, about: str | None = None,
    ) -> Iterator[StreamEvent]:
        """Extractive event, token events, final event: ``kb.stream`` with the app's model.
        With ``run``, stages are reported to it and its Stop is obeyed; ``about``: the
        document the conversation is about (``kb.stream``)."""
        # checked before anything else sees it: a follow-up's question goes to the rewrite
        # model first, and a 100 kB question there overflows the model's context
        question = check_question(question)
        if run is None:
            yield from self.kb.stream(question, list(history), k=k, llm=self.llm, about=about)
            return
        if self.model_state != "ready" or not self.warmed.is_set():
            run.stage("model")  # loading or warming up: the model is busy until then
            deadline = time.monotonic() + WARM_UP_WAIT_S
            while not self.warmed.wait(0.25) and time.monotonic() < deadline:
                if run.cancelled.is_set():
                    raise Stopped()
            self.llm  # noqa: B018 - loads it here when no warm-up ran, inside this stage
        from qa.answer.chain import refers_back

        # A follow-up is searched once before the model rewrites it (for the preview shown
        # meanwhile) and once after: the first search is part of "reading the question", so
        # the stages are the same for every question. The chain may yield an ExtractiveEvent
        # for each search; the UI shows the latest.
        rewriting = [bool(history) and refers_back(question)]

        def on_stage(key: str) -> None:
            if key == "rewrite":  # the rewrite call itself: its stage is already shown
                rewriting[0] = False
                return
            run.stage(key)

        llm = StagedChatModel(inner=self.llm, on_stage=on_stage, cancelled=run.cancelled)
        run.stage("rewrite")

        def staged(retrieve):
            def search(q: str, n: int):
                if rewriting[0]:
                    return retrieve(q, n)
                run.stage("search")
                passages = retrieve(q, n)
                run.stage("read")
                return passages

            return search

        yield from self.kb.stream(question, list(history), k=k, llm=llm, wrap_retrieve=staged,
                                  about=about)

    def start_answer(self, question: str, history: Sequence[tuple[str, str]] = (),
                     k: int | None = None, *, session: str = "",
                     about: str | None = None) -> AnswerRun:
        """Answer in a worker thread (see ``AnswerRun``); ``stop(session)`` stops it. The
        question is checked first: a rejected question raises here and starts nothing."""
        question = check_question(question)
        run = AnswerRun(lambda r: self.answer_events(question, history, k, run=r,
                                                     about=about))
        if session:
            old = self._runs.pop(session, None)
            if old is not None:
                old.stop()
            self._runs[session] = run
        return run.start()

    def stop(self, session: str) -> bool:
        """Stop the answer being made for this browser session; True when there was one."""
        run = self._runs.pop(session, None)
        if run is None or run.finished.is_set():
            return False
        run.stop()
        return True

    def finished(self, session: str, run: AnswerRun) -> None:
        if self._runs.get(session) is run:
            del self._runs[session]

    def stage_label(self, key: str) -> str:
        n = self.document_count()
        return STAGE_LABELS[key].format(n=n, s="" if n == 1 else "s")

    def ask(self, question: str, history: Sequence[tuple[str, str]] = (),
            k: int | None = None, about: str | None = None) -> Answer:
        return final_answer(self.answer_events(question, history, k, about=about))

    # -- documents ---------------------------------------------------------------------------
    def add_uploads(
        self, files: Sequence[tuple[str | Path, str]], progress: Callable | None = None
    ) -> UploadResult:
        """Add uploaded files given as (temporary path, client file name). Nothing of a
        refused or unreadable upload stays on disk: its copy in ``uploads/`` is deleted (an
        earlier version under the same name is put back) and so is the temporary file."""
        self._check_writable()
        max_bytes = int(self.settings.max_file_mb * 1_000_000)
        rejected: list[uploads.Rejected] = []
        if len(files) > uploads.MAX_FILES:
            rejected += [uploads.Rejected(
                "upload", f"{len(files)} files at once; the limit is {uploads.MAX_FILES}")]
            for tmp, _ in files:
                _discard(Path(tmp))
            return UploadResult(AddReport(), rejected)
        accepted: dict[str, tuple[Path, Path | None, Path]] = {}
        for tmp, name in files:
            bad = uploads.check(Path(tmp), name, max_bytes)
            if bad:
                rejected.append(bad)
                _discard(Path(tmp))
                continue
            target = self.uploads_dir / uploads.safe_name(name)
            backup = None
            if target.exists():  # kept until the new version is known to be readable
                backup = target.with_name(f".previous-{target.name}")
                shutil.copy2(target, backup)
            target = uploads.store(Path(tmp), name, self.uploads_dir)
            accepted[target.name] = (target, backup, Path(tmp))
        try:
            report = (self.kb.add(*(t for t, _, _ in accepted.values()), progress=progress)
                      if accepted else AddReport())
        except BaseException:
            for target, backup, _ in accepted.values():
                _restore(target, backup)
            raise
        failed = {Path(o.origin.split("#", 1)[0]).name for o in report.failed
                  if "#" not in o.origin}
        for target, backup, tmp in accepted.values():
            if target.name in failed:
                _restore(target, backup)
                _discard(tmp)
            elif backup is not None:
                backup.unlink(missing_ok=True)
        self._doc_count = (0.0, 0)
        return UploadResult(report, rejected)

    def _check_writable(self) -> None:
        if self.kb.read_only:
            from qa.index.store import read_only_message

            raise StoreError(read_only_message(self.settings.data_dir))

    def add_text(self, text: str, title: str = "", date: str = "", source: str = "") -> AddReport:
        """Add pasted text; untitled text is titled with its first sentence (cut at a word
        boundary), not its first 80 characters."""
        from qa.ingest.loaders import pasted

        self._check_writable()

        title, date, source = title.strip(), date.strip(), source.strip()
        try:
            article = pasted(text or "", title=title or None, date=date or None,
                             source=source or None)
        except InputError as exc:
            return self.kb.add_articles([exc])
        if not title and article.title == article.text.split("\n", 1)[0][:80].strip():
            article = replace(article, title=first_sentence_title(article.text))
        self._doc_count = (0.0, 0)
        return self.kb.add_articles([article])

    def documents(self, query: str = "") -> list[dict]:
        """Documents, newest first; with ``query``, those whose title, source, date or id
        contain every word of it (case-insensitive)."""
        docs = [d.to_dict() for d in reversed(self.kb.documents())]
        words = (query or "").lower().split()
        if words:
            docs = [d for d in docs if all(
                w in " ".join(str(d.get(f) or "") for f in ("title", "source", "published",
                                                             "doc_id")).lower()
                for w in words)]
        return docs

    def document(self, ref: str) -> dict:
        """One document by full id, id prefix (6+ characters) or exact source."""
        return self.kb.document((ref or "").strip()).to_dict()

    def remove(self, ref: str) -> dict:
        if not isinstance(ref, str):
            raise QAError("give the id or the source of the document to remove")
        return self.kb.remove(ref.strip()).to_dict()

    def remove_many(self, refs: Sequence[str]) -> tuple[list[Removed], list[str]]:
        """Remove several documents; each is kept (text and metadata) for ``restore``.
        Returns (removed, error lines)."""
        self._check_writable()
        removed: list[Removed] = []
        errors: list[str] = []
        for ref in refs:
            try:
                info = self.kb.document(ref)
                text = self.kb.article_text(info.doc_id)
                self.kb.remove(info.doc_id)
            except (QAError, StopIteration) as exc:
                errors.append(f"{ref[:8]}: {exc or 'no such document'}")
                continue
            removed.append(Removed(info.to_dict(), text))
        self._doc_count = (0.0, 0)
        return removed, errors

    def restore(self, removed: Sequence[Removed]) -> AddReport:
        """Put removed documents back exactly as they were (same id, text and metadata)."""
        self._check_writable()
        articles = [
            Article(text=r.text, title=r.info["title"], source=r.info["source"],
                    published=r.info.get("published"), origin=r.info["title"])
            for r in removed
        ]
        self._doc_count = (0.0, 0)
        return self.kb.add_articles(articles)

    def examples(self) -> list[str]:
        """Questions that fit the corpus the user has: for the newest documents first, one
        each (the shipped article's curated ones fill what is left)."""
        out: list[str] = []
        seed: list[str] = []
        for d in reversed(self.kb.documents()):
            curated = next((qs for t, qs in SEED_EXAMPLES.items() if d.title.startswith(t)),
                           None)
            if curated:
                seed += curated
            elif len(out) < MAX_EXAMPLES:
                out.append(f"What does “{_clip_words(d.title, 70)}” report?")
        if out:  # the user's own documents first, one curated seed question after them
            return (out + seed[:1])[:MAX_EXAMPLES] if len(out) < MAX_EXAMPLES else out
        return seed[:MAX_EXAMPLES]

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

    def document_view(self, doc_id: str) -> str:
        """A whole document as HTML, for reading in the Documents tab."""
        doc_id = (doc_id or "").strip().removeprefix("#").removeprefix("nqa-doc-")
        if not re.fullmatch(r"[0-9a-f]{4,64}", doc_id):
            raise QAError("not a document id")
        try:
            info = self.kb.document(doc_id)
            text = self.kb.article_text(info.doc_id)
        except (NotFoundError, StopIteration) as exc:
            raise NotFoundError("that document is no longer in the knowledge base") from exc
        return document_html(info.to_dict(), text)


def _discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def _restore(target: Path, backup: Path | None) -> None:
    if backup is not None and backup.exists():
        os.replace(backup, target)
    else:
        _discard(target)


def _clip_words(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit + 1].rsplit(" ", 1)[0] if " " in text[:limit + 1] else text[:limit]
    return cut.rstrip(" ,;:-–—") + "…"


_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "no", "vs", "gen", "gov", "sen", "rep",
    "inc", "co", "corp", "ltd", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept",
    "oct", "nov", "dec", "mon", "tue", "wed", "thu", "fri", "sat", "sun", "approx", "est",
}
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*(?=\s+[\"'“‘(]?[A-Z0-9])")


def first_sentence(text: str) -> str:
    """The first sentence of ``text``; "U.S.", "Sept. 5", "Mr. Kim" do not end it."""
    text = " ".join(text.split())
    for m in _SENTENCE_END.finditer(text):
        word = re.search(r"(\S+)$", text[:m.start() + 1])
        token = word.group(1).rstrip(".").lower() if word else ""
        if token in _ABBREVIATIONS or re.fullmatch(r"(?:[a-z]\.)*[a-z]", token):
            continue  # an abbreviation or initials (U.S., J.)
        return text[:m.end()]
    return text


def first_sentence_title(text: str, limit: int = TITLE_CHARS) -> str:
    """A title for untitled text: its first sentence, cut at a word boundary."""
    first = first_sentence(text)
    if len(first) <= limit:
        return first.rstrip(".")
    return _clip_words(first, limit)


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

"""The knowledge base: the one object the CLI, the web app and Python users work through."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from qa.config import Settings
from qa.errors import InputError, QAError, StoreError
from qa.index.bm25 import KeywordIndex
from qa.index.embedder import Embedder
from qa.index.store import (
    ChromaStore,
    FolderClaim,
    PreparedDoc,
    app_holding,
    doc_id_for,
    read_only_message,
    shared_write,
    version_for,
)
from qa.ingest.chunking import chunk_text
from qa.ingest.loaders import expand_paths, load_file, pasted
from qa.text.dates import iso_date
from qa.types import (
    AddOutcome,
    AddReport,
    Answer,
    Article,
    DocumentInfo,
    Passage,
    StreamEvent,
    final_answer,
)

if TYPE_CHECKING:  # the answer chain is imported on the first question, not with the store
    from langchain_core.language_models import BaseChatModel

    from qa.answer.chain import HistoryItem, Retrieve

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called as progress(documents_done, documents_total) while adding."""

_GROUP_CHUNKS = 256  # chunks embedded and written together: big batches, bounded memory
MAX_QUESTION_CHARS = 2000
_Todo = tuple[int, PreparedDoc, str]
"""A planned write: (index of the input, the prepared document, its status once written)."""


class KnowledgeBase:
    """Articles in a Chroma store, searchable by meaning.

    Open one with :func:`qa.open`. Safe to share between threads of one process; in the
    embedded mode, writes from several processes are serialized by a lock file.

    ``exclusive=True`` (the web app) claims an embedded folder for this process: while it is
    open, writes from other processes are refused with a message that says to add through the
    app (see ``qa/index/store.py``, "one embedded folder, one app").

    ``llm`` is the chat model that answers (any LangChain ``BaseChatModel``, e.g.
    ``qa.llm.fake.FakeChatModel`` in tests); by default the one ``settings.llm`` names is
    loaded on the first question.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        llm: BaseChatModel | None = None,
        rebuild_index: bool = False,
        exclusive: bool = False,
        holder: str = "app",
    ):
        self.settings = settings
        self._claim: FolderClaim | None = None
        if exclusive and not settings.chroma_url:  # claimed before anything is read
            self._claim = FolderClaim.acquire(settings.data_dir, kind=holder)
        self.embeddings = Embedder(settings.embedder, settings.embed_batch_size)
        try:
            passive = (self._claim is None and not settings.chroma_url
                       and app_holding(settings.data_dir) is not None)
            self.store = ChromaStore(settings, self.embeddings, rebuild_index=rebuild_index,
                                     passive=passive)
        except BaseException:
            self.close()
            raise
        self._keyword = KeywordIndex()
        self._chat_model = llm
        self._llm_lock = threading.Lock()
        self.seed_report: AddReport | None = None
        """What seeding the sample article added when this store was opened, if anything."""

    # -- adding ------------------------------------------------------------------------------
    @property
    def _chunking(self) -> str:
        return f"news-v1:{self.settings.chunk_size}"

    def close(self) -> None:
        """Give up the folder's claim (``exclusive=True``); the store stays readable."""
        if self._claim is not None:
            self._claim.release()
            self._claim = None

    @property
    def read_only(self) -> bool:
        """True when the store can be read but not written (a read-only folder)."""
        return bool(getattr(self.store, "read_only", False))

    @contextlib.contextmanager
    def _write_lock(self) -> Iterator[None]:
        if self.settings.chroma_url:  # the server serializes writes; the protocol keeps order
            yield
            return
        data_dir = self.settings.data_dir
        if self.read_only:
            raise StoreError(read_only_message(data_dir))
        outer = contextlib.nullcontext() if self._claim else shared_write(data_dir)
        with outer:
            try:
                fh = open(data_dir / ".write.lock", "w")
            except OSError as exc:
                raise StoreError(read_only_message(data_dir) if exc.errno in (
                    errno.EROFS, errno.EACCES) else f"cannot write to {data_dir} "
                    f"({exc.strerror})") from exc
            with fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)

    def add(
        self,
        *paths: str | Path,
        title: str | None = None,
        source: str | None = None,
        date: str | None = None,
        encoding: str | None = None,
        progress: Progress | None = None,
    ) -> AddReport:
        """Add files and folders (txt, md, html, pdf, jsonl).

        Each unreadable input is reported as failed with a one-line reason; the others are
        still added. ``title``/``source``/``date`` override what the documents say.
        """
        files, errors, skipped = expand_paths(list(paths))
        items: list[Article | InputError] = list(errors)
        max_bytes = int(self.settings.max_file_mb * 1_000_000)
        for path in files:
            try:
                items += load_file(
                    path, max_bytes=max_bytes, encoding=encoding, title=title, source=source,
                    date=date,
                )
            except Exception as exc:  # a parser bug must cost one file, not the whole add
                log.warning("unexpected error reading %s", path, exc_info=True)
                items.append(InputError(str(path), f"could not be read ({type(exc).__name__} "
                                                   "in the parser)"))
        report = self.add_articles(items, progress=progress)
        report.skipped += skipped
        return report

    def add_text(
        self,
        text: str,
        *,
        title: str | None = None,
        source: str | None = None,
        date: str | None = None,
    ) -> AddReport:
        """Add pasted text. Re-adding with the same title (or source) replaces the old text."""
        try:
            article: Article | InputError = pasted(text, title=title, source=source, date=date)
        except InputError as exc:
            article = exc
        return self.add_articles([article])

    def add_articles(
        self, items: Iterable[Article | InputError], *, progress: Progress | None = None
    ) -> AddReport:
        """Index articles; InputErrors among them are reported as failed outcomes.

        Two steps under the write lock: plan (which documents are new, changed or unchanged,
        chunked), then commit (embed and write them in groups, each document visible only at
        its catalog commit)."""
        items = list(items)
        with self._write_lock():
            outcomes, todo = self._plan(items)
            self._commit(todo, outcomes, progress)
        return AddReport([o for o in outcomes if o is not None])

    def _plan(
        self, items: list[Article | InputError]
    ) -> tuple[list[AddOutcome | None], list[_Todo]]:
        """Outcomes known before writing (failed, unchanged) and the documents to write, with
        the status each gets once written. Of several inputs from one source, the last wins."""
        outcomes: list[AddOutcome | None] = [None] * len(items)
        last_index: dict[str, int] = {}
        for i, item in enumerate(items):
            if isinstance(item, InputError):
                outcomes[i] = AddOutcome(item.origin, "failed", error=item.reason)
            else:
                last_index[doc_id_for(item.source)] = i
        todo: list[_Todo] = []
        for i, item in enumerate(items):
            if isinstance(item, InputError):
                continue
            doc_id = doc_id_for(item.source)
            if last_index[doc_id] != i:
                outcomes[i] = AddOutcome(
                    item.origin, "failed", doc_id, item.title,
                    error=f"same source ({item.source}) as a later document in this add; "
                    "the later one was kept",
                )
                continue
            version = version_for(item, self._chunking)
            live = self.store.version_of(doc_id, refresh=True)
            if live == version:
                outcomes[i] = AddOutcome(
                    item.origin, "unchanged", doc_id, item.title,
                    chunks=self.store.count_chunks(doc_id), warnings=item.warnings,
                )
                continue
            todo.append((i, self._prepare(item, doc_id, version), "replaced" if live else "added"))
        return outcomes, todo

    def _prepare(self, article: Article, doc_id: str, version: str) -> PreparedDoc:
        return PreparedDoc(article, doc_id, version,
                           chunk_text(article.text, self.settings.chunk_size))

    def _commit(
        self,
        todo: Sequence[_Todo],
        outcomes: list[AddOutcome | None],
        progress: Progress | None,
        *,
        keep_going: bool = True,
    ) -> None:
        """Write the planned documents in groups and record each one's outcome. A group the
        store refuses is reported failed and the others are still written (``keep_going``),
        or the error is raised (re-indexing, which must not end half done and unmarked)."""
        total = len(todo)
        done = 0
        if progress:
            progress(0, total)
        for group in _groups(todo):
            try:
                self.store.write([doc for _, doc, _ in group])
            except Exception as exc:  # store failure: report, keep what committed
                if not keep_going:
                    raise
                for i, doc, _ in group:
                    outcomes[i] = AddOutcome(
                        doc.article.origin, "failed", doc.doc_id, doc.article.title,
                        error=f"could not write to the store ({exc})",
                    )
            else:
                for i, doc, status in group:
                    outcomes[i] = AddOutcome(
                        doc.article.origin, status, doc.doc_id, doc.article.title,  # type: ignore[arg-type]
                        chunks=len(doc.chunks), warnings=doc.article.warnings,
                    )
            done += len(group)
            if progress:
                progress(done, total)

    # -- managing ----------------------------------------------------------------------------
    def documents(self) -> list[DocumentInfo]:
        """Every document with its chunk count, oldest first."""
        return self.store.documents()

    def covers(self, day: date) -> bool:
        """Whether the store holds articles published in the days before ``day``
        (``qa.retrieve.recency.RECENT_WINDOW``): a store fed with that week's news, where an
        answer from an article months older is old news (``recency.is_old_news``)."""
        from qa.retrieve.recency import recent_days

        return self.store.has_published_on(recent_days(day))

    def document(self, ref: str) -> DocumentInfo:
        doc_id = self.store.resolve(ref)
        return next(d for d in self.store.documents() if d.doc_id == doc_id)

    def remove(self, ref: str) -> DocumentInfo:
        """Remove a document by id, id prefix or source; returns what was removed."""
        with self._write_lock():
            info = self.document(ref)
            self.store.remove(info.doc_id)
        return info

    def document_passages(self, doc_id: str) -> list[Passage]:
        """The whole document as its passages, in reading order."""
        return self.store.document_passages(doc_id)

    def article_text(self, doc_id: str) -> str:
        """The stored cleaned text that passage offsets point into."""
        return self.store.article(doc_id)[1]

    def reindex(self, progress: Progress | None = None) -> AddReport:
        """Re-chunk and re-embed every stored article (after changing embedder or chunking):
        the chunk collection is rebuilt, then every article goes through the add's commit."""
        with self._write_lock():
            records = list(self.store.all_articles())
            self.store.set_meta("reindexing", True)  # in the catalog: the reset keeps it
            self.store.reset_chunks()
            todo: list[_Todo] = []
            for n, (doc_id, meta, text) in enumerate(records):
                article = Article(
                    text=text, title=meta.get("title", ""), source=meta.get("source", ""),
                    published=meta.get("published") or None, origin=meta.get("source", doc_id),
                )
                todo.append((n, self._prepare(article, doc_id,
                                              version_for(article, self._chunking)), "replaced"))
            outcomes: list[AddOutcome | None] = [None] * len(todo)
            self._commit(todo, outcomes, progress, keep_going=False)
            self.store.set_meta("reindexing", False)
            self.store.set_meta("seeded", True)
        return AddReport([o for o in outcomes if o is not None])

    def seed(self) -> AddReport | None:
        """Index the sample corpus (``settings.corpus_dir``) the first time the store is opened
        empty; never again once done, so a removed sample stays removed."""
        if self.store.get_meta("seeded"):
            return None
        if self._claim is None and not self.settings.chroma_url and app_holding(
            self.settings.data_dir
        ):
            return None  # the app that holds the folder seeds it, not a reader beside it
        report = None
        corpus = self.settings.corpus_dir
        if not self.store.documents() and corpus.is_dir() and any(corpus.iterdir()):
            report = self.add(corpus)
        self.store.set_meta("seeded", True)
        self.seed_report = report
        return report

    # -- searching ---------------------------------------------------------------------------
    def retrieve(
        self,
        question: str,
        k: int | None = None,
        *,
        mode: str | None = None,
        as_of: str | None = None,
    ) -> list[Passage]:
        """The k passages that best match the question, from the whole corpus.

        ``mode`` is 'dense', 'keyword', 'hybrid' or 'rerank' (hybrid candidates re-ordered by
        their best sentence; default: QA_RETRIEVAL). ``as_of``
        (YYYY-MM-DD) is when the question is asked: later articles are left out and those of
        the month before rank higher."""
        from qa.retrieve.search import MODES, search

        question = check_question(question)
        k = k or self.settings.top_k
        if k < 1:
            raise QAError("k must be at least 1")
        mode = mode or self.settings.retrieval
        if mode not in MODES:
            raise QAError(f"unknown retrieval mode {mode!r}; choose one of {', '.join(MODES)}")
        vector = self.embeddings.embed_query(question)
        if as_of is not None:
            as_of = iso_date(as_of)
            if as_of is None:
                raise QAError("as_of must be a date such as 2023-01-13")
        return search(self.store, self._keyword, vector, question, k, mode, as_of,
                      encode=self.embeddings.encode)

    # -- answering ---------------------------------------------------------------------------
    def chat_model(self) -> BaseChatModel:
        """The chat model that answers: the one given as ``llm``, else the configured one,
        loaded once per knowledge base."""
        with self._llm_lock:
            if self._chat_model is None:
                from qa.llm.backends import get_chat_model

                self._chat_model = get_chat_model(self.settings)
            return self._chat_model

    def stream(
        self,
        question: str,
        history: Sequence[HistoryItem] | None = None,
        *,
        as_of: str | None = None,
        k: int | None = None,
        llm: BaseChatModel | None = None,
        wrap_retrieve: Callable[[Retrieve], Retrieve] | None = None,
        about: str | None = None,
    ) -> Iterator[StreamEvent]:
        """Events for one answer: the instant extractive answer, model tokens, the final
        checked Answer (see ``qa.types``). ``k`` passages (default QA_TOP_K); ``llm`` answers
        this question instead of :meth:`chat_model`; ``wrap_retrieve`` wraps the search the
        chain calls (the web app reports its stages through it); ``about`` is the document
        (id, id prefix or source) an open question is about: the reader's pick, or the one
        the conversation has been about (``Answer.citations``)."""
        from qa.answer import chain

        question = check_question(question)
        about = self.store.resolve(about) if about else None
        settings = self.settings.with_(top_k=int(k)) if k else self.settings

        def retrieve(q: str, n: int) -> list[Passage]:
            return self.retrieve(q, n, as_of=as_of)

        yield from chain.stream(
            question, history, retrieve=wrap_retrieve(retrieve) if wrap_retrieve else retrieve,
            settings=settings, llm=llm or self.chat_model(), as_of=as_of,
            embedder=self.embeddings, covers=self.covers,
            document_passages=self.document_passages,
            documents=lambda: [d.doc_id for d in self.documents()], about=about,
        )

    def ask(
        self,
        question: str,
        history: Sequence[HistoryItem] | None = None,
        *,
        as_of: str | None = None,
        k: int | None = None,
        llm: BaseChatModel | None = None,
        about: str | None = None,
    ) -> Answer:
        """The checked, cited Answer (or a refusal) to a question; history is a list of
        (role, text) turns for follow-ups; as_of as in :meth:`retrieve`; ``k``, ``llm`` and
        ``about`` as in :meth:`stream`."""
        return final_answer(self.stream(question, history, as_of=as_of, k=k, llm=llm,
                                        about=about))

    def as_retriever(self, k: int | None = None):
        """This knowledge base as a LangChain retriever, for use in other chains."""
        from qa.retrieve.langchain_retriever import KnowledgeBaseRetriever

        return KnowledgeBaseRetriever(kb=self, k=k or self.settings.top_k)


def check_question(question: str) -> str:
    if not isinstance(question, str) or not question.strip():
        raise QAError("the question is empty")
    question = " ".join(question.split())
    if len(question) > MAX_QUESTION_CHARS:
        raise QAError(
            f"the question is {len(question)} characters; the limit is {MAX_QUESTION_CHARS}"
        )
    return question


def _groups(todo: Sequence[_Todo]) -> Iterator[list[_Todo]]:
    group: list[_Todo] = []
    size = 0
    for item in todo:
        group.append(item)
        size += len(item[1].chunks)
        if size >= _GROUP_CHUNKS:
            yield group
            group, size = [], 0
    if group:
        yield group


def open_kb(
    data_dir: str | Path | None = None,
    *,
    settings: Settings | None = None,
    seed: bool | None = None,
    exclusive: bool = False,
    llm: BaseChatModel | None = None,
    holder: str = "app",
) -> KnowledgeBase:
    """Open (or create) the knowledge base.

    With ``seed=True`` (default: QA_SEED_CORPUS, off) an empty store is first given the sample
    article (QA_CORPUS_DIR); ``kb.seed_report`` then says what was added. ``exclusive``: see
    :class:`KnowledgeBase` (the web app opens its store this way); ``llm``: the chat model
    that answers (default: the one QA_LLM names); ``holder``: what claims the folder
    (``exclusive``), "app" or the background worker (``qa.index.store.WORKER``).
    """
    settings = settings or Settings.from_env()
    if data_dir is not None:
        settings = settings.with_(data_dir=Path(data_dir).expanduser())
    kb = KnowledgeBase(settings, llm=llm, exclusive=exclusive, holder=holder)
    try:
        if kb.store.get_meta("reindexing"):
            raise QAError("a re-index was interrupted; run `qa reindex` to finish it")
        if (settings.seed_corpus if seed is None else seed) and not kb.read_only:
            kb.seed()
    except BaseException:
        kb.close()
        raise
    return kb

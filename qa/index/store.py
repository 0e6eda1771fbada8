"""The Chroma store: chunk vectors plus a catalog of documents, with all-or-nothing adds.

Two collections live side by side, in a folder (PersistentClient) or on a Chroma server
(HttpClient), so two processes sharing a server see the same state:

* ``<name>``: one record per chunk, vectors from our embedder (Chroma never embeds for us),
  metadata ``doc_id, version, title, source, published, chunk, start, end``.
* ``<name>-docs``: one record per document (its cleaned text and metadata, the ``version``
  that is live) plus ``pending:<doc_id>`` markers for adds and removals in flight, and the
  store's flags (``seeded``, ``reindexing``) in one ``flags:store`` record.

Why not LangChain's indexing API with a record manager: its ``SQLRecordManager`` keeps the
bookkeeping in a separate SQL database that two processes on one Chroma server do not share,
and its incremental cleanup deletes a document's old chunks while the new ones are still being
written, so a kill -9 mid-replace leaves a half-indexed document visible. Here a document
becomes visible in one write (its catalog record); chunks of any other version are invisible to
retrieval and are removed by recovery. Ids still derive from content hashes as in that API.

Commit protocol for one document:
  1. write marker ``pending:<doc_id>``          (recovery knows what to clean up)
  2. upsert the new chunks (id = doc_id:version:n)
  3. upsert the catalog record with the new version  <- commit point
  4. delete chunks of other versions, then the marker
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qa.config import Settings
from qa.errors import EmbedderMismatchError, NotFoundError, QAError, StoreError
from qa.types import Article, Chunk, DocumentInfo, Passage

log = logging.getLogger(__name__)

SCHEMA = 1
MIN_ID_PREFIX = 6
"""Shortest id prefix that may name a document (to remove or show it)."""
_NO_VECTOR = [0.0]  # catalog records are looked up by id/metadata, never by similarity
_FLAGS_ID = "flags:store"  # the catalog record holding the store's flags
_FLAGS = ("seeded", "reindexing")
_STALE_PENDING_S = 3600.0


def doc_id_for(source: str) -> str:
    """A document is identified by where it came from, so a new version replaces the old."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def version_for(article: Article, chunking: str) -> str:
    """Content hash of everything that shapes the stored chunks."""
    h = hashlib.sha256()
    for part in (article.text, article.title, article.source, article.published or "", chunking):
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class PreparedDoc:
    """An article with its chunks and ids, ready to be written."""

    article: Article
    doc_id: str
    version: str
    chunks: list[Chunk]

    def chunk_ids(self) -> list[str]:
        return [f"{self.doc_id}:{self.version}:{c.index}" for c in self.chunks]

    def chunk_metadatas(self) -> list[dict[str, Any]]:
        a = self.article
        return [
            {
                "doc_id": self.doc_id,
                "version": self.version,
                "title": a.title,
                "source": a.source,
                "published": a.published or "",
                "chunk": c.index,
                "start": c.start,
                "end": c.end,
            }
            for c in self.chunks
        ]


def _guarded(method):
    """Turn Chroma's failures into a StoreError that names the cause and says what to do.

    In server mode the usual cause is a server that is down or restarting, and the next call
    succeeds once it is back (the HTTP client reconnects by itself). In a folder, the usual
    cause is another process that wrote to it behind this one's back (see "one embedded
    folder, one app"), or a folder that became read-only; Chroma's own message is logged,
    never shown."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except QAError:
            raise
        except Exception as exc:
            if not self.settings.chroma_url:
                log.warning("store %s failed in %s", self.settings.data_dir, method.__name__,
                            exc_info=True)
                raise _folder_error(self.settings.data_dir, exc) from exc
            raise StoreError(
                f"the Chroma server at {self.settings.chroma_url} is not answering "
                f"({type(exc).__name__}: {exc}); check that `chroma run` is up, then retry"
            ) from exc

    return wrapper


# -- one embedded folder, one app ------------------------------------------------------------
#
# Chroma's embedded mode keeps each folder's vector index in the memory of the process that
# opened it. When another process writes to the folder, that memory goes stale and every
# query fails ("Error finding id") until the process restarts. So a web app *claims* its
# folder: it holds an exclusive flock on ``<data_dir>/.app.lock`` for as long as it runs,
# and every other process (``qa add``, ``qa remove``, ``qa reindex``, Python) takes a shared
# lock on the same file around each write, which is refused at once, with a message saying
# how to add instead, while an app holds the folder. Reading from another process (``qa
# list``, ``qa search``, ``qa ask``) stays allowed: it writes nothing. A Chroma server
# (QA_CHROMA_URL) has no such limit: the server is the one process that owns the data.
# The background worker of `qa ask` (qa/worker.py) claims a folder as the app does, and writes
# its kind beside its pid in the lock file: a write, or an app that starts, stops it instead of
# being refused.

APP_LOCK = ".app.lock"


def _is_read_only(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return True
    text = str(exc).lower()
    return "readonly database" in text or "read-only file system" in text


def read_only_message(where: object) -> str:
    return (
        f"the store at {where} is read-only; reading works, but adding or removing "
        f"documents needs write access to {where}"
    )


WORKER = "worker"
"""The holder kind of the background worker (qa/worker.py): a write or an app start stops it
instead of being refused, since it only keeps models loaded for the next `qa` command."""
STOP_WORKER_WAIT_S = 30.0


def _holder(first: str) -> tuple[str, str]:
    """(pid, kind) from the lock file's text: ``PID`` and the kind on the next line."""
    lines = first.split()
    return (lines[0] if lines else "?"), (lines[1] if len(lines) > 1 else "app")


def _app_pid(fh) -> str:
    fh.seek(0)
    return _holder(fh.read(64))[0]


def _stop_worker(fh, data_dir: Path) -> bool:
    """When the folder's holder is the background worker: stop it, and wait until it has let
    go of the folder. True when it has (then the caller may take the lock)."""
    fh.seek(0)
    pid, kind = _holder(fh.read(64))
    if kind != WORKER or not pid.isdigit():
        return False
    from qa.worker import stop

    return stop(data_dir, int(pid), STOP_WORKER_WAIT_S)


def app_in_charge_message(data_dir: Path, pid: str) -> str:
    return (
        f"the newsqa web app (pid {pid}) has the store at {data_dir} open, and only it may "
        "write there; add or remove documents in the app (its Documents tab, or its /add and "
        "/remove endpoints), or stop the app and run this again"
    )


class FolderClaim:
    """A web app's exclusive claim on an embedded store folder (see the notes above)."""

    def __init__(self, fh):
        self._fh = fh

    @classmethod
    def acquire(cls, data_dir: Path, wait_s: float = 60.0, kind: str = "app"
                ) -> FolderClaim | None:
        """Claim the folder; wait for a ``qa`` write in progress, stop the background worker,
        refuse when another app holds it. None when the folder is read-only (then nobody can
        write there). ``kind``: "app", or ``WORKER`` for the background worker."""
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            fh = open(data_dir / APP_LOCK, "a+")
        except OSError as exc:
            if _is_read_only(exc):
                return None
            raise StoreError(f"cannot use the folder {data_dir} ({exc.strerror})") from exc
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                pid = _app_pid(fh)
                if kind != WORKER and _stop_worker(fh, data_dir):
                    continue
                if pid.isdigit() and _pid_alive(int(pid)):
                    fh.close()
                    raise StoreError(
                        f"another newsqa web app (pid {pid}) already serves the store at "
                        f"{data_dir}; stop it first, or give this one its own QA_DATA_DIR "
                        "(or share one Chroma server, QA_CHROMA_URL)"
                    ) from None
                if time.monotonic() > deadline:
                    fh.close()
                    raise StoreError(
                        f"a `qa` command has been writing to the store at {data_dir} for over "
                        f"{wait_s:.0f} s; start the app when it has finished"
                    ) from None
                time.sleep(0.2)
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n{kind}\n")
        fh.flush()
        return cls(fh)

    def release(self) -> None:
        if self._fh is not None and not self._fh.closed:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()


@contextlib.contextmanager
def shared_write(data_dir: Path) -> Iterator[None]:
    """Held around a write by a process that does not hold the folder's claim: refused at
    once, with what to do instead, while a web app holds it."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        fh = open(data_dir / APP_LOCK, "a+")
    except OSError as exc:
        if _is_read_only(exc):
            raise StoreError(read_only_message(data_dir)) from exc
        raise StoreError(f"cannot use the folder {data_dir} ({exc.strerror})") from exc
    with fh:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not _stop_worker(fh, data_dir):
                    raise StoreError(app_in_charge_message(data_dir, _app_pid(fh))) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def app_holding(data_dir: Path) -> str | None:
    """The pid of the web app that holds the folder, or None (this process holds nothing)."""
    try:
        fh = open(data_dir / APP_LOCK, "rb")
    except OSError:
        return None
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            return _holder(fh.read(64).decode("ascii", "replace"))[0]
        fcntl.flock(fh, fcntl.LOCK_UN)
    return None


def _folder_error(data_dir: Path, exc: BaseException) -> StoreError:
    if _is_read_only(exc):
        return StoreError(read_only_message(data_dir))
    text = str(exc)
    if "Error finding id" in text or "Error executing plan" in text or "Nothing found" in text:
        return StoreError(
            f"the store at {data_dir} was changed by another process while this one had it "
            "open, so its in-memory index is out of date; restart this program (nothing "
            "committed is lost), and add documents through the running app, not `qa add`"
        )
    return StoreError(
        f"the store at {data_dir} could not be used ({type(exc).__name__} inside Chroma); "
        "restart this program, and if it keeps failing, check the folder's disk and rights"
    )


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _connect(settings: Settings) -> tuple[Any, bool]:
    """A Chroma client for the settings, and whether the store is read-only here."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        from urllib.parse import urlparse

        url = urlparse(settings.chroma_url)
        if not url.hostname:
            raise StoreError(f"QA_CHROMA_URL {settings.chroma_url!r} is not a URL like "
                             "http://127.0.0.1:8000")
        try:
            return chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            ), False
        except Exception as exc:  # chromadb raises several types for an unreachable server
            raise StoreError(
                f"cannot reach the Chroma server at {settings.chroma_url} ({exc}); "
                "is `chroma run` up?"
            ) from exc
    path = settings.data_dir / "chroma"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if _is_read_only(exc):
            raise StoreError(
                f"the folder {settings.data_dir} is read-only and holds no store yet; "
                "point QA_DATA_DIR at a folder you can write to"
            ) from exc
        raise StoreError(f"cannot create the store at {path} ({exc.strerror})") from exc
    sqlite = path / "chroma.sqlite3"
    segments = [p for p in path.iterdir() if p.is_dir()]
    if segments and not sqlite.exists():
        raise StoreError(
            f"the store at {path} is corrupt (vector files without chroma.sqlite3); "
            f"move it away and rebuild with `qa add` (or delete {path})"
        )
    if sqlite.exists() and sqlite.stat().st_size > 0:
        with sqlite.open("rb") as fh:
            if fh.read(16) != b"SQLite format 3\x00":
                raise StoreError(
                    f"the store at {path} is corrupt (chroma.sqlite3 is not a database); "
                    f"move it away and rebuild with `qa add` (or delete {path})"
                )
    if _folder_read_only(path):
        # Chroma cannot open a folder it may not write to (it writes even to read), so a
        # read-only store is read from a private copy; writes are refused (ChromaStore).
        return _open_snapshot(path, chroma_settings), True
    try:
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings), False
    except Exception as exc:
        if _is_read_only(exc):
            return _open_snapshot(path, chroma_settings), True
        raise StoreError(
            f"cannot open the store at {path} ({_short(exc)}); if it is damaged, move it "
            "away and rebuild with `qa add`"
        ) from exc


def _short(exc: BaseException) -> str:
    """An exception as a short one-line cause for a message."""
    text = " ".join(str(exc).split())
    return text if len(text) <= 160 else text[:160] + "…"


def _folder_read_only(path: Path) -> bool:
    """Whether this process cannot write the store folder or its database."""
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=path, prefix=".probe-"):
            pass
        sqlite = path / "chroma.sqlite3"
        if sqlite.exists():
            with open(sqlite, "r+b"):
                pass
    except OSError as exc:
        return _is_read_only(exc)
    return False


def _open_snapshot(path: Path, chroma_settings):
    import atexit
    import shutil
    import tempfile

    import chromadb

    copy = Path(tempfile.mkdtemp(prefix="newsqa-readonly-")) / "chroma"
    try:
        shutil.copytree(path, copy)
        atexit.register(shutil.rmtree, copy.parent, ignore_errors=True)
        return chromadb.PersistentClient(path=str(copy), settings=chroma_settings)
    except Exception as exc:
        shutil.rmtree(copy.parent, ignore_errors=True)
        raise StoreError(
            f"the store at {path} is read-only and could not be read ({_short(exc)}); "
            "give this user write access to it, or copy it somewhere writable"
        ) from exc


class ChromaStore:
    """Chunk vectors and the document catalog in Chroma, with the commit protocol above."""

    def __init__(
        self, settings: Settings, embeddings, *, rebuild_index: bool = False,
        passive: bool = False,
    ):
        """``passive``: open without writing anything (no recovery, no settings change),
        for a reader beside the web app that holds the folder."""
        self.settings = settings
        self._passive = passive
        self.embeddings = embeddings
        self.client, self.read_only = _connect(settings)
        self.name = settings.collection
        self.catalog_name = f"{settings.collection}-docs"
        self._lock = threading.RLock()
        self._versions: dict[str, str] = {}
        self._rebuild_index = rebuild_index
        try:
            self.chunks = self._open_chunks()
            self.catalog = self.client.get_or_create_collection(
                self.catalog_name, embedding_function=None, configuration={"hnsw": {"space": "l2"}}
            )
        except (EmbedderMismatchError, StoreError):
            raise
        except Exception as exc:
            where = settings.chroma_url or settings.data_dir / "chroma"
            raise StoreError(f"cannot open the Chroma store at {where} ({_short(exc)})") from exc
        if not self._passive:
            self.recover()
        self._load_versions()
        if not self._versions and self.chunks.count() > 0:
            raise StoreError(
                f"the store '{self.name}' has chunk vectors but no document catalog "
                f"('{self.catalog_name}' is missing or empty); it cannot be trusted: delete "
                "the collection (or the data folder) and add the articles again"
            )

    # -- opening -----------------------------------------------------------------------------
    @functools.cached_property
    def vectorstore(self):
        """Built on first use: importing langchain-chroma costs a third of a second that
        ``qa list`` and ``qa remove`` need not pay."""
        return self._langchain_store()

    def _langchain_store(self):
        """langchain-chroma over the chunk collection, embedding with our embedder."""
        from langchain_chroma import Chroma

        from qa.index.embedder import register_with_langchain

        register_with_langchain()
        return Chroma(
            client=self.client,
            collection_name=self.name,
            embedding_function=self.embeddings,
            create_collection_if_not_exists=False,
        )

    def _hnsw(self) -> dict[str, Any]:
        s = self.settings
        return {
            "space": "cosine",
            "ef_construction": s.hnsw_ef_construction,
            "ef_search": s.hnsw_ef_search,
            "max_neighbors": s.hnsw_max_neighbors,
        }

    def _embedder_meta(self) -> dict[str, Any]:
        e = self.embeddings
        return {"embedder": e.name, "dim": e.dimension, "schema": SCHEMA}

    def _open_chunks(self):
        from chromadb.errors import NotFoundError as ChromaNotFound

        try:
            col = self.client.get_collection(self.name, embedding_function=None)
        except (ChromaNotFound, ValueError):
            return self.client.create_collection(
                self.name,
                embedding_function=None,
                metadata=self._embedder_meta(),
                configuration={"hnsw": self._hnsw()},
            )
        meta = col.metadata or {}
        want = self._embedder_meta()
        if (meta.get("embedder"), meta.get("dim")) != (want["embedder"], want["dim"]):
            if self._rebuild_index:  # `qa reindex`: the vectors are rebuilt from the catalog
                self.client.delete_collection(self.name)
                return self._open_chunks()
            raise EmbedderMismatchError(
                f"the store '{self.name}' was built with embedder {meta.get('embedder')!r} "
                f"({meta.get('dim')} dimensions) but {want['embedder']!r} ({want['dim']}) is "
                "configured; run `qa reindex` to rebuild it with the configured embedder, "
                "or set QA_EMBEDDER back"
            )
        hnsw = (col.configuration or {}).get("hnsw") or {}
        if hnsw.get("ef_search") != self.settings.hnsw_ef_search and not self._passive:
            col.modify(configuration={"hnsw": {"ef_search": self.settings.hnsw_ef_search}})
        return col

    # -- catalog -----------------------------------------------------------------------------
    def _load_versions(self) -> None:
        self._versions_loaded = time.monotonic()
        self._versions = {
            rid: meta["version"] for rid, meta in self._catalog_records({"kind": "doc"})
        }

    def _catalog_records(self, where: dict, include_docs: bool = False):
        page = self.client.get_max_batch_size()
        offset = 0
        include = ["metadatas", "documents"] if include_docs else ["metadatas"]
        while True:
            got = self.catalog.get(where=where, include=include, limit=page, offset=offset)
            ids = got["ids"]
            for i, rid in enumerate(ids):
                meta = got["metadatas"][i]
                if include_docs:
                    yield rid, meta, got["documents"][i]
                else:
                    yield rid, meta
            if len(ids) < page:
                return
            offset += page

    @_guarded
    def live_versions(self, max_age_s: float = 10.0):
        """(doc_id, version) of every live document; re-read from the catalog when older than
        ``max_age_s`` so that another process's adds on a shared server show up."""
        if time.monotonic() - self._versions_loaded > max_age_s:
            self._load_versions()
        return self._versions.items()

    @_guarded
    def chunk_page(self, limit: int, offset: int) -> dict:
        return self.chunks.get(include=["metadatas", "documents"], limit=limit, offset=offset)

    @_guarded
    def vectors(self, chunk_ids: list[str]) -> dict[str, list[float]]:
        got = self.chunks.get(ids=chunk_ids, include=["embeddings"])
        return dict(zip(got["ids"], got["embeddings"], strict=True))

    @_guarded
    def version_of(self, doc_id: str, refresh: bool = False) -> str | None:
        if refresh or doc_id not in self._versions:
            got = self.catalog.get(ids=[doc_id], include=["metadatas"])
            if got["ids"]:
                self._versions[doc_id] = got["metadatas"][0]["version"]
            else:
                self._versions.pop(doc_id, None)
        return self._versions.get(doc_id)

    @_guarded
    def get_meta(self, key: str) -> Any:
        """A store flag (``seeded``, ``reindexing``). Flags live in the catalog, which
        ``reset_chunks`` never touches; stores written before that kept them in the chunk
        collection's metadata, which is still read when the catalog has no record."""
        got = self.catalog.get(ids=[_FLAGS_ID], include=["metadatas"])
        if got["ids"]:
            return (got["metadatas"][0] or {}).get(key)
        return (self.chunks.metadata or {}).get(key)

    @_guarded
    def set_meta(self, key: str, value: Any) -> None:
        got = self.catalog.get(ids=[_FLAGS_ID], include=["metadatas"])
        if got["ids"]:
            flags = dict(got["metadatas"][0] or {})
        else:  # first flag in the catalog: carry over what an older store kept elsewhere
            flags = {k: v for k, v in (self.chunks.metadata or {}).items() if k in _FLAGS}
        flags.update({key: value, "kind": "flags"})
        self.catalog.upsert(ids=[_FLAGS_ID], embeddings=[_NO_VECTOR], metadatas=[flags],
                            documents=[""])

    @_guarded
    def documents(self) -> list[DocumentInfo]:
        docs = [
            DocumentInfo(
                doc_id=rid,
                title=m.get("title", ""),
                source=m.get("source", ""),
                published=m.get("published") or None,
                chunks=int(m.get("chunks", 0)),
                chars=int(m.get("chars", 0)),
                added_at=m.get("added_at", ""),
            )
            for rid, m in self._catalog_records({"kind": "doc"})
        ]
        return sorted(docs, key=lambda d: (d.added_at, d.title))

    @_guarded
    def has_published_on(self, days: Sequence[str]) -> bool:
        """Whether a live document was published on one of ``days`` (``YYYY-MM-DD``, as the
        catalog stores dates): one filtered catalog lookup (a few ms on 832 articles), so it
        is current on a shared server too and needs no cache."""
        if not days:
            return False
        got = self.catalog.get(
            where={"$and": [{"kind": "doc"}, {"published": {"$in": list(days)}}]},
            include=[], limit=1,
        )
        return bool(got["ids"])

    @_guarded
    def article(self, doc_id: str) -> tuple[dict[str, Any], str]:
        got = self.catalog.get(ids=[doc_id], include=["metadatas", "documents"])
        if not got["ids"]:
            raise NotFoundError(f"no document with id {doc_id!r} (see `qa list`)")
        return got["metadatas"][0], got["documents"][0]

    @_guarded
    def document_passages(self, doc_id: str) -> list[Passage]:
        """Every chunk of the document's live version, in reading order: the whole article
        as passages (an open question about "the article" reads all of it)."""
        version = self.version_of(doc_id, refresh=True)
        if version is None:
            raise NotFoundError(f"no document with id {doc_id!r} (see `qa list`)")
        got = self.chunks.get(where={"$and": [{"doc_id": doc_id}, {"version": version}]},
                              include=["metadatas", "documents"])
        out = [passage_from(cid, meta, text, 1.0)
               for cid, meta, text in zip(got["ids"], got["metadatas"], got["documents"],
                                          strict=True)]
        return sorted(out, key=lambda p: p.start)

    @_guarded
    def resolve(self, ref: str) -> str:
        """Document id from a full id, a unique id prefix of at least ``MIN_ID_PREFIX``
        characters, or a document's exact source. A shorter prefix is refused even when it is
        unique: "5" must never remove an article by accident."""
        if not isinstance(ref, str) or not ref.strip():
            raise NotFoundError("no document given: give its id (see `qa list`) or its source")
        got = self.catalog.get(ids=[ref], include=["metadatas"])
        if got["ids"] and (got["metadatas"][0] or {}).get("kind") == "doc":
            return ref
        by_source = self.catalog.get(where={"source": ref}, include=[])
        if by_source["ids"]:
            return by_source["ids"][0]
        if len(ref) < MIN_ID_PREFIX:
            raise NotFoundError(
                f"no document with id or source {ref!r} (an id prefix needs at least "
                f"{MIN_ID_PREFIX} characters; see `qa list`)"
            )
        matches = [d.doc_id for d in self.documents() if d.doc_id.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise NotFoundError(f"{ref!r} matches {len(matches)} documents; give more of the id")
        raise NotFoundError(f"no document with id or source {ref!r} (see `qa list`)")

    @_guarded
    def count_chunks(self, doc_id: str | None = None) -> int:
        if doc_id is None:
            return self.chunks.count()
        return len(self.chunks.get(where={"doc_id": doc_id}, include=[])["ids"])

    # -- writing -----------------------------------------------------------------------------
    def _check_writable(self) -> None:
        if self.read_only:
            raise StoreError(read_only_message(self.settings.data_dir))

    def _mark_pending(self, items: Sequence[tuple[str, str]]) -> None:
        now = time.time()
        self.catalog.upsert(
            ids=[f"pending:{doc_id}" for doc_id, _ in items],
            embeddings=[_NO_VECTOR] * len(items),
            metadatas=[
                {"kind": "pending", "doc_id": doc_id, "version": version, "owner": _owner(),
                 "started": now}
                for doc_id, version in items
            ],
            documents=[""] * len(items),
        )

    def _clear_pending(self, doc_ids: Iterable[str]) -> None:
        ids = [f"pending:{d}" for d in doc_ids]
        if ids:
            self.catalog.delete(ids=ids)

    def _drop_other_versions(self, doc_id: str, live: str | None) -> None:
        if live is None:
            self.chunks.delete(where={"doc_id": doc_id})
        else:
            self.chunks.delete(where={"$and": [{"doc_id": doc_id}, {"version": {"$ne": live}}]})

    @_guarded
    def write(self, docs: Sequence[PreparedDoc]) -> None:
        """Embed and write documents; each becomes visible only at its catalog commit."""
        self._check_writable()
        with self._lock:
            self._mark_pending([(d.doc_id, d.version) for d in docs])
            ids, metas, texts = [], [], []
            for d in docs:
                ids += d.chunk_ids()
                metas += d.chunk_metadatas()
                texts += [c.text for c in d.chunks]
            step = self.client.get_max_batch_size()
            for i in range(0, len(ids), step):
                # langchain-chroma embeds with our embedder and upserts by id
                self.vectorstore.add_texts(
                    texts[i : i + step], metadatas=metas[i : i + step], ids=ids[i : i + step]
                )
            now = datetime.now(UTC).isoformat(timespec="seconds")
            self.catalog.upsert(  # commit point: these documents' new versions become live
                ids=[d.doc_id for d in docs],
                embeddings=[_NO_VECTOR] * len(docs),
                metadatas=[
                    {
                        "kind": "doc",
                        "version": d.version,
                        "title": d.article.title,
                        "source": d.article.source,
                        "published": d.article.published or "",
                        "chunks": len(d.chunks),
                        "chars": len(d.article.text),
                        "added_at": now,
                    }
                    for d in docs
                ],
                documents=[d.article.text for d in docs],
            )
            for d in docs:
                self._versions[d.doc_id] = d.version
                self._drop_other_versions(d.doc_id, d.version)
            self._clear_pending(d.doc_id for d in docs)

    @_guarded
    def remove(self, doc_id: str) -> None:
        self._check_writable()
        with self._lock:
            self._mark_pending([(doc_id, "")])
            self.catalog.delete(ids=[doc_id])  # commit point
            self._versions.pop(doc_id, None)
            self._drop_other_versions(doc_id, None)
            self._clear_pending([doc_id])

    @_guarded
    def recover(self) -> int:
        """Finish or undo writes that a killed process left; returns how many were cleaned."""
        host = socket.gethostname()
        cleaned = 0
        with self._lock:
            for _, meta in list(self._catalog_records({"kind": "pending"})):
                owner_host, _, pid = str(meta.get("owner", "")).rpartition(":")
                stale = time.time() - float(meta.get("started", 0)) > _STALE_PENDING_S
                dead = owner_host == host and pid.isdigit() and not _pid_alive(int(pid))
                if not (stale or dead):
                    continue  # another live process is writing it
                doc_id = meta["doc_id"]
                self._drop_other_versions(doc_id, self.version_of(doc_id, refresh=True))
                self._clear_pending([doc_id])
                cleaned += 1
        return cleaned

    @_guarded
    def reset_chunks(self) -> None:
        """Drop every chunk vector and recreate the collection for the configured embedder."""
        self._check_writable()
        with self._lock:
            self.client.delete_collection(self.name)
            self.chunks = self.client.create_collection(
                self.name,
                embedding_function=None,
                metadata=self._embedder_meta(),
                configuration={"hnsw": self._hnsw()},
            )
            self.vectorstore = self._langchain_store()

    def all_articles(self):
        """(doc_id, metadata, text) of every document, for re-indexing."""
        yield from self._catalog_records({"kind": "doc"}, include_docs=True)

    # -- reading -----------------------------------------------------------------------------
    @_guarded
    def search(self, vector: Sequence[float], k: int) -> list[Passage]:
        """Nearest chunks of live document versions, best first."""
        fetch = max(k * 2, k + 4)
        # the collection's own query, as langchain-chroma's similarity search makes it, without
        # importing langchain-chroma (half a second of a cold `qa search`, issue 27)
        res = self.chunks.query(query_embeddings=[list(vector)], n_results=fetch,
                                include=["documents", "metadatas", "distances"])
        out: list[Passage] = []
        for chunk_id, text, meta, dist in zip(res["ids"][0], res["documents"][0],
                                              res["metadatas"][0], res["distances"][0],
                                              strict=True):
            if text is None:
                continue  # as langchain-chroma: a record without a document is no passage
            meta = meta or {}
            doc_id = meta["doc_id"]
            if self.version_of(doc_id) != meta["version"] and (
                self.version_of(doc_id, refresh=True) != meta["version"]
            ):
                continue  # a version not (or no longer) committed
            out.append(passage_from(chunk_id or "", meta, text, 1.0 - float(dist)))
            if len(out) == k:
                break
        return out


def passage_from(chunk_id: str, meta: dict[str, Any], text: str, score: float) -> Passage:
    return Passage(
        doc_id=meta["doc_id"],
        title=meta.get("title", ""),
        source=meta.get("source", ""),
        published=meta.get("published") or None,
        text=text,
        start=int(meta["start"]),
        end=int(meta["end"]),
        score=score,
        chunk_index=int(meta.get("chunk", 0)),
        chunk_id=chunk_id,
    )


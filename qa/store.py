"""The Chroma store: chunk vectors plus a catalog of documents, with all-or-nothing adds.

Two collections live side by side, in a folder (PersistentClient) or on a Chroma server
(HttpClient), so two processes sharing a server see the same state:

* ``<name>``: one record per chunk, vectors from our embedder (Chroma never embeds for us),
  metadata ``doc_id, version, title, source, published, chunk, start, end``.
* ``<name>-docs``: one record per document (its cleaned text and metadata, the ``version``
  that is live) plus ``pending:<doc_id>`` markers for adds and removals in flight.

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

import functools
import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .config import Settings
from .errors import EmbedderMismatchError, NotFoundError, QAError, StoreError
from .models import Article, Chunk, DocumentInfo, Passage

SCHEMA = 1
_NO_VECTOR = [0.0]  # catalog records are looked up by id/metadata, never by similarity
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
    """Turn a Chroma server's connection failures into a StoreError that says what to do.

    Only in server mode: there the usual cause is a server that is down or restarting, and
    the next call succeeds once it is back (the HTTP client reconnects by itself)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except QAError:
            raise
        except Exception as exc:
            if not self.settings.chroma_url:
                raise
            raise StoreError(
                f"the Chroma server at {self.settings.chroma_url} is not answering "
                f"({type(exc).__name__}: {exc}); check that `chroma run` is up, then retry"
            ) from exc

    return wrapper


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


def _connect(settings: Settings):
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
            )
        except Exception as exc:  # chromadb raises several types for an unreachable server
            raise StoreError(
                f"cannot reach the Chroma server at {settings.chroma_url} ({exc}); "
                "is `chroma run` up?"
            ) from exc
    path = settings.data_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
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
    try:
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except Exception as exc:
        raise StoreError(
            f"cannot open the store at {path} ({exc}); move it away and rebuild with `qa add`"
        ) from exc


class ChromaStore:
    """Chunk vectors and the document catalog in Chroma, with the commit protocol above."""

    def __init__(self, settings: Settings, embeddings, *, rebuild_index: bool = False):
        self.settings = settings
        self.embeddings = embeddings
        self.client = _connect(settings)
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
            raise StoreError(f"cannot open the Chroma store at {where} ({exc})") from exc
        self.vectorstore = self._langchain_store()
        self.recover()
        self._load_versions()
        if not self._versions and self.chunks.count() > 0:
            raise StoreError(
                f"the store '{self.name}' has chunk vectors but no document catalog "
                f"('{self.catalog_name}' is missing or empty); it cannot be trusted: delete "
                "the collection (or the data folder) and add the articles again"
            )

    # -- opening -----------------------------------------------------------------------------
    def _langchain_store(self):
        """langchain-chroma over the chunk collection, embedding with our embedder."""
        from langchain_chroma import Chroma

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
        if hnsw.get("ef_search") != self.settings.hnsw_ef_search:
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
        return (self.chunks.metadata or {}).get(key)

    @_guarded
    def set_meta(self, key: str, value: Any) -> None:
        meta = dict(self.chunks.metadata or {})
        meta[key] = value
        self.chunks.modify(metadata=meta)

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
    def article(self, doc_id: str) -> tuple[dict[str, Any], str]:
        got = self.catalog.get(ids=[doc_id], include=["metadatas", "documents"])
        if not got["ids"]:
            raise NotFoundError(f"no document with id {doc_id!r} (see `qa list`)")
        return got["metadatas"][0], got["documents"][0]

    @_guarded
    def resolve(self, ref: str) -> str:
        """Document id from an id, a unique id prefix, or a document's exact source."""
        got = self.catalog.get(ids=[ref], include=[])
        if got["ids"]:
            return ref
        by_source = self.catalog.get(where={"source": ref}, include=[])
        if by_source["ids"]:
            return by_source["ids"][0]
        matches = [d.doc_id for d in self.documents() if d.doc_id.startswith(ref)] if ref else []
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
        hits = self.vectorstore.similarity_search_by_vector_with_relevance_scores(
            list(vector), k=fetch
        )
        out: list[Passage] = []
        for doc, dist in hits:
            meta = doc.metadata
            doc_id = meta["doc_id"]
            if self.version_of(doc_id) != meta["version"] and (
                self.version_of(doc_id, refresh=True) != meta["version"]
            ):
                continue  # a version not (or no longer) committed
            out.append(passage_from(doc.id or "", meta, doc.page_content, 1.0 - float(dist)))
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


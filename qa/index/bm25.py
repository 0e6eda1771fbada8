"""Keyword (BM25) search over the live chunks, to fuse with dense search.

Dense vectors miss rare names and numbers that a news question often hinges on ("Which seed
did the FDA add...", "9.78 billion won"); BM25 catches them. LangChain's BM25Retriever splits
on spaces only and rebuilds from Documents we would have to hold anyway, so this uses bm25s
directly. The index is built in memory from the chunk texts stored in Chroma (cheap: see
docs/benchmarks.md) and rebuilt when the set of live document versions changes, so it works
the same against an embedded store and a Chroma server.
"""

from __future__ import annotations

import threading
from typing import Any

_PAGE = 5000


def _tokens(texts: list[str]):
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", show_progress=False, return_ids=False)


class KeywordIndex:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp: int | None = None
        self._bm25 = None
        self._ids: list[str] = []
        self._metas: list[dict[str, Any]] = []
        self._texts: list[str] = []

    def _build(self, store) -> None:
        import bm25s

        live = dict(store.live_versions())
        ids, metas, texts = [], [], []
        offset = 0
        while True:
            got = store.chunk_page(_PAGE, offset)
            for cid, meta, text in zip(got["ids"], got["metadatas"], got["documents"],
                                       strict=True):
                if live.get(meta["doc_id"]) == meta["version"]:
                    ids.append(cid)
                    metas.append(meta)
                    texts.append(text)
            if len(got["ids"]) < _PAGE:
                break
            offset += _PAGE
        bm25 = None
        if texts:
            bm25 = bm25s.BM25()
            bm25.index(bm25s.tokenize(texts, stopwords="en", show_progress=False),
                       show_progress=False)
        self._bm25, self._ids, self._metas, self._texts = bm25, ids, metas, texts

    def search(self, store, query: str, k: int) -> list[tuple[str, dict[str, Any], str, float]]:
        """(chunk id, metadata, text, bm25 score) of the best keyword matches, best first."""
        with self._lock:
            stamp = hash(frozenset(store.live_versions()))
            if stamp != self._stamp:
                self._build(store)
                self._stamp = stamp
            if self._bm25 is None:
                return []
            tokens = _tokens([query])
            if not tokens or not tokens[0]:
                return []
            k = min(k, len(self._ids))
            docs, scores = self._bm25.retrieve(tokens, k=k, show_progress=False, n_threads=1)
            out = []
            for i, score in zip(docs[0], scores[0], strict=True):
                if score <= 0:
                    break
                out.append((self._ids[i], self._metas[i], self._texts[i], float(score)))
            return out

"""Retrieval strategies: dense (Chroma HNSW), keyword (BM25) and hybrid (fused by rank).

Every returned Passage carries the dense cosine similarity as its score, whatever decided its
rank, so refusal thresholds mean the same thing in every mode.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from .keyword import KeywordIndex
from .models import Passage
from .store import ChromaStore, passage_from

Mode = Literal["dense", "keyword", "hybrid"]
MODES: tuple[str, ...] = ("dense", "keyword", "hybrid")
_RRF_K = 60  # the usual reciprocal-rank-fusion constant (Cormack et al. 2009)


def _with_cosine(store: ChromaStore, query_vec, hits) -> list[Passage]:
    vectors = store.vectors([cid for cid, *_ in hits]) if hits else {}
    q = np.asarray(query_vec, dtype=np.float32)
    out = []
    for cid, meta, text in hits:
        v = vectors.get(cid)
        score = float(np.dot(q, np.asarray(v, dtype=np.float32))) if v is not None else 0.0
        out.append(passage_from(cid, meta, text, score))
    return out


def search(
    store: ChromaStore,
    keyword: KeywordIndex,
    query_vec,
    question: str,
    k: int,
    mode: str = "hybrid",
) -> list[Passage]:
    if mode == "dense":
        return store.search(query_vec, k)
    if mode == "keyword":
        hits = keyword.search(store, question, k)
        return _with_cosine(store, query_vec, [(c, m, t) for c, m, t, _ in hits])
    if mode != "hybrid":
        raise ValueError(f"unknown retrieval mode {mode!r}; choose one of {', '.join(MODES)}")
    depth = max(20, 4 * k)
    dense = store.search(query_vec, depth)
    sparse = keyword.search(store, question, depth)
    fused: dict[str, float] = {}
    for rank, p in enumerate(dense):
        fused[p.chunk_id] = fused.get(p.chunk_id, 0.0) + 1.0 / (_RRF_K + rank + 1)
    for rank, (cid, *_rest) in enumerate(sparse):
        fused[cid] = fused.get(cid, 0.0) + 1.0 / (_RRF_K + rank + 1)
    best = sorted(fused, key=fused.__getitem__, reverse=True)[:k]
    by_id = {p.chunk_id: p for p in dense}
    missing = [(c, m, t) for c, m, t, _ in sparse if c in best and c not in by_id]
    by_id.update({p.chunk_id: p for p in _with_cosine(store, query_vec, missing)})
    return [by_id[c] for c in best]

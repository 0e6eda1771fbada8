"""Retrieval strategies: dense (Chroma HNSW), keyword (BM25) and hybrid (fused by rank).

Every returned Passage carries the dense cosine similarity as its score, whatever decided its
rank, so refusal thresholds mean the same thing in every mode.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from qa.config import RETRIEVAL_MODES, RetrievalMode
from qa.index.bm25 import KeywordIndex
from qa.index.store import ChromaStore, passage_from
from qa.retrieve.recency import LATE_DATING, asks_recent, is_recent
from qa.text.dates import parse_date
from qa.text.sentences import Span, split_sentences
from qa.types import Passage

Mode = RetrievalMode
MODES: tuple[str, ...] = RETRIEVAL_MODES
_RERANK_SENTENCE_WEIGHT = 0.7
_RRF_K = 60  # the usual reciprocal-rank-fusion constant (Cormack et al. 2009)
# "As of" a date: articles published after it (beyond recency.LATE_DATING, 2 days for time
# zones and late dating) cannot be what the asker means, and ones from the 30 days before it
# get a bonus worth a few dozen ranks (what each choice bought on the tuning set:
# docs/evaluation.md).
_RECENT = timedelta(days=30)
_RECENT_BONUS = 0.006
# "This week" questions: recent on-topic passages first (docs/evaluation.md, recency rule).
_ON_TOPIC_DEPTH = 20
_THIS_WEEK_BONUS = 0.02


def prefer_recent(
    ranked: list[Passage], as_of: str, k: int, question: str = ""
) -> list[Passage]:
    """Re-rank best-first passages for a question asked on ``as_of`` (YYYY-MM-DD).

    A question about "this week" (``qa.retrieve.recency.asks_recent``) puts the on-topic passages of
    the days before it first: among the ``_ON_TOPIC_DEPTH`` best candidates, those published in
    ``RECENT_WINDOW`` outrank every older one."""
    day = parse_date(as_of)
    if day is None:
        raise ValueError(f"as_of must be a YYYY-MM-DD date, got {as_of!r}")
    recent_question = asks_recent(question)
    scored = []
    for rank, p in enumerate(ranked):
        published = parse_date(p.published)
        if published is not None and published > day + LATE_DATING:
            continue
        bonus = _RECENT_BONUS if published is not None and day - published <= _RECENT else 0.0
        if recent_question and rank < _ON_TOPIC_DEPTH and is_recent(p, day):
            bonus += _THIS_WEEK_BONUS
        scored.append((1.0 / (_RRF_K + rank + 1) + bonus, rank, p))
    scored.sort(key=lambda t: (-t[0], t[1]))
    return [p for _, _, p in scored[:k]]


def _with_cosine(store: ChromaStore, query_vec, hits) -> list[Passage]:
    vectors = store.vectors([cid for cid, *_ in hits]) if hits else {}
    q = np.asarray(query_vec, dtype=np.float32)
    out = []
    for cid, meta, text in hits:
        v = vectors.get(cid)
        score = float(np.dot(q, np.asarray(v, dtype=np.float32))) if v is not None else 0.0
        out.append(passage_from(cid, meta, text, score))
    return out


def rerank(query_vec, passages: list[Passage], encode, k: int) -> list[Passage]:
    """Re-order candidates by their best sentence, using the embedder at sentence level.

    No PyPI package ships a cross-encoder's weights, so the reranker is built from what we
    have: a chunk that holds one sentence answering the question scores high even when the
    rest of the chunk is about something else, which whole-chunk vectors blur."""
    if not passages:
        return []
    sentences: list[str] = []
    owner: list[int] = []
    for i, p in enumerate(passages):
        for span in split_sentences(p.text) or [Span(p.text, 0, len(p.text))]:
            sentences.append(span.text)
            owner.append(i)
    cos = np.asarray(encode(sentences), dtype=np.float32) @ np.asarray(query_vec, np.float32)
    best = np.full(len(passages), -1.0, dtype=np.float32)
    for i, c in zip(owner, cos, strict=True):
        best[i] = max(best[i], c)
    w = _RERANK_SENTENCE_WEIGHT
    scored = [(w * float(best[i]) + (1 - w) * p.score, -i) for i, p in enumerate(passages)]
    order = sorted(range(len(passages)), key=lambda i: scored[i], reverse=True)
    return [passages[i] for i in order[:k]]


def search(
    store: ChromaStore,
    keyword: KeywordIndex,
    query_vec,
    question: str,
    k: int,
    mode: str = "hybrid",
    as_of: str | None = None,
    encode=None,
) -> list[Passage]:
    if mode == "rerank":
        candidates = search(store, keyword, query_vec, question, max(20, 4 * k), "hybrid",
                            as_of)
        return rerank(query_vec, candidates, encode, k)
    if as_of:
        depth = max(50, 10 * k)
        ranked = search(store, keyword, query_vec, question, depth, mode)
        return prefer_recent(ranked, as_of, k, question)
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

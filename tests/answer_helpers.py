"""Passages and a tiny dense retriever for the answer tests, independent of the real KB.

The seed article is split into paragraphs with offsets into its body (title line removed,
the comment-box boilerplate dropped), the same contract ``KnowledgeBase.retrieve`` keeps:
``article_text[p.start:p.end] == p.text``.
"""

from __future__ import annotations

import re

import numpy as np
from testdata import SEED

from qa.index.embedder import Embedder
from qa.types import Passage

SEED_DATE = "2020-06-16"
EMBEDDER = Embedder()
"""The default embedder, as the knowledge base makes it from default settings."""


def seed_article() -> tuple[str, str]:
    """(title, body) of the seed article, boilerplate removed."""
    from qa.ingest.loaders import split_title

    title, _, body = split_title(SEED.read_text(encoding="utf-8"))  # headline, Date: line
    body = body.strip("\n")
    cut = body.find("Be the first to comment")
    if cut != -1:
        body = body[:cut].rstrip()
    return title.strip(), body


def paragraphs(body: str, doc_id: str, title: str, published: str | None) -> list[Passage]:
    out = []
    for i, m in enumerate(re.finditer(r"[^\n]+", body)):
        out.append(
            Passage(
                doc_id=doc_id,
                title=title,
                source=f"test:{doc_id}",
                published=published,
                text=m.group(),
                start=m.start(),
                end=m.end(),
                score=0.0,
                chunk_index=i,
                chunk_id=f"{doc_id}:{i}",
            )
        )
    return out


def seed_passages() -> list[Passage]:
    title, body = seed_article()
    return paragraphs(body, "seed", title, SEED_DATE)


class DenseRetriever:
    """Exact cosine search over a fixed list of passages: ``retrieve(question, k)``."""

    def __init__(self, passages: list[Passage]):
        self.passages = passages
        self.vectors = EMBEDDER.encode([p.text for p in passages])

    def __call__(self, question: str, k: int) -> list[Passage]:
        q = EMBEDDER.encode([question])[0]
        scores = self.vectors @ q
        order = np.argsort(-scores)[:k]
        return [_with_score(self.passages[i], float(scores[i])) for i in order]


def _with_score(p: Passage, score: float) -> Passage:
    from dataclasses import replace

    return replace(p, score=round(score, 4))

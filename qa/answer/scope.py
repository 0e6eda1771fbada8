"""What an open question is answered from: a whole article, or passages from several.

"What is this article about?" is similar to no sentence in particular, so the passages most
similar to it are the wrong context: such a question is answered from the whole document
(the reader's pick, the one the conversation is about, or the only one in the store). A long
article is cut to ``OPEN_CONTEXT_CHARS`` by keeping its most central sentences in reading
order, then the sentences most about the question. A question that spans articles
("Compare the two stories") gets passages from each, ordered by date and dated.

The article's part of the prompt depends on the article only, not on the question, so a
conversation that stays on one article pays for reading it once (llama.cpp reuses the
cached prefix of the prompt: ``qa.answer.open_answer``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from qa.answer.context import blocks_of
from qa.answer.evidence import Evidence, build_evidence
from qa.answer.quotes import is_question
from qa.index.embedder import Encoder
from qa.types import Passage

OPEN_CONTEXT_CHARS = 3200
"""Article text in an open answer's prompt (about 750 tokens): the shipped article whole.
Longer articles keep their most central sentences."""

QUESTION_SHARE = 0.25
"""Of that budget, the share kept for the sentences most about the question when an article
must be cut (the rest: its most central sentences, the same for every question)."""

MAX_ARTICLES = 3
"""A question across articles reads at most this many."""

CROSS_ARTICLE_KINDS = ("compare", "changed", "timeline")

DocumentPassages = Callable[[str], list[Passage]]
"""The whole document as its passages in reading order (``KnowledgeBase.document_passages``)."""

Retrieve = Callable[[str, int], list[Passage]]
"""A search: (query, k) to the k best passages (``KnowledgeBase.retrieve`` as of a date)."""


@dataclass(frozen=True)
class Scope:
    """The passages an open answer is written from, and how the prompt shows them."""

    evidence: Evidence
    """Every passage read, cut into sentences and scored against the question."""
    blocks: tuple[tuple[int, str], ...]
    """(passage number, text as the prompt shows it), in prompt order."""
    whole_article: str | None
    """The doc_id when the context is one whole article (cut to the budget when long)."""

    @property
    def passages(self) -> tuple[Passage, ...]:
        return self.evidence.passages


def centrality(vectors: np.ndarray) -> np.ndarray:
    """Each sentence's cosine with the article's mean sentence: its most central sentences
    say what the whole article says."""
    if not len(vectors):
        return np.zeros(0, dtype=np.float32)
    centre = vectors.mean(axis=0)
    norm = float(np.linalg.norm(centre)) or 1.0
    return vectors @ (centre / norm)


def _pick(order: Sequence[int], sizes: Sequence[int], budget: int, chosen: set[int]) -> int:
    used = sum(sizes[i] for i in chosen)
    for i in order:
        if i in chosen:
            continue
        if used + sizes[i] > budget:
            continue
        chosen.add(i)
        used += sizes[i]
    return used


def answer_scores(evidence: Evidence) -> np.ndarray:
    """How much each sentence answers the question: its evidence score, and for the sentence
    right after a question of the same passage, that question's score too (explainers set
    their answers under subheads that ask the reader's question: "How did robbers break into
    the Louvre?" is followed by how they did, at times in the next passage)."""
    scores = evidence.question_scores.astype(np.float32).copy()
    sents = evidence.sentences

    def same_article(a: int, b: int) -> bool:
        pa, pb = (evidence.passages[sents[x].passage_index] for x in (a, b))
        return pa.doc_id == pb.doc_id and pa.start <= pb.start

    for i, s in enumerate(sents):
        if not is_question(s.text):
            continue
        # the answer to a subhead's question: its next two sentences, in reading order
        for step, weight in ((1, 1.0), (2, 0.9)):
            j = i + step
            if j < len(sents) and same_article(i, j) and not is_question(sents[j].text):
                scores[j] = max(scores[j], weight * float(evidence.question_scores[i]))
    return scores


def article_selection(evidence: Evidence, budget: int = OPEN_CONTEXT_CHARS,
                      question_share: float = QUESTION_SHARE) -> set[int]:
    """The sentences of one article that the prompt shows: all of them when they fit, else
    the lede and the most central ones, then those most about the question."""
    sizes = [len(s.text) + 1 for s in evidence.sentences]
    if sum(sizes) <= budget:
        return set(range(len(sizes)))
    chosen = {0} if sizes else set()
    central = np.argsort(-centrality(evidence.vectors), kind="stable")
    _pick([int(i) for i in central], sizes, int(budget * (1 - question_share)), chosen)
    relevant = np.argsort(-answer_scores(evidence), kind="stable")
    _pick([int(i) for i in relevant], sizes, budget, chosen)
    return chosen


def whole_article(question: str, doc_id: str, document_passages: DocumentPassages,
                  encode: Encoder, budget: int = OPEN_CONTEXT_CHARS) -> Scope:
    """One whole document as the context (cut to ``budget`` when long)."""
    passages = document_passages(doc_id)
    evidence = build_evidence(question, passages, encode)
    chosen = article_selection(evidence, budget)
    return Scope(evidence, tuple(blocks_of(evidence, chosen)), doc_id)


def _by_date(p: Passage) -> tuple[str, int]:
    return (p.published or "9999-99-99", p.start)


def across_articles(question: str, passages: Sequence[Passage], encode: Encoder,
                    budget: int = OPEN_CONTEXT_CHARS, by_date: bool = True) -> Scope:
    """Retrieved passages from several articles: each article's passages together, the
    articles in date order (oldest first) when ``by_date``, cut to ``budget`` by the
    sentences most about the question, each article keeping at least its best one."""
    docs: list[str] = []
    for p in passages:
        if p.doc_id not in docs:
            docs.append(p.doc_id)
    docs = docs[:MAX_ARTICLES]
    ordered = [p for d in docs for p in sorted((p for p in passages if p.doc_id == d),
                                               key=lambda p: p.start)]
    if by_date:
        first_date = {d: min(_by_date(p) for p in ordered if p.doc_id == d) for d in docs}
        ordered.sort(key=lambda p: (first_date[p.doc_id], p.doc_id, p.start))
    evidence = build_evidence(question, list(ordered), encode)
    sizes = [len(s.text) + 1 for s in evidence.sentences]
    scores = answer_scores(evidence)
    chosen: set[int] = set()
    for d in docs:  # every article keeps its best sentence
        own = [i for i, s in enumerate(evidence.sentences)
               if evidence.passages[s.passage_index].doc_id == d]
        if own:
            chosen.add(max(own, key=lambda i: scores[i]))
    order = [int(i) for i in np.argsort(-scores, kind="stable")]
    _pick(order, sizes, budget, chosen)
    return Scope(evidence, tuple(blocks_of(evidence, chosen)), None)


def main_article(passages: Sequence[Passage]) -> str | None:
    """The article a question is about when the retrieved passages say so: the top passage's
    article, when it gave at least half of them."""
    if not passages:
        return None
    top = passages[0].doc_id
    return top if 2 * sum(1 for p in passages if p.doc_id == top) >= len(passages) else None

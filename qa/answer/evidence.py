"""The retrieved passages cut into sentences, embedded once per question.

The extractive answer, the prompt compression, the support check and the refusal decision
all look at the same sentences; embedding them once (~20-40 short sentences, ~0.1 s on 2
cores) keeps the instant answer within its half-second budget.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.index.embedder import Encoder
from qa.text.sentences import content_words, split_sentences
from qa.types import Passage


@dataclass(frozen=True)
class PassageSentence:
    """A sentence of a retrieved passage, with offsets in the article (not the passage)."""

    passage_index: int
    """0-based index into ``Evidence.passages``."""
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Evidence:
    """Everything measured about the retrieved passages for one question."""

    question: str
    passages: tuple[Passage, ...]
    sentences: tuple[PassageSentence, ...]
    vectors: np.ndarray
    """One unit vector per sentence, same order as ``sentences``."""
    question_scores: np.ndarray
    """Cosine of the question with each sentence, blended with keyword overlap."""

    @property
    def best_score(self) -> float:
        """How well the best sentence matches the question: the refusal gate's input."""
        return float(self.question_scores.max()) if len(self.question_scores) else 0.0

    @property
    def nothing_related(self) -> bool:
        """The one refusal decided before the model runs: no passage sentence is related to
        the question at all (see ``UNRELATED_THRESHOLD``)."""
        return not self.passages or self.best_score < UNRELATED_THRESHOLD

    def sentences_of(self, passage_index: int) -> list[int]:
        return [i for i, s in enumerate(self.sentences) if s.passage_index == passage_index]


UNRELATED_THRESHOLD = 0.20
"""Refuse without the model when the best passage sentence scores below this against the
question (``Evidence.best_score``). Every other refusal comes from the checked answer
(``qa.answer.grounding``): the model found no passage that states the answer, or its claim did
not survive the quote check. A similarity gate in front of the model refused plain
paraphrases ("how many storeys" against "four-storey"), so the gate left here sits below the
best-sentence score of every answerable question measured on the tuning sets
(docs/answers.md): it only skips the model when the passages are about something else."""

KEYWORD_WEIGHT = 0.25
"""Share of keyword overlap in a sentence's question score; dense cosine gets the rest."""


def keyword_overlap(question: str, sentence: str) -> float:
    """Share of the question's content words found in the sentence (0..1)."""
    q = set(content_words(question))
    if not q:
        return 0.0
    return len(q & set(content_words(sentence))) / len(q)


def build_evidence(question: str, passages: list[Passage], encode: Encoder) -> Evidence:
    """Split and embed the passages' sentences and score each against the question.
    ``encode`` is the knowledge base's embedder (``Embedder.encode``), the model that built
    the store."""
    sentences: list[PassageSentence] = []
    for i, p in enumerate(passages):
        for span in split_sentences(p.text):
            start, end = p.start + span.start, p.start + span.end
            sentences.append(PassageSentence(i, span.text, start, end))
    vecs = encode([question] + [s.text for s in sentences])
    qvec, svecs = vecs[0], vecs[1:]
    cos = svecs @ qvec if len(sentences) else np.zeros(0, dtype=np.float32)
    kw = np.array([keyword_overlap(question, s.text) for s in sentences], dtype=np.float32)
    scores = (1 - KEYWORD_WEIGHT) * cos + KEYWORD_WEIGHT * kw
    return Evidence(question, tuple(passages), tuple(sentences), svecs, scores.astype(np.float32))

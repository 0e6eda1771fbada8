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

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from qa.answer.context import blocks_of
from qa.answer.evidence import Evidence, build_evidence
from qa.answer.quotes import is_question
from qa.index.embedder import Encoder
from qa.text.dates import parse_date
from qa.types import Passage

OPEN_CONTEXT_CHARS = 3200
"""Article text in an open answer's prompt (about 750 tokens): the shipped article whole.
Longer articles keep their most central sentences."""

QUESTION_SHARE = 0.25
"""Of that budget, the share kept for the sentences most about the question when an article
must be cut (the rest: its most central sentences, the same for every question)."""

MAX_ARTICLES = 4
"""A question across articles reads at most this many (a story's timeline often spans four
reports; each keeps at least its best sentence within ``OPEN_CONTEXT_CHARS``)."""

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


_MONTH_NUMBER = {m: i for i, m in enumerate(
    ("jan feb mar apr may jun jul aug sep oct nov dec").split(), start=1)}
_MONTH_NAMES = ("January February March April May June July August September October "
                "November December").split()
_DATE_NAMED = re.compile(
    r"\b(?P<month>" + "|".join(_MONTH_NAMES) + r"|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|"
    r"Nov|Dec)\.)(?![\w])"
    r"(?:\s+(?P<day>\d{1,2})(?!\d)(?:st|nd|rd|th)?)?(?:,?\s+(?P<year>\d{4}))?")
"""A date as a question names an article by it: "the Aug. 11 report", "the December
article", "the first report (Feb. 10)". Case-sensitive: "may" and "march" are words too."""

_ARTICLE_WORD = re.compile(r"\b(articles?|reports?|stor(y|ies)|pieces?|updates?|coverage)\b",
                           re.I)


@dataclass(frozen=True)
class DateNamed:
    month: int
    day: int | None
    year: int | None

    def matches(self, published: str | None) -> bool:
        d = parse_date(published)
        return d is not None and d.month == self.month and (
            self.day is None or d.day == self.day) and (self.year is None or d.year == self.year)


_RANGE = re.compile(r"\s*(?:to|through|thru|until|till|-|–)\s*", re.I)
"""Between two dates, words that make them a range: "Aug. 9 to Aug. 11", "Feb. 13-15"."""

MAX_RANGE_DAYS = 31
"""A range wider than this names no articles day by day (its two ends still do)."""


def _days_between(first: DateNamed, last: DateNamed) -> list[DateNamed]:
    """The days from ``first`` to ``last`` inclusive (the same year, or the next when the
    range crosses New Year); just the two ends when the range is wider than a month."""
    year = first.year or last.year or 2024  # a leap year when the question names none
    start = _date(year, first.month, first.day)
    end = _date(year if (last.month, last.day) >= (first.month, first.day) else year + 1,
                last.month, last.day)
    if start is None or end is None or not 0 < (end - start).days <= MAX_RANGE_DAYS:
        return [first, last]
    return [DateNamed(d.month, d.day, first.year or last.year)
            for d in (start + timedelta(days=i) for i in range((end - start).days + 1))]


def _date(year: int, month: int, day: int | None):
    try:
        return date(year, month, day) if day else None
    except ValueError:
        return None


def dates_named(question: str) -> list[DateNamed]:
    """The dates a question names articles by, when it speaks of articles at all ("the Aug.
    11 report"); a date in a question about events ("the June 27 debate") is not one. "Feb.
    13 and 14": the second day has the first one's month; "Aug. 9 to Aug. 11" and "Feb. 13-15"
    are ranges, every day in them named."""
    if not _ARTICLE_WORD.search(question):
        return []
    out: list[DateNamed] = []
    matches = list(_DATE_NAMED.finditer(question))
    for i, m in enumerate(matches):
        month = _MONTH_NUMBER[m["month"][:3].lower()]
        year = int(m["year"]) if m["year"] else None
        here = DateNamed(month, int(m["day"]) if m["day"] else None, year)
        prev = matches[i - 1] if i else None
        if (prev is not None and out and here.day and out[-1].day
                and _RANGE.fullmatch(question[prev.end():m.start()])):
            out[-1:] = _days_between(out[-1], here)  # "Aug. 9 to Aug. 11"
            continue
        out.append(here)
        if m["day"]:
            more = re.match(r"(\s*(?:,|and|&|or|-|–|to|through)\s*)(\d{1,2})(?!\d)\b",
                            question[m.end():])
            if more:
                last = DateNamed(month, int(more[2]), year)
                if _RANGE.fullmatch(more[1]):
                    out[-1:] = _days_between(here, last)  # "Feb. 13-15"
                else:
                    out.append(last)
    return out


def _title_or_text(passages: Sequence[Passage], doc: str) -> str:
    return " ".join([next(p.title for p in passages if p.doc_id == doc)]
                    + [p.text for p in passages if p.doc_id == doc])


def articles_named(passages: Sequence[Passage], dates: Sequence[DateNamed],
                   names: Sequence[str]) -> list[str]:
    """The articles (in rank order) that the question names by a publication date it gives,
    then, for each name it compares ("Microsoft's and Google's layoffs"), the best-ranked
    article whose headline says that name (else whose text does), when none chosen yet
    does: each side of a comparison gets its own article."""
    docs = list(dict.fromkeys(p.doc_id for p in passages))
    published = {p.doc_id: p.published for p in passages}
    chosen = [d for d in docs if any(x.matches(published[d]) for x in dates)]
    titles = {d: next(p.title for p in passages if p.doc_id == d).lower() for d in docs}
    for name in names:
        n = name.lower()
        if any(n in titles[d] for d in chosen):
            continue
        by_title = [d for d in docs if n in titles[d]]
        by_text = [d for d in docs if n in _title_or_text(passages, d).lower()]
        pick = next((d for d in by_title + by_text if d not in chosen), None)
        if pick is not None and not (by_title == [] and any(d in by_text for d in chosen)):
            chosen.append(pick)
    return chosen

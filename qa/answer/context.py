"""Build the prompt's numbered passages, compressed to the sentences that matter.

On 2 CPU cores the 1.5B model reads ~90 tokens/s, so five 600-character passages cost ~10 s
before the first token. We keep the sentences that score best against the question (from
``qa.answer.evidence``) up to a character budget, in reading order, with "…" where text was cut.
Numbers stay the passages' retrieval ranks, so [n] always means ``Answer.passages[n-1]``.
"""

from __future__ import annotations

from qa.answer.evidence import Evidence
from qa.answer.prompts import load_prompt
from qa.text.dates import passage_date

CONTEXT_CHARS = 1400
"""Budget for passage text in the prompt (~350 tokens); see docs/answers.md for the trade."""

TITLE_CHARS = 60
"""Longest title shown in a passage's header; longer ones are cut at a word, with "…". Headers
were ~30 % of the prompt's tokens on news (SEO titles of 70-100 characters, each passage of an
article repeating its title and date), and every prompt token costs ~11 ms before the first
token on 2 cores (docs/answers.md)."""


def short_title(title: str, limit: int = TITLE_CHARS) -> str:
    if len(title) <= limit:
        return title
    cut = title[:limit].rsplit(" ", 1)[0].rstrip(" ,:;-–—|")
    return f"{cut}…"


def select_sentences(evidence: Evidence, budget: int = CONTEXT_CHARS) -> list[int]:
    """Indices of the sentences to show, best first until the budget is spent."""
    order = sorted(range(len(evidence.sentences)), key=lambda i: -evidence.question_scores[i])
    chosen: list[int] = []
    used = 0
    for i in order:
        size = len(evidence.sentences[i].text) + 1
        if used + size > budget and chosen:
            continue
        chosen.append(i)
        used += size
    return sorted(chosen)


def passage_blocks(evidence: Evidence, budget: int = CONTEXT_CHARS) -> list[tuple[int, str]]:
    """The prompt's passages (``prompts/passage.txt`` each) as (passage number, block), in
    retrieval order; a passage none of whose sentences made the budget is left out. A prefix
    of this list is a prefix of the prompt, so a first pass over the first blocks leaves the
    model's cache ready for the rest (``qa.answer.chain``)."""
    return blocks_of(evidence, set(select_sentences(evidence, budget)))


def blocks_of(evidence: Evidence, chosen: set[int]) -> list[tuple[int, str]]:
    """Numbered, dated passage blocks of the ``chosen`` sentences (indices into
    ``evidence.sentences``), in passage order, with "…" where text was cut; a passage's
    later blocks say "same article as [n]" instead of repeating its title and date."""
    template = load_prompt("passage")
    same_article = load_prompt("passage_same_article")
    blocks: list[tuple[int, str]] = []
    first_of: dict[str, int] = {}
    for pi, p in enumerate(evidence.passages):
        ids = evidence.sentences_of(pi)
        keep = [i for i in ids if i in chosen]
        if not keep:
            continue
        parts: list[str] = []
        prev = None
        for i in keep:
            if prev is not None and i != prev + 1:
                parts.append("…")
            parts.append(evidence.sentences[i].text)
            prev = i
        if keep[0] != ids[0]:
            parts.insert(0, "…")
        if keep[-1] != ids[-1]:
            parts.append("…")
        text = " ".join(parts)
        if p.doc_id in first_of:
            # the title and date were given with the article's first passage
            blocks.append((pi + 1, same_article.format(n=pi + 1, first=first_of[p.doc_id],
                                                       text=text)))
            continue
        first_of[p.doc_id] = pi + 1
        blocks.append((pi + 1, template.format(n=pi + 1, title=short_title(p.title),
                                               date=passage_date(p), text=text)))
    return blocks


def format_passages(evidence: Evidence, budget: int = CONTEXT_CHARS) -> str:
    """The passages block of the prompt."""
    return join_blocks(passage_blocks(evidence, budget))


def join_blocks(blocks: list[tuple[int, str]]) -> str:
    return "\n\n".join(text for _, text in blocks)

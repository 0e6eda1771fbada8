"""Print what a hand audit of the "answerable" label needs to read, one question at a time.

The sets call a question answerable when a gold string occurs anywhere in its articles
(eval/SETS.md). Whether an article *about what the question asks* gives that answer takes a
reader; this script lays out what the reader needs, as the audits in ``eval/audits/`` were
done (docs/evaluation.md): the question, its date, choices and gold answers; then, for each
article holding a gold string (those sharing most of the question's words first, then
the nearest to the question's date; later articles marked),
its date, title and the text around each occurrence. Matching is the scorer's
(``qa.eval.run.normalize``: lower case, no punctuation, no articles), on word boundaries.

    python bench/audit_context.py eval/realtimeqa-2025 20250307_0 20250307_2
    python bench/audit_context.py eval/realtimeqa-2025 --all-answerable > /tmp/audit.txt
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import date
from pathlib import Path

from qa.eval.run import normalize
from qa.text.dates import parse_date

WINDOW = 300
"""Characters shown on each side of an occurrence."""

_COMMON = {"which", "what", "this", "that", "with", "from", "have", "been", "were", "week",
           "they", "their", "about", "after", "when", "where", "does", "said", "will", "into",
           "than", "more", "most", "true", "false", "following", "these", "other", "also"}
"""Words too common to tell whether an article is about the question."""


def _occurrences(text: str, gold: str) -> list[int]:
    """Offsets in ``text`` where ``gold`` occurs as the scorer would find it (case and
    punctuation ignored, whole words)."""
    words = normalize(gold).split()
    if not words:
        return []
    pattern = r"\b" + r"[\W_]+(?:(?:a|an|the)[\W_]+)?".join(map(re.escape, words)) + r"\b"
    return [m.start() for m in re.finditer(pattern, text, flags=re.IGNORECASE)]


def _days(asked: date | None, published: str | None) -> int | None:
    day = parse_date(published)
    return None if asked is None or day is None else (asked - day).days


def report(question: dict, articles: list[dict], max_articles: int, max_hits: int) -> str:
    asked = parse_date(question.get("date"))
    lines = [f"=== {question['id']} ({question.get('date')}) {question['question']}",
             f"    gold: {question['answers']}   choices: {question.get('choices')}"]
    topic = {w for w in normalize(question["question"]).split() if len(w) > 3} - _COMMON
    found = []
    for art in articles:
        hits = [(g, at) for g in question["answers"] for at in _occurrences(art["text"], g)]
        title_hits = [g for g in question["answers"] if _occurrences(art.get("title", ""), g)]
        if hits or title_hits:
            shared = len(topic & set(normalize(f"{art.get('title', '')} {art['text']}").split()))
            found.append((art, hits, title_hits, shared))
    lines.append(f"    articles holding a gold string: {len(found)}")

    def order(item) -> tuple[int, int, int]:
        """Most question words first (an on-topic article), then nearest the day asked."""
        age = _days(asked, item[0].get("date"))
        if age is None:
            return (-item[3], 2, 0)
        return (-item[3], 0, age) if age >= -2 else (-item[3], 1, -age)

    for art, hits, title_hits, shared in sorted(found, key=order)[:max_articles]:
        age = _days(asked, art.get("date"))
        when = "undated" if age is None else (f"{age} days before" if age >= 0
                                              else f"{-age} days AFTER the question")
        lines.append(f"--- {art.get('date')} ({when}, {shared} of {len(topic)} question"
                     f" words) {art.get('title', '')!r}"
                     + (f"  [gold in title: {title_hits}]" if title_hits else ""))
        for gold, at in hits[:max_hits]:
            text = art["text"]
            lo, hi = max(0, at - WINDOW), min(len(text), at + len(gold) + WINDOW)
            snippet = " ".join(text[lo:hi].split())
            lines.append(f"    [{gold}] …{snippet}…")
        if len(hits) > max_hits:
            lines.append(f"    (+{len(hits) - max_hits} more occurrences)")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("ids", nargs="*")
    ap.add_argument("--all-answerable", action="store_true")
    ap.add_argument("--articles", type=int, default=8, help="articles shown per question")
    ap.add_argument("--hits", type=int, default=2, help="occurrences shown per article")
    args = ap.parse_args()
    questions = [json.loads(line) for line in open(args.dataset / "questions.jsonl")]
    articles = [json.loads(line) for line in open(args.dataset / "articles.jsonl")]
    wanted = [q for q in questions
              if q["id"] in args.ids or (args.all_answerable and q.get("answerable"))]
    for q in wanted:
        print(report(q, articles, args.articles, args.hits))
        print()


if __name__ == "__main__":
    main()

"""When an answer must say "as of <date>": news facts change, and articles disagree by date.

Decided in code from the question's wording and the cited passages' dates, so the date shown
is the article's, never one the model guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from qa.models import Passage

_TIME_WORDS = re.compile(
    r"\b(latest|now|current(ly)?|today|still|so far|as of|at the moment|recent(ly)?|yet|"
    r"this (week|month|year))\b",
    re.I,
)


def parse_date(value: str | None) -> date | None:
    """ISO ``YYYY-MM-DD`` (or the eval sets' ``YYYY/MM/DD``), else None."""
    if not value:
        return None
    m = re.match(r"(\d{4})[-/](\d{2})[-/](\d{2})", value.strip())
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def format_date(d: date) -> str:
    return f"{d:%B} {d.day}, {d.year}"


def asks_about_now(question: str) -> bool:
    return bool(_TIME_WORDS.search(question))


def as_of(question: str, cited: Iterable[Passage]) -> str | None:
    """The latest cited date, when the question asks about 'now' or the cited articles come
    from more than one date; else None."""
    dates = {d for p in cited if (d := parse_date(p.published))}
    if not dates:
        return None
    if asks_about_now(question) or len(dates) > 1:
        return format_date(max(dates))
    return None


def passage_date(p: Passage) -> str:
    d = parse_date(p.published)
    return format_date(d) if d else "date unknown"

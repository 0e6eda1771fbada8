"""News ages: which articles count as "this week's", and when an answer must say it is old.

A question asked on a day about what happened "this week", "recently" or "just" means the
articles of the days before it; an older article on the same topic is a different event (last
year's bankruptcy, a previous storm). Retrieval prefers the recent window for such questions
(``qa.retrieve.prefer_recent``), and an answer that still rests on an older article says so.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from qa.text.dates import parse_date
from qa.types import Passage

_RECENT_WORDS = re.compile(
    r"\b(this week|this month|this weekend|last week|recent(ly)?|latest|new(ly)?|just|"
    r"today|yesterday|now|current(ly)?|so far|this year)\b",
    re.I,
)

RECENT_WINDOW = timedelta(days=10)
"""What "this week" reaches back to: a quiz week plus the days its articles lag (measured on
the tuning sets, docs/evaluation.md)."""

STALE_AFTER = timedelta(days=45)
"""An answer from an article older than this (before the day asked) names the article's
month, so the reader knows how old the news is."""


def asks_recent(question: str) -> bool:
    return bool(_RECENT_WORDS.search(question))


def is_recent(p: Passage, today: date, window: timedelta | None = None) -> bool:
    d = parse_date(p.published)
    window = RECENT_WINDOW if window is None else window
    return d is not None and today - window <= d <= today + timedelta(days=2)


def staleness_note(question: str, p: Passage, today: date | None) -> str:
    """ "A May 2024 article says:" when a question about recent news is answered from an
    article that is old news on the day asked. Questions that do not ask about "now" are
    answered from whatever article states the fact, with its date in the citation."""
    d = parse_date(p.published)
    if d is None or today is None or not asks_recent(question) or today - d <= STALE_AFTER:
        return ""
    return f"A {d:%B} {d.year} article says:"

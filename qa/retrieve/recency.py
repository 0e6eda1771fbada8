"""News ages: which articles count as "this week's", and when an answer must say it is old.

A question asked on a day about what happened "this week", "recently" or "just" means the
articles of the days before it; an older article on the same topic is a different event (last
year's bankruptcy, a previous storm). Retrieval prefers the recent window for such questions
(``qa.retrieve.search.prefer_recent``), and an answer that still rests on an older article says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date, timedelta

from qa.text.dates import a_month, parse_date
from qa.types import Passage

_RECENT_WORDS = re.compile(
    r"\b(this week|this month|this weekend|last week|recent(ly)?|latest|"
    r"(?!(?-i:New\s+[A-Z]))new(ly)?|just|"
    r"today|yesterday|now|current(ly)?|so far|this year)\b",
    re.I,
)
"""Words that ask about "now" (English, as the rule reads English names). A capitalised "New"
before a capitalised word starts a name ("New York", "New Zealand", "New Delhi"), not a time
word; "Newcastle" is one word."""

_PAST_WORDS = re.compile(
    r"\b(?:a|one|two|three|four|five|six|seven|eight|nine|ten|\d+)\s+(?:years?|decades?)\s+"
    r"(?:ago|since)\b",
    re.I,
)
"""A question that points back in time itself ("It's been a year since Luigi Mangione was
arrested… In which restaurant…?", "ten years ago"): it asks about the earlier event."""

RECENT_WINDOW = timedelta(days=10)
"""What "this week" reaches back to: a quiz week plus the days its articles lag (measured on
the tuning sets, docs/evaluation.md)."""

LATE_DATING = timedelta(days=2)
"""An article dated up to this long after the day asked still counts as that day's news (time
zones, late dating)."""

STALE_AFTER = timedelta(days=45)
"""Past this age (before the day asked), an article is old news (``is_old_news``): an answer
resting on it is refused, naming the article's month (measured in docs/answers.md)."""


def asks_recent(question: str) -> bool:
    return bool(_RECENT_WORDS.search(question))


def points_back(question: str) -> bool:
    """The question itself asks about an event years back ("a year since", "ten years ago")."""
    return bool(_PAST_WORDS.search(question))


def is_recent(p: Passage, today: date, window: timedelta | None = None) -> bool:
    d = parse_date(p.published)
    window = RECENT_WINDOW if window is None else window
    return d is not None and today - window <= d <= today + LATE_DATING


def recent_days(today: date) -> list[str]:
    """The publication days (``YYYY-MM-DD``) that ``is_recent`` accepts for ``today``: what a
    store must hold to cover the day asked (``KnowledgeBase.covers``)."""
    first = today - RECENT_WINDOW
    return [(first + timedelta(days=i)).isoformat()
            for i in range((RECENT_WINDOW + LATE_DATING).days + 1)]


def _age(question: str, p: Passage, today: date | None) -> timedelta | None:
    """How old ``p`` is on the day asked, for a question about recent news; None otherwise."""
    d = parse_date(p.published)
    if d is None or today is None or not asks_recent(question):
        return None
    return today - d


def is_old_news(question: str, p: Passage, today: date | None,
                shown: Sequence[Passage] = (),
                covers: Callable[[date], bool] | None = None) -> bool:
    """An answer resting on ``p`` would be old news: ``p`` is older than ``STALE_AFTER`` on
    the day asked, and either the question asks about "this week" ("recently", "latest", ...),
    or the store is fed with that week's news: the passages ``shown`` with it include a recent
    one, or ``covers(today)`` says the store holds articles from the days before it. In such a
    store a question asked on a day is about that day's news, and an article months or years
    older is about an earlier event (the 2014 "most endangered animal", the 2015 airline
    baggage story; measured in docs/answers.md). A store of old articles only is answered from
    them. ``covers`` is asked only for an old ``p``, so a fresh answer costs no lookup. A
    question that points back in time itself ("It's been a year since…") is about the earlier
    event, so an article from then is no old news to it."""
    d = parse_date(p.published)
    if d is None or today is None or today - d <= STALE_AFTER or points_back(question):
        return False
    return (asks_recent(question) or any(is_recent(q, today) for q in shown)
            or (covers is not None and covers(today)))


def staleness_note(question: str, p: Passage, today: date | None) -> str:
    """ "A May 2024 article says:" when a question about recent news is answered from an
    article older than the recent window (but not old news, which is refused). Questions that
    do not ask about "now" are answered from whatever article states the fact, with its date
    in the citation."""
    age = _age(question, p, today)
    if age is None or age <= RECENT_WINDOW:
        return ""
    d = parse_date(p.published)
    phrase = a_month(d)
    return f"{phrase[0].upper()}{phrase[1:]} article says:"

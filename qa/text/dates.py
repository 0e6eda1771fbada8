"""Dates as newsqa reads and shows them: article dates are facts from the article's metadata,
never dates a model wrote.

``parse_date`` is the one date reader: documents' dates when they are added, ``as_of`` when a
question is asked, stored ``published`` values when passages are ranked and shown.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from qa.types import Passage


def parse_date(value: object) -> date | None:
    """Best-effort date from the many ways news sites write one (ISO ``YYYY-MM-DD`` and the
    eval sets' ``YYYY/MM/DD`` first, then whatever dateutil reads without guessing), else
    None. Not a date at all (a list, true/false, 100+ characters) is None too."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    if not text or len(text) > 100:
        return None
    m = re.match(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})", text)
    if m:
        try:
            return date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            return None
    from dateutil import parser as dateparser  # imported only for the rare non-ISO date

    try:
        return dateparser.parse(text, fuzzy=False).date()
    except (ValueError, OverflowError, TypeError):
        return None


def iso_date(value: object) -> str | None:
    """``parse_date`` as stored in metadata: ``YYYY-MM-DD`` or None."""
    d = parse_date(value)
    return d.isoformat() if d else None


def a_month(d: date) -> str:
    """ "a May 2024", "an April 2024": the month and year with its indefinite article, for
    "… a May 2024 article" in answers and refusals."""
    month = f"{d:%B} {d.year}"
    return f"{'an' if month[0] in 'AEIOU' else 'a'} {month}"


def format_date(d: date) -> str:
    return f"{d:%B} {d.day}, {d.year}"


def passage_date(p: Passage) -> str:
    d = parse_date(p.published)
    return format_date(d) if d else "date unknown"


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WEEKDAY = re.compile(r"\b(" + "|".join(WEEKDAYS) + r")\b"
                      r"(?!,?\s*\(?(?:\d|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))",
                      re.IGNORECASE)


def day_month_year(d: date) -> str:
    """ "16 June 2020": how a weekday's date is shown beside it."""
    return f"{d.day} {d:%B} {d.year}"


def weekday_before(weekday: str, published: object) -> date | None:
    """The date of ``weekday`` ("Tuesday") as a news article dated ``published`` means it: the
    latest such day on or before the publication date (news says "on Tuesday" of the days
    just gone, within the last week), else None (unknown weekday or no readable date)."""
    d = parse_date(published)
    name = weekday.strip().capitalize()
    if d is None or name not in WEEKDAYS:
        return None
    back = (d.weekday() - WEEKDAYS.index(name)) % 7  # 0..6 days before the article's date
    return date.fromordinal(d.toordinal() - back)


def with_weekday_dates(text: str, published: object) -> str:
    """``text`` with the date after each weekday it names, from the article's date: "Tuesday"
    from an article dated 2020-06-16 reads "Tuesday (16 June 2020)". A weekday already
    followed by a number (a date) is left as it is; without a readable date nothing changes."""
    if parse_date(published) is None:
        return text

    def dated(m: re.Match[str]) -> str:
        d = weekday_before(m.group(1), published)
        return f"{m.group(1)} ({day_month_year(d)})" if d else m.group(1)

    return _WEEKDAY.sub(dated, text)

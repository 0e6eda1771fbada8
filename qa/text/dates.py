"""Dates as newsqa reads and shows them: article dates are facts from the article's metadata,
never dates a model wrote.
"""

from __future__ import annotations

import re
from datetime import date

from qa.types import Passage


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


def passage_date(p: Passage) -> str:
    d = parse_date(p.published)
    return format_date(d) if d else "date unknown"

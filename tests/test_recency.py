"""The recency rule on dated passages: 'this week' means the days before the question."""

from __future__ import annotations

from datetime import date

from qa.retrieve.recency import (
    asks_recent,
    is_old_news,
    is_recent,
    recent_days,
    staleness_note,
)
from qa.retrieve.search import prefer_recent
from qa.types import Passage


def _p(n: int, published: str | None) -> Passage:
    return Passage(doc_id=f"d{n}", title=f"t{n}", source="s", published=published,
                   text=f"passage {n}", start=0, end=9, score=0.5, chunk_index=0,
                   chunk_id=f"c{n}")


def test_recent_words():
    assert asks_recent("Which sportswear chain filed for bankruptcy this week?")
    assert asks_recent("Who recently won the Super Bowl?")
    assert asks_recent("What is the latest on the strike?")
    assert not asks_recent("In which town was the liaison office?")


def test_new_as_part_of_a_name_is_no_time_word():
    """ "New York" is a place, not "new": asked on the shipped article's day, such a question
    was refused as old news. "new" itself still asks about now."""
    for q in ("What did the New York governor say?",
              "Who won the election in New Zealand?",
              "What happened in Newcastle?",
              "Which New Jersey town flooded?",
              "Who coaches the New England Patriots?",
              "New Delhi: what did the minister announce?"):
        assert not asks_recent(q), q
    assert asks_recent("What is the new law about?")
    assert asks_recent("What did the newly elected mayor say?")
    assert asks_recent("New rules: what changed for drivers?")
    today = date(2026, 2, 13)
    assert not is_old_news("What did the New York governor say?", _p(1, "2025-06-01"), today)
    assert is_old_news("What did the new governor say?", _p(1, "2025-06-01"), today)


def test_this_week_question_puts_the_weeks_on_topic_articles_first():
    # best-first by relevance: an old article and one from last month outrank this week's
    ranked = [_p(1, "2024-05-03"), _p(2, "2026-01-20"), _p(3, "2020-01-10"), _p(4, None),
              _p(5, "2026-02-11")]
    q = "Which sportswear chain filed for bankruptcy this week?"
    assert prefer_recent(ranked, "2026-02-13", 3, q)[0].doc_id == "d5"
    # without a time word, only the month-before preference applies
    plain = prefer_recent(ranked, "2026-02-13", 3, "Which sportswear chain filed for bankruptcy?")
    assert plain[0].doc_id == "d2"


def test_recent_articles_far_down_the_ranking_are_not_pulled_up():
    ranked = [_p(i, "2026-01-25") for i in range(25)] + [_p(99, "2026-02-12")]
    top = prefer_recent(ranked, "2026-02-13", 5, "What happened this week?")
    assert "d99" not in [p.doc_id for p in top]


def test_articles_after_the_question_are_left_out():
    ranked = [_p(1, "2026-03-01"), _p(2, "2026-02-12")]
    assert [p.doc_id for p in prefer_recent(ranked, "2026-02-13", 5, "x")] == ["d2"]


def test_window_and_staleness_note():
    today = date(2026, 2, 13)
    assert is_recent(_p(1, "2026-02-05"), today)
    assert not is_recent(_p(1, "2026-01-20"), today)
    assert not is_recent(_p(1, None), today)
    q = "Which sportswear chain filed for bankruptcy this week?"
    assert staleness_note(q, _p(1, "2024-05-03"), today) == "A May 2024 article says:"
    assert staleness_note(q, _p(1, "2026-02-10"), today) == ""
    assert staleness_note(q, _p(1, "2026-01-20"), today) == "A January 2026 article says:"
    assert staleness_note("Which chain filed for bankruptcy?", _p(1, "2024-05-03"), today) == ""


def test_old_news_for_a_question_about_now():
    today = date(2026, 2, 13)
    q = "Which sportswear chain filed for bankruptcy this week?"
    assert is_old_news(q, _p(1, "2024-05-03"), today)
    assert not is_old_news(q, _p(1, "2026-01-20"), today), "weeks old: answered with a note"
    plain = "Which chain filed for bankruptcy?"
    assert not is_old_news(plain, _p(1, "2024-05-03"), today), "a store of old news only"
    assert is_old_news(plain, _p(1, "2024-05-03"), today, [_p(2, "2026-02-11")]), (
        "the store covers the topic this week: the old article is about an earlier event")
    assert not is_old_news(plain, _p(1, "2024-05-03"), today, [_p(2, "2025-12-11")])
    assert not is_old_news(q, _p(1, None), today), "an undated article is not judged old"


def test_old_news_in_a_store_that_holds_the_weeks_articles():
    today = date(2026, 2, 13)
    plain = "Which chain filed for bankruptcy?"
    asked: list[date] = []

    def covers(day: date) -> bool:
        asked.append(day)
        return True

    assert is_old_news(plain, _p(1, "2024-05-03"), today, covers=covers), (
        "the store is fed with this week's news: a 2024 article is about an earlier event")
    assert asked == [today]
    assert not is_old_news(plain, _p(1, "2024-05-03"), today, covers=lambda day: False)
    assert not is_old_news(plain, _p(1, "2026-02-01"), today, covers=covers)
    assert asked == [today], "a fresh article never costs the store lookup"


def test_a_question_that_points_back_in_time_is_not_old_news():
    """"It's been a year since…" asks about the event of a year ago: the store being fed with
    this week's news does not make the article from then old news (realtimeqa-2025's
    Mangione question)."""
    today = date(2025, 12, 12)
    back = ("It's been a year since Luigi Mangione was arrested. In which fast food restaurant "
            "was he arrested?")
    plain = "In which fast food restaurant was Luigi Mangione arrested?"
    old = _p(1, "2024-12-10")
    fresh = [_p(2, "2025-12-11")]
    assert not is_old_news(back, old, today, fresh, covers=lambda day: True)
    assert not is_old_news("What happened ten years ago this week?", old, today, fresh)
    assert is_old_news(plain, old, today, fresh, covers=lambda day: True)
    assert is_old_news("Which record did Britain break last year?", old, today, fresh)


def test_recent_days_match_the_recent_window():
    today = date(2026, 2, 13)
    days = recent_days(today)
    assert days[0] == "2026-02-03" and days[-1] == "2026-02-15"
    assert all(is_recent(_p(1, d), today) for d in days)
    assert not is_recent(_p(1, "2026-02-02"), today) and not is_recent(_p(1, "2026-02-16"), today)


def test_the_month_takes_its_article():
    today = date(2026, 2, 13)
    q = "Which sportswear chain filed for bankruptcy this week?"
    assert staleness_note(q, _p(1, "2025-12-20"), today) == "A December 2025 article says:"
    assert staleness_note(q, _p(1, "2025-12-20"), date(2026, 1, 20)) == (
        "A December 2025 article says:")
    assert staleness_note(q, _p(1, "2025-10-20"), date(2025, 11, 20)) == (
        "An October 2025 article says:")

"""The text helpers every stage shares: the one sentence splitter and the one date reader."""

from datetime import date

from qa.text.dates import iso_date, parse_date, passage_date
from qa.text.sentences import split_sentences
from qa.types import Passage

TEXT = ("The vote is set for Sept. 12 in Washington. Sen. Smith of the U.S. said so. "
        "Prof. Lee (Jr.) disagreed! Was it final? \"Yes.\" It was.\n\nA new paragraph")


def test_one_splitter_knows_abbreviations_and_keeps_offsets():
    spans = split_sentences(TEXT)
    assert [s.text for s in spans] == [
        "The vote is set for Sept. 12 in Washington.",
        "Sen. Smith of the U.S. said so.",
        "Prof. Lee (Jr.) disagreed!",
        "Was it final?",
        '"Yes."',
        "It was.",
        "A new paragraph",
    ]
    assert all(TEXT[s.start : s.end] == s.text for s in spans)


def test_a_window_of_the_text_keeps_offsets_in_the_whole_text():
    start = TEXT.index("Sen.")
    end = TEXT.index("Was it")
    spans = split_sentences(TEXT, start, end)
    assert [s.text for s in spans] == ["Sen. Smith of the U.S. said so.",
                                       "Prof. Lee (Jr.) disagreed!"]
    assert all(TEXT[s.start : s.end] == s.text for s in spans)


def test_the_quote_check_and_the_highlight_cut_at_the_same_place_as_chunking():
    """The highlighted source sentence comes from the quote check (``quotes.locate``), which
    uses the same splitter: "Sept." does not end it."""
    from qa.answer.quotes import locate

    span = locate("12 in Washington", TEXT)
    assert span is not None
    assert TEXT[span.sentence_start : span.sentence_end] == (
        "The vote is set for Sept. 12 in Washington.")


def test_one_date_reader():
    assert parse_date("2023-01-05") == date(2023, 1, 5)
    assert parse_date("2023/01/05") == date(2023, 1, 5)
    assert parse_date("2023-1-5T10:00:00Z") == date(2023, 1, 5)
    assert parse_date("January 5, 2023") == date(2023, 1, 5)
    assert parse_date("5 Jan 2023") == date(2023, 1, 5)
    assert parse_date(date(2023, 1, 5)) == date(2023, 1, 5)
    for bad in ("yesterday", "2023-02-30", "", None, True, ["2023-01-05"], "x" * 101):
        assert parse_date(bad) is None, bad
    assert iso_date("January 5, 2023") == "2023-01-05"
    p = Passage(doc_id="d", title="t", source="s", published="2023-01-05", text="x", start=0,
                end=1, score=0.0, chunk_index=0, chunk_id="c")
    assert passage_date(p) == "January 5, 2023"

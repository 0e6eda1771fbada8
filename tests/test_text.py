"""The text helpers every stage shares: the one sentence splitter and the one date reader."""

from datetime import date

from qa.text.dates import (
    iso_date,
    parse_date,
    passage_date,
    weekday_before,
    with_weekday_dates,
)
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


def test_a_capital_of_any_script_or_an_opening_mark_starts_a_sentence():
    text = ("Er kam spät. Über Nacht blieb er. ¿Qué pasó? ¡Nada! «Мы придём», сказал он. "
            "А. С. Пушкин писал. Ωραία μέρα. „Wir sind da“, sagte sie. He said. "
            "\"the rest\" stays. Il dit. «oui», dit-il.")
    spans = split_sentences(text)
    assert [s.text for s in spans] == [
        "Er kam spät.", "Über Nacht blieb er.", "¿Qué pasó?", "¡Nada!",
        "«Мы придём», сказал он.", "А. С. Пушкин писал.", "Ωραία μέρα.",
        "„Wir sind da“, sagte sie.", 'He said. "the rest" stays.', "Il dit.", "«oui», dit-il.",
    ]
    assert all(text[s.start : s.end] == s.text for s in spans)


def test_words_are_unicode_words_with_their_accents():
    from qa.text.sentences import content_words

    assert content_words("Müller and Mäller") == ["müller", "mäller"]
    assert content_words("Москва, Αθήνα, 東京") == ["москва", "αθήνα", "東京"]
    # a decomposed accent is the same word as a composed one; an Indic vowel sign stays in
    assert content_words("Mu\u0308ller") == ["müller"]
    assert content_words("हिन्दी") == ["हिन्दी"]
    # English words and numbers are read as before
    assert content_words("South Korea's 9.78bn won, 12,000 staff (US$8.6)") == [
        "south", "korea", "s", "9.78", "bn", "won", "12,000", "staff", "us", "8.6"]


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


def test_a_weekday_is_dated_from_the_article_date():
    """News says "on Tuesday" of the week just gone: the latest such day on or before the
    article's date, within six days."""
    assert weekday_before("Tuesday", "2020-06-16") == date(2020, 6, 16)  # the day itself
    assert weekday_before("saturday", "2020-06-16") == date(2020, 6, 13)
    assert weekday_before("Wednesday", "2020-06-16") == date(2020, 6, 10)  # 6 days before
    assert weekday_before("Tuesday", None) is None and weekday_before("Tues", "2020-06-16") is None
    assert with_weekday_dates("Tuesday", "2020-06-16") == "Tuesday (16 June 2020)"
    assert with_weekday_dates("on Saturday and Tuesday", date(2020, 6, 16)) == \
        "on Saturday (13 June 2020) and Tuesday (16 June 2020)"
    # no date to go by, or a date already given: unchanged
    assert with_weekday_dates("Tuesday", None) == "Tuesday"
    for dated in ("Tuesday, June 16", "Tuesday 16 June", "Tuesday (16 June 2020)"):
        assert with_weekday_dates(dated, "2020-06-16") == dated


def test_the_sample_article_ships_with_its_date():
    from testdata import SEED

    from qa.ingest.loaders import load_file

    [article] = load_file(SEED, max_bytes=1 << 20)
    assert article.published == "2020-06-16"
    assert article.text.startswith("North Korea blew up an office")

import json

import pytest
from testdata import EVAL_MINI, SEED

from qa.ingest.chunking import chunk_text
from qa.ingest.loaders import load_file
from qa.text.sentences import split_sentences


def _articles():
    yield load_file(SEED, max_bytes=10**8)[0].text
    with open(EVAL_MINI / "articles.jsonl") as fh:
        for i, line in enumerate(fh):
            if i >= 40:
                break
            yield json.loads(line)["text"]


@pytest.mark.parametrize("size", [300, 600, 1000])
def test_offsets_map_back_to_the_exact_text(size):
    for text in _articles():
        chunks = chunk_text(text, size)
        assert chunks, "every non-empty article has chunks"
        for i, c in enumerate(chunks):
            assert c.index == i
            assert text[c.start : c.end] == c.text
        # chunks are in order and do not overlap; only whitespace falls between them
        for a, b in zip(chunks, chunks[1:], strict=False):
            assert a.end <= b.start
            assert text[a.end : b.start].strip() == ""
        assert text[: chunks[0].start].strip() == "" and text[chunks[-1].end :].strip() == ""


def test_paragraphs_that_fit_are_never_split():
    text = load_file(SEED, max_bytes=10**8)[0].text
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    chunks = chunk_text(text, 600)
    for p in paragraphs:
        assert len(p) <= 600
        assert sum(p in c.text for c in chunks) == 1, p[:60]


def test_sentences_are_never_cut():
    long_para = " ".join(
        f"Sentence number {i} says that Mr. Smith of the U.S. met officials in Seoul."
        for i in range(40)
    )
    text = "Intro paragraph.\n\n" + long_para + "\n\nClosing paragraph."
    chunks = chunk_text(text, 300)
    sentences = [s.text for s in split_sentences(text)]
    for c in chunks:
        assert len(c.text) <= 300
        assert c.text.rstrip().endswith((".", "!", "?")), c.text[-40:]
    for s in sentences:
        assert any(s in c.text for c in chunks), s
    # abbreviations do not end sentences
    assert not any(c.text.endswith("Mr.") or c.text.endswith("U.S.") for c in chunks)


def _check(text, chunks, size):
    for i, c in enumerate(chunks):
        assert c.index == i and text[c.start : c.end] == c.text
        assert 0 < len(c.text) <= size, len(c.text)
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert a.end <= b.start and text[a.end : b.start].strip() == ""
    assert "".join(text.split()) == "".join("".join(c.text.split()) for c in chunks)


def test_a_sentence_longer_than_the_size_is_split_at_whitespace():
    giant = ("word " * 200 + "end.").strip()
    text = "Short one.\n\n" + giant
    chunks = chunk_text(text, 300)
    _check(text, chunks, 300)
    # cut between words, never inside one
    assert all(c.text.split()[0] in ("word", "end.", "Short") for c in chunks)
    assert all(c.text.split()[-1] in ("word", "end.", "one.") for c in chunks)


def test_a_huge_line_without_full_stops_is_capped():
    """Attack 3: a 15 MB line with no sentence end became one 15 MB chunk."""
    line = " ".join(f"token{i % 97} and more words without any stop" for i in range(6000))
    chunks = chunk_text(line, 1000)
    _check(line, chunks, 1000)
    assert len(chunks) >= len(line) // 1000
    # a run with no whitespace at all is cut at the size
    blob = "x" * 2500
    chunks = chunk_text("Head.\n\n" + blob, 1000)
    _check("Head.\n\n" + blob, chunks, 1000)
    assert [len(c.text) for c in chunks] == [5, 1000, 1000, 500]

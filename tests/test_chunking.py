import json

import pytest
from testdata import EVAL_MINI, SEED

from qa.chunking import chunk_text, sentence_spans
from qa.ingest import load_file


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
    sentences = [text[s:e] for s, e in sentence_spans(text)]
    for c in chunks:
        assert len(c.text) <= 300
        assert c.text.rstrip().endswith((".", "!", "?")), c.text[-40:]
    for s in sentences:
        assert any(s in c.text for c in chunks), s
    # abbreviations do not end sentences
    assert not any(c.text.endswith("Mr.") or c.text.endswith("U.S.") for c in chunks)


def test_a_sentence_longer_than_the_size_is_kept_whole():
    giant = "word " * 200 + "end."
    chunks = chunk_text("Short one.\n\n" + giant.strip(), 300)
    assert any(c.text == giant.strip() for c in chunks)

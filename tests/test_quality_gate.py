"""CI gate: retrieval and answer quality on real news questions must not drop.

Thresholds sit a little below the figures measured on 2026-11-26 (docs/evaluation.md), so a
change that loses two or more questions fails here. The seed article's retrieval gate (the
right paragraph first for 10 of 11 paraphrased questions) is in test_kb.py.
"""

import pytest
from testdata import EVAL_MINI, OPEN_SEED, SEED_PARAPHRASES

from qa.config import Settings
from qa.eval import run as evaluation

# indexing the 197 articles alone takes minutes on 2 cores; ./test.sh and CI run the gate.
# The paraphrase test takes 3-5 minutes on a quiet machine: pytest-timeout's limit is a hang
# detector, 1800 s here (over 5x), times QA_TEST_TIMEOUT_FACTOR (tests/conftest.py).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

# measured: hybrid as of each question's date, k=5 -> chunk 600: recall@5 84 %, @20 96 %,
# MRR 0.669, multiple choice from passages 72 %; chunk 1000 (default): 88 %, 96 %, 0.653, 80 %
MIN_RECALL_5 = 0.76
MIN_RECALL_20 = 0.88
MIN_MRR = 0.60
MIN_CHOICE = 0.64
# on the 21 questions the audit (eval/audits/) found supported by an on-topic article:
# recall@5 95.2 % (one miss) measured; two misses still pass, three fail
MIN_SUPPORTED_RECALL_5 = 0.90


MIN_ANSWERS_RIGHT_OF_FIRST_10 = 3  # measured 3/10 with the quote-checked short answers on
# 2026-11-27 (5/10 with the sentence answers before: a short answer such as "sesame" misses
# the gold "Sesame seeds" that a whole sentence held, docs/evaluation.md)


@pytest.fixture(scope="module")
def gate_settings(tmp_path_factory):
    data = tmp_path_factory.mktemp("gate")
    return Settings.from_env().with_(data_dir=data, seed_corpus=False, chroma_url=None)


@pytest.fixture(scope="module")
def mini_results(gate_settings):
    settings = gate_settings
    data = settings.data_dir
    results, meta = evaluation.run(
        EVAL_MINI, settings=settings, k=5, retrieval="hybrid", retrieval_only=True,
        choices=True, limit=None, out_dir=data / "out",
    )
    return evaluation.summarize(results, meta)


def test_retrieval_recall_on_the_mini_set(mini_results):
    s = mini_results
    assert s["answerable"] == 25
    assert s["recall"]["@5"] >= MIN_RECALL_5, s["recall"]
    assert s["recall"]["@20"] >= MIN_RECALL_20, s["recall"]
    assert s["mrr@10"] >= MIN_MRR
    assert s["choice_accuracy"] >= MIN_CHOICE
    assert s["supported"] == 21
    assert s["recall_supported"]["@5"] >= MIN_SUPPORTED_RECALL_5, s["recall_supported"]


def test_a_few_full_answers_with_the_embedded_model(gate_settings, mini_results):
    pytest.importorskip("llama_cpp", reason="the embedded generator needs llama-cpp-python")
    settings = gate_settings.with_(llm="embedded")
    results, meta = evaluation.run(
        EVAL_MINI, settings=settings, k=5, retrieval="hybrid", retrieval_only=False,
        choices=False, limit=10, out_dir=settings.data_dir / "answers",
    )
    assert meta["articles_unchanged"] == 197  # the store built above is reused
    right = sum(1 for r in results if r.correct)
    assert right >= MIN_ANSWERS_RIGHT_OF_FIRST_10, [(r.question, r.answer) for r in results]
    assert all(r.quote_exact for r in results if r.refused is False)
    # whatever the model wrote, shown citations point at passages that hold the answer
    cited_wrong = [r for r in results if r.correct and not r.cited_support]
    assert not cited_wrong, [(r.question, r.answer) for r in cited_wrong]


# The shipped article asked in words unlike its own (eval/seed-paraphrases): 30 questions it
# answers and 10 it does not, through the real model and the whole answer path.
# measured 2026-11-28 (docs/answers.md, eighth session: the one-article floor and the second
# look at a misread number): 28 of 30 right, 10 of 10 refused; two questions of slack on the
# right answers, one on the refusals
MIN_PARAPHRASES_RIGHT = 26
MIN_OUT_OF_SCOPE_REFUSED = 9


def test_paraphrased_questions_on_the_shipped_article(tmp_path_factory):
    pytest.importorskip("llama_cpp", reason="the embedded generator needs llama-cpp-python")
    data = tmp_path_factory.mktemp("paraphrases")
    settings = Settings.from_env().with_(data_dir=data, seed_corpus=False, chroma_url=None,
                                         llm="embedded")
    results, meta = evaluation.run(
        SEED_PARAPHRASES, settings=settings, k=5, retrieval="hybrid", retrieval_only=False,
        choices=False, limit=None, out_dir=data / "out",
    )
    s = evaluation.summarize(results, meta)
    wrong = [(r.question, r.answer) for r in results if r.answerable and not r.correct]
    assert sum(1 for r in results if r.correct) >= MIN_PARAPHRASES_RIGHT, wrong
    shown = [(r.question, r.answer) for r in results if not r.answerable and not r.refused]
    assert len(shown) <= 10 - MIN_OUT_OF_SCOPE_REFUSED, shown
    assert s["quote_exactness"] == 1.0


# Open questions on the shipped article (eval/open-questions/seed: 26 it answers, 5 it does
# not), through the real model and the whole answer path; thresholds a little below the
# figures measured (docs/answers.md, "Open answers").
MIN_OPEN_ANSWERED = 22
MIN_OPEN_KEY_POINTS = 0.45
MIN_OPEN_REFUSED = 4


def test_summarize_the_shipped_article_gives_several_checked_sentences(seeded_kb):
    pytest.importorskip("llama_cpp", reason="the embedded generator needs llama-cpp-python")
    answer = seeded_kb.ask("Summarize the article.")
    assert answer.shape == "open" and not answer.refused, answer.text
    shown = answer.shown_sentences
    assert len(shown) >= 3, answer.text
    assert all(s.citations for s in shown)
    text = answer.text.lower()
    assert any(w in text for w in ("blew up", "blown up", "explosion", "exploded")), text
    assert "kaesong" in text and "leaflet" in text, text
    article = seeded_kb.article_text(shown[0].citations[0].passage.doc_id)
    for c in answer.citations:
        assert article[c.start:c.end] == c.quote


def test_open_questions_on_the_shipped_article(tmp_path_factory):
    pytest.importorskip("llama_cpp", reason="the embedded generator needs llama-cpp-python")
    data = tmp_path_factory.mktemp("open")
    settings = Settings.from_env().with_(data_dir=data, seed_corpus=False, chroma_url=None,
                                         llm="embedded")
    results, meta = evaluation.run(
        OPEN_SEED, settings=settings, k=5, retrieval="hybrid", retrieval_only=False,
        choices=False, limit=None, out_dir=data / "out",
    )
    o = evaluation.summarize(results, meta)["open"]
    assert o["answered"] >= MIN_OPEN_ANSWERED, o
    assert o["key_point_coverage"] >= MIN_OPEN_KEY_POINTS, o
    assert o["unanswerable_refused"] >= MIN_OPEN_REFUSED, o
    assert all(r.quote_exact for r in results if r.refused is False)

"""CI gate: retrieval and answer quality on real news questions must not drop.

Thresholds sit a little below the figures measured on 2026-11-26 (docs/evaluation.md), so a
change that loses two or more questions fails here.
"""

import pytest
from testdata import EVAL_MINI

from qa import evaluation
from qa.config import Settings

# measured: hybrid as of each question's date, chunk 600, k=5 ->
# recall@5 84 %, @20 96 %, MRR 0.669, multiple choice from passages 72 %
MIN_RECALL_5 = 0.76
MIN_RECALL_20 = 0.88
MIN_MRR = 0.60
MIN_CHOICE = 0.64


@pytest.fixture(scope="module")
def mini_results(tmp_path_factory):
    data = tmp_path_factory.mktemp("gate")
    settings = Settings.from_env().with_(data_dir=data, seed_corpus=False, chroma_url=None)
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

"""The named checks (qa.answer.checks): each refusal names the check that made it, and a check
turned off through the setting (QA_CHECKS_OFF) no longer refuses."""

from __future__ import annotations

import json

import pytest
from answer_helpers import EMBEDDER, DenseRetriever, seed_passages
from test_quote_check import SEED, SPORTS, _passage

from qa.answer.chain import ask
from qa.answer.checks import ANY, CHECK_NAMES, CHECKS, Verifier
from qa.answer.evidence import build_evidence
from qa.answer.grounding import check_claim, parse_reply
from qa.config import Settings
from qa.errors import ConfigError
from qa.llm.fake import FakeChatModel
from qa.text.language import LANGUAGES
from qa.types import Answer, CheckVerdict


def _evidence(question: str):
    return build_evidence(question, [_passage(SEED, "Liaison office", 1),
                                     _passage(SPORTS, "Super Bowl", 2)], EMBEDDER.encode)


def _reply(answer: str, passage: int, quote: str = "") -> str:
    d = {"answer": answer, "passage": passage}
    return json.dumps({**d, "quote": quote} if quote else d)


def test_the_table_is_one_list_of_named_checks():
    assert len(set(CHECK_NAMES)) == len(CHECKS)
    for c in CHECKS:
        assert c.kind in ("hard", "soft") and c.what
        assert c.languages == ANY or set(c.languages) <= set(LANGUAGES)
    hard = {c.name for c in CHECKS if c.kind == "hard"}
    assert {"quote_in_passage", "answer_in_quote", "assertion"} <= hard
    assert {"relevance", "type_check", "rival_name", "old_news", "one_article"}.isdisjoint(hard)


def test_an_answer_carries_every_verdict_in_the_tables_order():
    checked = check_claim(parse_reply(_reply("Kaesong", 1)),
                          _evidence("In which town was the office?"))
    assert checked.verified is not None and checked.refusal is None
    names = [v.check for v in checked.verdicts]
    assert names == [n for n in CHECK_NAMES if n in names]
    assert {"declined", "type_check", "answer_in_quote", "relevance"} <= set(names)
    rel = next(v for v in checked.verdicts if v.check == "relevance")
    assert rel.status == "passed" and rel.features["score"] >= rel.features["floor"]


@pytest.mark.parametrize("question, answer, passage, quote, check, answered", [
    # each refused by the check it names; with that check off, answered
    ("When did North Korea blow up the office?", "Kaesong", 1, "", "type_check", "Kaesong"),
    ("How much did North Korea spend to renovate the building?", "9.78 billion won", 1, "",
     "rival_name", "9.78 billion won"),
    ("Which game's champions are listed through the years?", "Super Bowl", 2,
     "Super Bowl Champions Through the Years", "assertion", "Super Bowl"),
    ("Who reported the explosion?", "Reuters", 1, "", "relevance", "Reuters"),
])
def test_a_check_refuses_and_off_it_does_not(question, answer, passage, quote, check, answered):
    ev = _evidence(question)
    claim = parse_reply(_reply(answer, passage, quote))
    refused = check_claim(claim, ev)
    assert refused.verified is None and refused.refusal is not None
    assert refused.refusal.check == check and refused.refusal.reason
    on = check_claim(claim, ev, verifier=Verifier(frozenset({check})))
    assert on.verified is not None and answered in on.verified.answer
    (off,) = [v for v in on.verdicts if v.check == check]
    assert off.status == "not_checked"


def test_the_relevance_reason_gives_the_score_and_the_floor():
    refusal = check_claim(parse_reply(_reply("Reuters", 1)),
                          _evidence("Who reported the explosion?")).refusal
    assert refusal is not None and refusal.check == "relevance"
    assert f"{refusal.features['score']:.2f}" in refusal.reason
    assert "under the floor 0.40" in refusal.reason


def test_an_answer_no_sentence_holds_names_its_missing_words():
    refusal = check_claim(parse_reply(_reply("Pyongyang", 1)),
                          _evidence("In which town was the office?")).refusal
    assert refusal is not None and refusal.check == "answer_in_quote"
    assert "pyongyang" in refusal.reason


# -- through the chain: the Answer carries the reason ----------------------------------------
def _ask(question: str, reply: str, off: str = "", as_of: str | None = None) -> Answer:
    settings = Settings().with_(checks_off=frozenset(filter(None, off.split(","))))
    return ask(question, retrieve=DenseRetriever(seed_passages()), settings=settings,
               llm=FakeChatModel(function=lambda messages: reply), as_of=as_of,
               embedder=EMBEDDER)


def test_a_refused_answer_names_its_check_and_off_it_is_answered():
    question = "When did North Korea blow up the liaison office?"
    refused = _ask(question, _reply("Kaesong", 1))
    assert refused.refused and refused.refused_by == "type_check"
    assert refused.refusal_reason.startswith("type_check: ")
    assert [v.check for v in refused.checks][:2] == ["related", "declined"]
    answered = _ask(question, _reply("Kaesong", 1), off="type_check")
    assert not answered.refused and answered.text.startswith("Kaesong")
    assert answered.refusal_reason is None and answered.refused_by is None
    assert [v.check for v in answered.checks][-1] == "calibrated"


def test_old_news_is_a_check_of_its_own():
    """The seed article (June 2020) for a question asked about "recently" half a year later:
    refused as old news; with old_news off, answered from it."""
    question = "What did North Korea recently blow up in Kaesong?"
    reply = _reply("an office set up to foster better ties with South Korea", 1)
    refused = _ask(question, reply, as_of="2021-01-10")
    assert refused.refused and refused.refused_by == "old_news"
    assert "June 2020" in refused.refusal_reason and "recent news" in refused.refusal_reason
    answered = _ask(question, reply, off="old_news", as_of="2021-01-10")
    assert not answered.refused and "office" in answered.text


def test_the_check_before_the_model_and_the_one_after_it():
    """A question the passages are not about is refused before the model runs; with that
    check off the model is asked, and its answer is refused by a later check."""
    refused = _ask("What is the capital of France?", "Paris [1].")
    assert refused.refused_by == "related" and [v.check for v in refused.checks] == ["related"]
    later = _ask("What is the capital of France?", "Paris [1].", off="related")
    assert later.refused and later.refused_by == "answer_in_quote"
    assert "in none of the" in later.refusal_reason


# -- the setting --------------------------------------------------------------------------------
def test_checks_are_turned_off_by_the_setting(monkeypatch):
    monkeypatch.setenv("QA_CHECKS_OFF", " type_check, rival_name ,")
    assert Settings.from_env().checks_off == {"type_check", "rival_name"}
    monkeypatch.setenv("QA_CHECKS_OFF", "type_check,no_such_check")
    with pytest.raises(ConfigError, match="QA_CHECKS_OFF names no check no_such_check"):
        Settings.from_env()
    monkeypatch.delenv("QA_CHECKS_OFF")
    assert Settings.from_env().checks_off == frozenset()


# -- where a reader sees them -----------------------------------------------------------------
def test_qa_ask_json_prints_the_reason_and_the_verdicts(seeded_kb, capsys, monkeypatch):
    from qa import cli

    monkeypatch.setattr(cli, "_reader", lambda args: seeded_kb)
    seeded_kb._chat_model = FakeChatModel(function=lambda m: _reply("Kaesong", 1))
    assert cli.main(["ask", "--json", "When did North Korea blow up the liaison office?"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["refused"] and d["refusal_reason"].startswith("type_check: ")
    failed = [v for v in d["checks"] if v["status"] == "failed"]
    assert [v["check"] for v in failed] == ["type_check"]
    assert {"check", "status", "reason", "features"} <= set(d["checks"][0])


def test_the_wire_format_keeps_the_verdicts():
    from qa.app_link import answer_from_wire, answer_to_wire

    v = CheckVerdict("relevance", "failed", "its sentence scores 0.31", {"score": 0.31})
    a = Answer(text="no", sentences=(), refused=True, confidence=None,
               refusal_reason="relevance: its sentence scores 0.31", checks=(v,))
    back = answer_from_wire(json.loads(json.dumps(answer_to_wire(a))))
    assert back.checks == (v,) and back.refusal_reason == a.refusal_reason


def test_the_chat_shows_why_an_answer_was_refused():
    from qa.web.render import answer_html

    verdicts = (CheckVerdict("declined", "passed", "the model gave an answer"),
                CheckVerdict("relevance", "failed", "its sentence scores 0.31 <b>", {}))
    refused = Answer(text="Not found.", sentences=(), refused=True, confidence=None,
                     refusal_reason="relevance: its sentence scores 0.31 <b>", checks=verdicts)
    page = answer_html(refused)
    assert '<details class="nqa-why"><summary>Why not answered?</summary>' in page
    assert "relevance: its sentence scores 0.31 &lt;b&gt;" in page and "<b>" not in page
    assert 'data-check="declined"' in page and "nqa-check-failed" in page
    plain = Answer(text="Not found.", sentences=(), refused=True, confidence=None)
    assert "Why not answered?" not in answer_html(plain)


def test_eval_counts_refusals_per_check(tmp_path):
    from qa.eval.report import write_report
    from qa.eval.run import OTHER_REFUSAL, QuestionResult, summarize

    def row(i: int, refused_by: str | None, refused: bool = True) -> QuestionResult:
        return QuestionResult(id=f"q{i}", question="?", answers=["x"], answerable=True,
                              qtype="what", first_hit_rank=1, refused=refused,
                              correct=not refused, refused_by=refused_by,
                              checks=[{"check": refused_by or "relevance", "status": "failed",
                                       "reason": "r", "features": {}}])

    rows = [row(1, "relevance"), row(2, "relevance"), row(3, "type_check"), row(4, None),
            row(5, None, refused=False)]
    meta = {"dataset": "tiny", "questions": 5, "chunks": 1, "retrieval": "hybrid", "k": 5,
            "chunk_size": 1000, "llm": "fake"}
    summary = summarize(rows, meta)
    counts = summary["refusals_by_check"]
    assert list(counts)[: len(CHECK_NAMES)] == list(CHECK_NAMES)
    assert counts["relevance"] == 2 and counts["type_check"] == 1 and counts["old_news"] == 0
    assert counts[OTHER_REFUSAL] == 1
    report = write_report(rows, summary, tmp_path).read_text()
    assert "## Refusals per check" in report and "| `relevance` | soft | 2 |" in report
    stored = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert stored[0]["refused_by"] == "relevance" and stored[0]["checks"][0]["check"]

"""Every check that can run records its verdict, also after the one that refused (marked
"after"), and ``qa.eval.loo`` builds the figures with each check off from those stored
verdicts, without the model."""

from __future__ import annotations

import json

import pytest
from answer_helpers import EMBEDDER, DenseRetriever, seed_passages
from test_quote_check import SEED, SPORTS, _passage

from qa.answer import grounding
from qa.answer.chain import ask
from qa.answer.checks import CHECK_NAMES, Verifier
from qa.answer.evidence import build_evidence
from qa.answer.grounding import CLAIM_CHECKS, check_claim, parse_reply
from qa.config import Settings
from qa.llm.fake import FakeChatModel
from qa.types import Answer, CheckVerdict


def _evidence(question: str):
    return build_evidence(question, [_passage(SEED, "Liaison office", 1),
                                     _passage(SPORTS, "Super Bowl", 2)], EMBEDDER.encode)


def _reply(answer: str, passage: int, quote: str = "") -> str:
    d = {"answer": answer, "passage": passage}
    return json.dumps({**d, "quote": quote} if quote else d)


def _ask(question: str, reply: str, off: str = "", as_of: str | None = None) -> Answer:
    settings = Settings().with_(checks_off=frozenset(filter(None, off.split(","))))
    return ask(question, retrieve=DenseRetriever(seed_passages()), settings=settings,
               llm=FakeChatModel(function=lambda messages: reply), as_of=as_of,
               embedder=EMBEDDER)


def _split(verdicts, name: str):
    """(verdicts up to and with the refusing one, the ones after it)."""
    i = next(i for i, v in enumerate(verdicts) if v.failed)
    assert verdicts[i].check == name
    return verdicts[: i + 1], verdicts[i + 1:]


# -- the verdicts after a refusal ---------------------------------------------------------------
@pytest.mark.parametrize("question, answer, passage, quote, check, reason", [
    ("When did North Korea blow up the office?", "Kaesong", 1, "", "type_check",
     "the answer 'Kaesong' is not of the kind the question asks for (a quantity, a date or a "
     "frequency)"),
    ("How much did North Korea spend to renovate the building?", "9.78 billion won", 1, "",
     "rival_name", "the question asks about 'north korea' but the sentence is about 'south "
     "korea' (the closest of 6 quotes tried)"),
    ("Which game's champions are listed through the years?", "Super Bowl", 2,
     "Super Bowl Champions Through the Years", "assertion",
     "the quote's sentence 'Super Bowl Champions Through the Years' is a headline: it asserts "
     "nothing (the closest of 7 quotes tried)"),
])
def test_a_refused_claim_records_the_later_checks_as_with_its_check_off(
        question, answer, passage, quote, check, reason):
    """Refused by the same check, with the same reason, as when evaluation stopped there (the
    reasons are those the code gave before); the later checks ran on the same candidate and
    say what the claim meets with that check off."""
    ev = _evidence(question)
    claim = parse_reply(_reply(answer, passage, quote))
    refused = check_claim(claim, ev)
    assert refused.verified is None and refused.refusal.check == check
    upto, after = _split(refused.verdicts, check)
    assert not any(v.after for v in upto) and after and all(v.after for v in after)
    assert [v.check for v in refused.verdicts] == [n for n in CLAIM_CHECKS]
    off = check_claim(claim, ev, verifier=Verifier(frozenset({check})))
    assert off.verified is not None and off.refusal is None
    assert [(v.check, v.status) for v in after] == [
        (v.check, v.status) for v in off.verdicts[len(upto):]]
    assert upto[-1].reason == reason
    assert refused.would is not None and refused.would.answer == off.verified.answer


def test_a_later_failure_is_recorded_but_the_first_one_refuses():
    """"Pyongyang" for "when": type_check refuses; answer_in_quote, which would refuse it
    with type_check off, is recorded after it."""
    checked = check_claim(parse_reply(_reply("Pyongyang", 1)),
                          _evidence("When did North Korea blow up the office?"))
    assert checked.refusal.check == "type_check"
    _, after = _split(checked.verdicts, "type_check")
    later = [v for v in after if v.failed]
    assert [v.check for v in later] == ["answer_in_quote"] and later[0].after
    assert "pyongyang" in later[0].reason


def test_checks_without_their_inputs_say_not_checked(monkeypatch):
    """No candidate quote (the model's quote is in no passage, and code does not look):
    the checks that read a quote say so, marked after the refusing one."""
    monkeypatch.setattr(grounding, "FIND_QUOTE_BY_CODE", False)
    checked = check_claim(parse_reply(_reply("Kaesong", 1, "a quote no passage holds")),
                          _evidence("In which town was the office?"))
    assert checked.refusal.check == "quote_in_passage" and checked.would is None
    _, after = _split(checked.verdicts, "quote_in_passage")
    by = {v.check: v for v in after}
    for name in ("assertion", "rival_name", "answer_in_quote", "relevance"):
        assert by[name].status == "not_checked" and by[name].after
        assert by[name].reason == grounding.NO_QUOTE


# -- through the chain: the answer keeps what it would have shown ----------------------------
def test_a_refused_answer_keeps_the_text_its_check_off_would_show():
    question = "When did North Korea blow up the liaison office?"
    refused = _ask(question, _reply("Kaesong", 1))
    answered = _ask(question, _reply("Kaesong", 1), off="type_check")
    assert refused.refused and refused.refused_by == "type_check"
    assert refused.refusal_reason.startswith("type_check: the answer 'Kaesong' is not of")
    assert not answered.refused and refused.would_answer == answered.text
    old = next(v for v in refused.checks if v.check == "old_news")
    assert old.after and old.status == "passed"
    assert refused.checks[-1].check == "calibrated" and refused.checks[-1].after
    # the candidate's signals are recorded for the calibration to be fitted on
    assert refused.signals is not None and refused.signals["type_ok"] == 0.0
    assert answered.signals is not None and answered.signals["type_ok"] == 1.0
    # the first pass (two passages) was refused by the same check, then the model read all
    assert refused.earlier_refused_by == ("type_check",)
    assert answered.would_answer is None and answered.earlier_refused_by == ()


def test_old_news_keeps_the_answer_it_refused():
    question = "What did North Korea recently blow up in Kaesong?"
    reply = _reply("an office set up to foster better ties with South Korea", 1)
    refused = _ask(question, reply, as_of="2021-01-10")
    answered = _ask(question, reply, off="old_news", as_of="2021-01-10")
    assert refused.refused_by == "old_news" and refused.would_answer == answered.text


def test_a_decline_records_nothing_it_cannot_check():
    refused = _ask("When did North Korea blow up the liaison office?",
                   _reply("NOT IN ARTICLES", 0))
    assert refused.refused_by == "declined" and refused.would_answer is None
    _, after = _split(refused.checks, "declined")
    assert [v.check for v in after] == list(CHECK_NAMES[CHECK_NAMES.index("declined") + 1:])
    assert all(v.after for v in after)
    assert {v.status for v in after if v.check not in ("answer_text", "passages")} == {
        "not_checked"}


def test_the_after_mark_survives_the_wire_and_old_verdicts_keep_their_shape():
    from qa.app_link import answer_from_wire, answer_to_wire

    before = CheckVerdict("type_check", "failed", "not a date")
    after = CheckVerdict("relevance", "failed", "under the floor", {"score": 0.3}, after=True)
    assert "after" not in before.to_dict() and after.to_dict()["after"] is True
    assert CheckVerdict.from_dict(after.to_dict()) == after
    assert CheckVerdict.from_dict({"check": "relevance", "status": "passed"}).after is False
    a = Answer(text="no", sentences=(), refused=True, confidence=None, checks=(before, after))
    back = answer_from_wire(json.loads(json.dumps(answer_to_wire(a))))
    assert back.checks == (before, after) and back.refused_by == "type_check"


# -- the leave-one-out table from stored replies ----------------------------------------------
def _checks(fails=(), unchecked=(), upto: str | None = None, **features) -> list[dict]:
    """Stored verdicts of the table's checks in order (up to ``upto``): failed for ``fails``,
    not checked for ``unchecked``, passed otherwise; those after the first failure marked."""
    from qa.answer.checks import mark_after

    names = CHECK_NAMES[: CHECK_NAMES.index(upto) + 1] if upto else CHECK_NAMES
    vs = [CheckVerdict(n, "failed" if n in fails else "not_checked" if n in unchecked
                       else "passed", "r", features.get(n, {})) for n in names]
    return [v.to_dict() for v in mark_after(vs)]


def _row(i: int, checks: list[dict], *, correct: bool = False, would: str | None = None,
         earlier: tuple[str, ...] = (), timings: dict | None = None):
    from qa.eval.run import QuestionResult

    failed = next((v["check"] for v in checks if v["status"] == "failed"), None)
    return QuestionResult(
        id=f"q{i}", question="?", answers=["Kaesong"], answerable=True, qtype="where",
        first_hit_rank=1, refused=failed is not None, correct=correct and failed is None,
        answer="no" if failed else "Kaesong [1]", refused_by=failed, checks=checks,
        would_answer=would, earlier_refused_by=list(earlier), timings=timings or {})


def _rows():
    one_article = {"applies": True, "floor": 0.25, "base_floor": 0.4}
    return [
        _row(1, _checks(), correct=True),                                  # right
        _row(2, _checks()),                                                # wrong shown
        _row(3, _checks(fails=("type_check",)), would="Kaesong [2]"),     # off: right
        _row(4, _checks(fails=("relevance",)), would="Seoul [1]"),        # off: wrong shown
        # type_check refused; answer_in_quote, after it, still would
        _row(5, _checks(fails=("type_check", "answer_in_quote")), would="Kaesong [1]"),
        # a decline: nothing after it could be checked, nothing to show
        _row(6, _checks(fails=("declined",), unchecked=CHECK_NAMES[2:])),
        _row(7, _checks(fails=("related",), upto="related")),             # model never asked
        # right after the first pass was refused by rival_name
        _row(8, _checks(), correct=True, earlier=("rival_name",), timings={"second_pass": 1.0}),
        # passed on the one-article floor (0.30 >= 0.25), under the floor of several (0.40)
        _row(9, _checks(one_article=one_article, relevance={"score": 0.3, "floor": 0.25}),
             correct=True),
    ]


def _figures(table, off):
    row = next(r for r in table if r["off"] == off)
    return (row["answered"], row["right"], row["wrong_shown"], row["refused"],
            row["cannot_tell"])


def test_leave_one_out_recomputes_each_check_off():
    from qa.eval.loo import leave_one_out

    table = leave_one_out(_rows())
    assert [r["off"] for r in table] == [None, *CHECK_NAMES]
    assert table[0]["questions"] == 9 and table[0]["answerable"] == 9
    assert _figures(table, None) == (4, 3, 1, 5, 0)
    assert _figures(table, "type_check") == (5, 4, 1, 4, 0)      # q3 shown, right; q5 not
    assert _figures(table, "relevance") == (5, 3, 2, 4, 0)       # q4: a wrong answer shown
    assert _figures(table, "answer_in_quote") == (4, 3, 1, 5, 0)  # q5 is type_check's
    assert _figures(table, "declined") == (4, 3, 1, 5, 0)        # nothing to show
    assert _figures(table, "related") == (4, 3, 1, 5, 1)         # q7: cannot tell
    assert _figures(table, "rival_name") == (4, 3, 1, 5, 1)      # q8: cannot tell
    # q9 under 0.40; q8 had a second pass, which the floor decides
    assert _figures(table, "one_article") == (3, 2, 1, 6, 1)
    assert _figures(table, "exclusion") == _figures(table, None)


def test_a_run_before_the_later_verdicts_were_kept_cannot_tell():
    """Older runs: a refusal whose verdicts stop at the refusing check, an answer after a
    second pass that does not say what refused the first, a refusal with no verdicts."""
    from dataclasses import replace

    from qa.eval.loo import leave_one_out

    old = _row(1, _checks(fails=("relevance",), upto="relevance"), would=None)
    row = next(r for r in leave_one_out([old]) if r["off"] == "relevance")
    assert (row["answered"], row["refused"], row["cannot_tell"]) == (0, 1, 1)
    second = replace(_row(2, _checks(), correct=True), earlier_refused_by=None,
                     timings={"second_pass": 1.0})
    bare = replace(_row(3, []), refused=True, shape="fact")
    table = leave_one_out([second, bare])
    assert _figures(table, None) == (1, 1, 0, 1, 0)
    assert {_figures(table, name) for name in CHECK_NAMES} == {(1, 1, 0, 1, 2)}


def test_the_report_and_summary_print_the_table_and_the_entry_point_rebuilds_it(tmp_path,
                                                                                capsys):
    import subprocess
    import sys
    from pathlib import Path

    from qa.eval import loo
    from qa.eval.report import write_report
    from qa.eval.run import summarize

    rows = _rows()
    meta = {"dataset": "tiny", "questions": len(rows), "chunks": 1, "retrieval": "hybrid",
            "k": 5, "chunk_size": 1000, "llm": "fake"}
    summary = summarize(rows, meta)
    report = write_report(rows, summary, tmp_path).read_text()
    assert "## Leave-one-out: each check off" in report
    assert "| none (all on) |  | 4 | 3 | 1 | 5 | 0 |" in report
    assert "| `relevance` | soft | 5 | 3 | 2 | 4 | 0 |" in report
    stored = json.loads((tmp_path / "summary.json").read_text())["leave_one_out"]
    assert stored == loo.leave_one_out(rows)
    # from the results folder alone, without running anything
    assert loo.main([str(tmp_path)]) == 0
    assert "| `type_check` | soft | 5 | 4 | 1 | 4 | 0 |" in capsys.readouterr().out
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-m", "qa.eval.loo", str(tmp_path / "results.jsonl"),
                          "--json"], cwd=root, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == stored
    assert loo.main([str(tmp_path / "nothing-here")]) == 2


def test_a_second_pass_the_relevance_floor_skipped_cannot_tell():
    """Refused on the first pass, the second skipped because no unread sentence cleared the
    floor: with relevance off that pass would have run."""
    from qa.eval.loo import leave_one_out

    skipped = _row(1, _checks(fails=("answer_in_quote",)), would="Seoul [1]",
                   timings={"skipped_second_pass": 2.0})
    table = leave_one_out([skipped])
    assert _figures(table, "relevance") == (0, 0, 0, 1, 1)
    assert _figures(table, "answer_in_quote") == (1, 0, 1, 0, 0)


def test_a_run_made_before_the_last_check_existed_scores_its_last_refusals():
    """A run whose table ended at ``old_news`` (made before ``calibrated`` was appended)
    recorded nothing after an ``old_news`` refusal because nothing came after it: that
    refusal is scored with the check off, not counted as "cannot tell"."""
    from qa.eval.loo import last_check, leave_one_out

    upto = CHECK_NAMES[CHECK_NAMES.index("calibrated") - 1]
    assert upto == "old_news"
    old = [_row(1, _checks(upto=upto), correct=True),
           _row(2, _checks(fails=("old_news",), upto=upto), would="Kaesong [1]")]
    assert last_check(old) == "old_news"
    assert _figures(leave_one_out(old), "old_news") == (2, 2, 0, 0, 0)
    # in a run whose table has `calibrated`, the same row lacks the later verdicts
    new = [_row(1, _checks(), correct=True), old[1]]
    assert last_check(new) == "calibrated"
    assert _figures(leave_one_out(new), "old_news") == (1, 1, 0, 1, 1)

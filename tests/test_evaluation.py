"""`qa eval`: scoring rules, and a run on a small set through the same path users use."""

import json

import pytest

from qa.cli import main
from qa.eval.run import contains_gold, normalize, partly_gold, question_type, wilson


def test_scoring_rules():
    assert normalize("The Buffalo Bills!") == "buffalo bills"
    assert contains_gold("He plays for the Buffalo Bills.", ["Buffalo Bills"])
    assert not contains_gold("He plays for Buffalo.", ["Buffalo Bills"])
    assert not contains_gold("a cartoon", ["car"])  # whole words only
    assert not contains_gold("Joe Biden faced questions.", ["President Joe Biden"])
    assert partly_gold("Joe Biden faced questions.", ["President Joe Biden"])
    assert partly_gold("The Bay Area braces for floods.", ["San Francisco Bay Area"])
    assert not partly_gold("Golden Globes 2023 aired.", ["Golden Globe Awards"])
    lo, hi = wilson(15, 25)
    assert lo < 0.6 < hi and 0.38 < lo < 0.42 and 0.76 < hi < 0.80
    assert question_type("How many people died?") == "how many"
    assert question_type("Which seed was added?") == "which"


@pytest.fixture
def tiny_set(tmp_path):
    folder = tmp_path / "tiny"
    folder.mkdir()
    articles = [
        {"id": "a1", "url": "https://e.example/sesame", "title": "Sesame joins allergen list",
         "date": "2023/01/01", "text": "The FDA added sesame seeds to its list of major food "
         "allergens on January 1.\n\nLabels must now declare sesame."},
        {"id": "a2", "url": "https://e.example/bills", "title": "Hamlin recovering",
         "date": "2023/01/05", "text": "Damar Hamlin of the Buffalo Bills is breathing on his "
         "own, the team said on Thursday."},
    ]
    questions = [
        {"id": "q1", "question": "Which seed did the FDA add to its major allergen list?",
         "answers": ["Sesame seeds"], "choices": ["Chia seeds", "Sesame seeds"],
         "answerable": True},
        {"id": "q2", "question": "Damar Hamlin plays for which NFL team?",
         "answers": ["Buffalo Bills"], "choices": ["Buffalo Bills", "Cleveland Browns"],
         "answerable": True},
        {"id": "q3", "question": "Who won the 1998 chess olympiad?", "answers": ["Russia"],
         "choices": ["Russia", "USA"], "answerable": False},
    ]
    (folder / "articles.jsonl").write_text("\n".join(map(json.dumps, articles)))
    (folder / "questions.jsonl").write_text("\n".join(map(json.dumps, questions)))
    return folder


def test_retrieval_only_run_writes_report_and_reuses_its_store(tiny_set, tmp_path, capsys):
    out = tmp_path / "report"
    argv = ["--data-dir", str(tmp_path / "data"), "eval", str(tiny_set), "--retrieval-only",
            "-k", "3", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "| recall@1 | 100.0 % |" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["recall"]["@5"] == 1.0 and summary["choice_accuracy"] == 1.0
    assert summary["meta"]["articles_added"] == 2
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["first_hit_rank"] for r in rows[:2]] == [1, 1]
    assert (out / "recall_at_k.png").stat().st_size > 1000
    assert main(argv) == 0  # rerun: the articles are unchanged, nothing is embedded again
    assert json.loads((out / "summary.json").read_text())["meta"]["articles_unchanged"] == 2


def test_a_set_over_the_upload_limit_is_indexed_and_an_unreadable_one_stops_the_run(
        tiny_set, tmp_path, monkeypatch, capsys):
    # The set's own articles file is trusted: QA_MAX_FILE_MB (a reader's upload) does not
    # apply to it. A run that indexed nothing must not report 0 % as if it had scored.
    monkeypatch.setenv("QA_MAX_FILE_MB", "0.0001")
    out = tmp_path / "report"
    argv = ["--data-dir", str(tmp_path / "data"), "eval", str(tiny_set), "--retrieval-only",
            "--out", str(out)]
    assert main(argv) == 0
    assert json.loads((out / "summary.json").read_text())["meta"]["articles_added"] == 2
    capsys.readouterr()
    (tiny_set / "articles.jsonl").write_text("not json at all\n")
    assert main(argv + ["--out", str(tmp_path / "again")]) != 0
    err = capsys.readouterr().err
    assert "not indexed" in err and "nothing was scored" in err
    assert not (tmp_path / "again" / "summary.json").exists()


def test_full_run_with_the_fake_model(tiny_set, tmp_path, settings):
    from qa.eval.report import write_report
    from qa.eval.run import run, summarize
    from qa.llm.fake import FakeChatModel

    fake = FakeChatModel(function=lambda messages: "The FDA added sesame seeds [1].")
    out = tmp_path / "report"
    results, meta = run(tiny_set, settings=settings, k=5, retrieval="hybrid",
                        retrieval_only=False, choices=False, limit=None, out_dir=out, llm=fake)
    write_report(results, summarize(results, meta), out)
    summary = json.loads((out / "summary.json").read_text())
    for key in ("accuracy", "accuracy_ci95", "partial_accuracy", "false_refusal_rate",
                "refusal_rate_unanswerable",
                "citation_support_rate", "accuracy_by_type"):
        assert key in summary
    assert summary["refusal_rate_unanswerable"] == 1.0
    assert {"retrieve", "total"} <= set(summary["latency"])
    assert (out / "accuracy_by_type.png").exists() and (out / "report.md").exists()


def test_audit_scores_the_supported_questions_apart(tiny_set, tmp_path, capsys):
    # q2's gold occurs in the set, but say an audit found it only in an off-topic passage
    (tiny_set / "audit.jsonl").write_text(json.dumps(
        {"id": "q2", "verdict": "off-topic-only", "note": "test"}) + "\n")
    out = tmp_path / "report"
    argv = ["--data-dir", str(tmp_path / "data"), "eval", str(tiny_set), "--retrieval-only",
            "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "| metric | answerable (n=2) | supported (n=1) |" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["supported"] == 1 and summary["recall_supported"]["@1"] == 1.0
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["supported"] for r in rows] == [True, False, False]


@pytest.mark.parametrize("line, message", [
    ({"id": "q9", "verdict": "off-topic-only"}, "questions the set does not have: q9"),
    ({"id": "q1", "verdict": "maybe"}, "unknown verdict"),
])
def test_a_bad_audit_is_refused(tiny_set, tmp_path, capsys, line, message):
    audit = tmp_path / "audit.jsonl"
    audit.write_text(json.dumps(line) + "\n")
    argv = ["--data-dir", str(tmp_path / "data"), "eval", str(tiny_set), "--retrieval-only",
            "--audit", str(audit), "--out", str(tmp_path / "report")]
    assert main(argv) != 0
    assert message in capsys.readouterr().err


def test_shipped_audits_name_only_real_answerable_questions():
    from testdata import EVAL_MINI

    from qa.eval.run import AUDIT_DIR, load_audit

    for folder in (EVAL_MINI, EVAL_MINI.parent / "realtimeqa-2023",
                   EVAL_MINI.parent / "realtimeqa-2025"):
        audit = load_audit(folder)
        assert audit, f"no audit shipped for {folder.name}"
        rows = {json.loads(x)["id"]: json.loads(x)
                for x in (folder / "questions.jsonl").read_text().splitlines()}
        assert all(rows[qid]["answerable"] for qid in audit)
    assert (AUDIT_DIR / "realtimeqa-2023.jsonl").is_file()
    assert (AUDIT_DIR / "realtimeqa-2025.jsonl").is_file()

"""`qa eval`'s output: results.jsonl, summary.json and report.md with its plots."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from qa.eval.loo import markdown
from qa.eval.run import RECALL_KS, QuestionResult


def _plots(results: list[QuestionResult], summary: dict, out_dir: Path) -> list[str]:
    try:
        import matplotlib
    except ImportError:  # plots are the `eval` extra's job; the scores do not need them
        import sys

        print("note: plots skipped, matplotlib is not installed: pip install 'newsqa[eval]'",
              file=sys.stderr)
        return []

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    ks = list(RECALL_KS)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(ks, [summary["recall"][f"@{n}"] for n in ks], marker="o")
    ax.set_xlabel("k (passages)")
    ax.set_ylabel("recall@k (answerable)")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.set_title("Retrieval recall")
    fig.tight_layout()
    fig.savefig(out_dir / "recall_at_k.png", dpi=110)
    plt.close(fig)
    files.append("recall_at_k.png")

    fig, ax = plt.subplots(figsize=(5, 3.2))
    stage = "total" if any("total" in r.timings for r in results) else "retrieve"
    ax.hist([r.timings[stage] for r in results if stage in r.timings], bins=20)
    ax.set_xlabel(f"{stage} latency (s)")
    ax.set_ylabel("questions")
    ax.set_title("Latency")
    fig.tight_layout()
    fig.savefig(out_dir / "latency.png", dpi=110)
    plt.close(fig)
    files.append("latency.png")

    if "accuracy_by_type" in summary:
        types = list(summary["accuracy_by_type"])
        fig, ax = plt.subplots(figsize=(5, 3.2))
        ax.bar(types, [summary["accuracy_by_type"][t][0] for t in types])
        ax.set_ylim(0, 1)
        ax.set_ylabel("accuracy")
        ax.set_title("Accuracy by question type")
        fig.tight_layout()
        fig.savefig(out_dir / "accuracy_by_type.png", dpi=110)
        plt.close(fig)
        files.append("accuracy_by_type.png")
    return files


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.1f} %"


def write_report(results: list[QuestionResult], summary: dict, out_dir: Path) -> Path:
    """Write the per-question results, the summary and the Markdown report; returns its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "results.jsonl", "w") as fh:
        for r in results:
            fh.write(json.dumps(asdict(r), ensure_ascii=False) + "\n")
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    plots = _plots(results, summary, out_dir)
    lines = [*_heading(summary), *_table(summary), "", *_refusal_rows(summary),
             *markdown(summary.get("leave_one_out") or []),
             *[f"![{p}]({p})" for p in plots], ""]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines))
    return path


def _heading(summary: dict) -> list[str]:
    m = summary["meta"]
    lines = [
        f"# Evaluation: {m['dataset']}",
        "",
        f"{m['questions']} questions ({summary['answerable']} answerable), {m['chunks']} chunks, "
        f"retrieval `{m['retrieval']}`"
        f"{' as of each question date' if m.get('as_of_question_date') else ''}, k={m['k']}, "
        f"chunk size {m['chunk_size']}, "
        f"generator `{m['llm'] or 'none (retrieval only)'}`.",
        "",
    ]
    if "supported" in summary:
        lines += [
            f"Audited: {summary['supported']} of the {summary['answerable']} answerable questions "
            "have a gold answer in an on-topic article (`eval/audits/`); the second column "
            "scores those only.",
            "",
        ]
    return lines


def _table(summary: dict) -> list[str]:
    """The metrics table: one column, or two when the set is audited (answerable, then the
    audited-supported questions)."""
    audited = "supported" in summary
    if audited:
        lines = [f"| metric | answerable (n={summary['answerable']}) | "
                 f"supported (n={summary['supported']}) |", "|---|---|---|"]
    else:
        lines = ["| metric | value |", "|---|---|"]

    def row(name: str, value: str, supported: str | None = None) -> str:
        if not audited:
            return f"| {name} | {value} |"
        return f"| {name} | {value} | {supported or '—'} |"

    lines += _retrieval_rows(summary, row, audited)
    if "accuracy" in summary:
        lines += _answer_rows(summary, row, audited)
    if "open" in summary:
        lines += _open_rows(summary["open"], row)
    for stage, v in summary["latency"].items():
        lines.append(row(f"latency {stage} p50 / p95", f"{v['p50']:.2f} s / {v['p95']:.2f} s"))
    return lines


Row = Callable[..., str]


def _open_rows(o: dict, row: Row) -> list[str]:
    """An open set's rows: answered, key points covered, sentences shown and removed."""
    return [
        row("open questions answered", f"{o['answered']}/{o['answerable']} "
            f"({_pct(o['answered_rate'])})"),
        row("key points covered (all answerable)", f"{o['key_points_covered']}/{o['key_points']} "
            f"({_pct(o['key_point_coverage'])})"),
        row("key points covered (answered ones)", _pct(o["key_point_coverage_answered"])),
        row("unanswerable refused", f"{o['unanswerable_refused']}/{o['unanswerable']}"),
        row("sentences shown / removed by the check",
            f"{o['sentences_shown']} / {o['sentences_removed']}"),
        row("answered by the open path", f"{o['open_path']}"),
    ]


def _with_ci(summary: dict, p_key: str, ci_key: str) -> str:
    lo, hi = summary[ci_key]
    return f"{_pct(summary[p_key])} (95 % CI {_pct(lo)}–{_pct(hi)})"


def _retrieval_rows(summary: dict, row: Row, audited: bool) -> list[str]:
    lines = [row(f"recall@{n}", _pct(summary["recall"][f"@{n}"]),
                 _pct(summary["recall_supported"][f"@{n}"]) if audited else None)
             for n in RECALL_KS]
    lines.append(row("MRR@10", f"{summary['mrr@10']:.3f}",
                     f"{summary['mrr@10_supported']:.3f}" if audited else None))
    if "choice_accuracy" in summary:
        lines.append(row("multiple choice from passages (no LLM)",
                         _with_ci(summary, "choice_accuracy", "choice_ci95")))
    return lines


def _answer_rows(summary: dict, row: Row, audited: bool) -> list[str]:
    s = summary
    return [
        row("answer accuracy", _with_ci(s, "accuracy", "accuracy_ci95"),
            _with_ci(s, "accuracy_supported", "accuracy_ci95_supported") if audited else None),
        row("answer holds half of a gold answer's words",
            _pct(s["partial_accuracy"]),
            _pct(s["partial_accuracy_supported"]) if audited else None),
        row("false refusals", _pct(s["false_refusal_rate"]),
            _pct(s["false_refusal_rate_supported"]) if audited else None),
        row("**wrong answers shown** (share of all questions)",
            f"{_pct(s['wrong_shown_rate'])} ({s['wrong_shown']} of "
            f"{s['questions_answered']})"),
        row("refusals (unanswerable)", _pct(s["refusal_rate_unanswerable"])),
        row("quote exactness (quote is the article's text at its offsets)",
            _pct(s["quote_exactness"])),
        row("citation support", _pct(s["citation_support_rate"])),
    ]


def _refusal_rows(summary: dict) -> list[str]:
    """The refusals per check (``qa.answer.checks``), as a table of its own."""
    counts = summary.get("refusals_by_check")
    if not counts:
        return []
    from qa.answer.checks import CHECKS

    kinds = {c.name: c.kind for c in CHECKS}
    lines = ["## Refusals per check", "",
             f"The check that refused each refused question ({sum(counts.values())} refused).",
             "", "| check | kind | refusals |", "|---|---|---|"]
    lines += [f"| `{name}` | {kinds.get(name, '—')} | {n} |" for name, n in counts.items()]
    return [*lines, ""]

"""Leave-one-out: ``qa eval``'s figures with each check off, from the stored replies.

A refused short answer records the verdict of every check that could run, also after the one
that refused it (marked "after", ``qa.answer.checks.mark_after``), and the text it would have
shown (``QuestionResult.would_answer``). So "the figures with check X off" follow from
``results.jsonl`` without a model call: an answer refused by X is shown when no other
recorded check failed, and it is right when that text contains a gold answer
(``qa.eval.run.contains_gold``). Every other question keeps its stored outcome.

It is exact for the candidate quote that was checked. It cannot know what a second model
call would have said, so a question is counted as stored and also as "cannot tell" in X's row
when turning X off could have changed which model calls ran:

- X refused an earlier draft of it (the first pass over the best passages, or a number before
  its second look): with X off that draft might have been kept (in a run that did not record
  which check refused its earlier drafts, every question with one cannot tell);
- X refused it and its later verdicts were not recorded: ``related`` (refused before the
  model was asked), or a run made before the verdicts after a refusal were kept (a short
  answer refused with no verdict at all cannot tell in any row);
- X is ``relevance``, the second pass was skipped because no unread sentence cleared the
  floor, and the answer stays refused: with the floor off, that pass would have run;
- X is ``one_article``, and a second pass ran or was skipped: the floor it lowers decides
  that. ``one_article`` never refuses; with it off, ``relevance`` compares the score it
  recorded with the floor it would have had (``base_floor``), so an answer it let through
  becomes refused.

    python -m qa.eval.loo eval-results/r2023-s8          # the table, as Markdown
    python -m qa.eval.loo eval-results/r2023-s8 --json   # as JSON (as in summary.json)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import fields
from pathlib import Path

from qa.answer.checks import CHECK_NAMES, CHECKS
from qa.eval.run import QuestionResult, contains_gold

_KIND = {c.name: c.kind for c in CHECKS}


def _verdict(r: QuestionResult, name: str) -> dict | None:
    return next((v for v in r.checks or () if v.get("check") == name), None)


def last_check(rows: Iterable[QuestionResult]) -> str:
    """The last check of the table the run's own version had: the last of ``CHECK_NAMES``
    that a shown answer recorded (a shown answer ran every check). A run made before a check
    was appended to the table never records it, and its refusals by the check that was last
    then are complete, not "cannot tell". With no shown answer to read, the current table's
    last (the cautious reading)."""
    seen = {v.get("check") for r in rows if r.refused is False for v in r.checks or ()}
    return next((n for n in reversed(CHECK_NAMES) if n in seen), CHECK_NAMES[-1])


def _recorded_after(r: QuestionResult, name: str, last: str) -> bool:
    """Whether the verdicts after ``name`` were recorded (``name`` is ``last``, the run's last
    check: nothing came after)."""
    names = [v.get("check") for v in r.checks or ()]
    if name not in names:
        return False
    return names.index(name) + 1 < len(names) or name == last


def outcome(r: QuestionResult, off: str | None,
            last: str = CHECK_NAMES[-1]) -> tuple[bool, bool, bool]:
    """(shown, right, cannot tell) for one question with check ``off`` off (None: all on).
    Right means shown and holding a gold answer; ``last`` is the run's last check
    (``last_check``)."""
    shown, right = r.refused is False, bool(r.correct) and r.refused is False
    if off is None:
        return shown, right, False
    timings = r.timings or {}
    drafts = "second_pass" in timings or "retry" in timings
    # the checks that refused earlier drafts (None: a run that did not record them)
    cannot = (off in r.earlier_refused_by if r.earlier_refused_by is not None else drafts)
    if r.refused and not r.checks and r.shape != "open":
        return shown, right, True  # a run before the verdicts were kept
    if off == "one_article":
        cannot = cannot or drafts or "skipped_second_pass" in timings
        oa, rel = _verdict(r, "one_article"), _verdict(r, "relevance")
        if oa and (oa.get("features") or {}).get("applies"):
            base = oa["features"].get("base_floor")
            score = (rel or {}).get("features", {}).get("score")
            if base is None:
                cannot = True  # a run before the base floor was recorded
            elif shown and isinstance(score, int | float) and score < base:
                shown = right = False  # its sentence does not clear the floor of several
        return shown, right, cannot
    if r.refused and r.refused_by == off:
        if not _recorded_after(r, off, last):
            cannot = True
        elif r.would_answer and not any(v.get("status") == "failed" and v.get("check") != off
                                        for v in r.checks or ()):
            shown = True
            right = contains_gold(r.would_answer, r.answers)
    if off == "relevance" and not shown and "skipped_second_pass" in timings:
        cannot = True
    return shown, right, cannot


def leave_one_out(rows: Iterable[QuestionResult]) -> list[dict]:
    """The figures with all checks on, then with each check of ``CHECK_NAMES`` off in turn:
    answered (shown), right (of the labelled answerable), wrong shown and refused (of all),
    and how many of that row's questions cannot be told without a model call (counted as
    stored). Only questions that were answered or refused count (not retrieval-only rows)."""
    rows = [r for r in rows if r.refused is not None]
    last = last_check(rows)
    table = []
    for off in (None, *CHECK_NAMES):
        outs = [(r, *outcome(r, off, last)) for r in rows]
        table.append({
            "off": off,
            "kind": _KIND.get(off or ""),
            "questions": len(rows),
            "answerable": sum(1 for r in rows if r.answerable),
            "answered": sum(1 for _, shown, _, _ in outs if shown),
            "right": sum(1 for r, _, right, _ in outs if right and r.answerable),
            "wrong_shown": sum(1 for _, shown, right, _ in outs if shown and not right),
            "refused": sum(1 for _, shown, _, _ in outs if not shown),
            "cannot_tell": sum(1 for *_, cannot in outs if cannot),
        })
    return table


def markdown(table: Sequence[dict]) -> list[str]:
    """The table as report lines (``qa.eval.report``); [] for no rows."""
    if not table or not table[0]["questions"]:
        return []
    n, a = table[0]["questions"], table[0]["answerable"]
    lines = ["## Leave-one-out: each check off", "",
             "Recomputed from the stored verdicts, without the model (`python -m qa.eval.loo`). "
             "An answer refused by the check that is off is shown when no other recorded check "
             "failed. \"Cannot tell\": turning that check off could have changed which model "
             "calls ran (docs/evaluation.md); those questions are counted as stored.", "",
             f"| check off | kind | answered | right (of {a} answerable) | wrong shown "
             f"(of {n}) | refused | cannot tell |", "|---|---|---|---|---|---|---|"]
    for row in table:
        name = f"`{row['off']}`" if row["off"] else "none (all on)"
        lines.append(f"| {name} | {row['kind'] or ''} | {row['answered']} | {row['right']} | "
                     f"{row['wrong_shown']} | {row['refused']} | {row['cannot_tell']} |")
    return [*lines, ""]


def load_results(path: Path) -> list[QuestionResult]:
    """``results.jsonl`` (or the folder holding it) as ``QuestionResult``s; keys a result
    does not have (from another version) are left out."""
    if path.is_dir():
        path = path / "results.jsonl"
    names = {f.name for f in fields(QuestionResult)}
    return [QuestionResult(**{k: v for k, v in json.loads(line).items() if k in names})
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m qa.eval.loo",
        description="The leave-one-out table (each check off) of a qa eval run, from its "
                    "stored replies, without the model.")
    ap.add_argument("results", type=Path, help="a qa eval results folder, or its results.jsonl")
    ap.add_argument("--json", action="store_true", help="print the table as JSON")
    args = ap.parse_args(argv)
    path = args.results / "results.jsonl" if args.results.is_dir() else args.results
    if not path.is_file():
        print(f"error: {path} not found: give a qa eval results folder", file=sys.stderr)
        return 2
    table = leave_one_out(load_results(path))
    if args.json:
        print(json.dumps(table, indent=2))
    else:
        lines = markdown(table)
        print("\n".join(lines) if lines else "no answered questions in " + str(path))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

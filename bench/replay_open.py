"""Re-run an open-questions half on the model's stored replies, without the model.

``qa eval`` keeps each question's raw reply (``results.jsonl``). Retrieval and scope are
deterministic, so replaying that reply through the current code gives what the product would
show now if the model wrote the same text: exact for every change after the prompt (the
sentence check, re-pointing, the added sentences), an estimate for a change to the context
(the model would read another prompt). This is how the added-sentence rules are swept in
about a minute a half instead of 10-12 minutes of model calls. Prints the key points covered,
the unanswerable refused and the sentences shown, as ``qa eval`` reports them.

    python bench/replay_open.py eval/open-questions/news \\
        eval/open-questions/replies/news-3/results.jsonl
    python bench/replay_open.py eval/open-questions/news \\
        eval/open-questions/replies/news-3/results.jsonl --set qa.answer.open_answer.COMPLEMENT=4

(``eval/open-questions/replies/``: the stored runs the docs' figures come from.)

A question the short-fact path answered replays its stored reply for every model call it
makes (its second look at a number included), without the token probabilities the model gave,
so the calibration reads it with its fit for backends that give none: its verdicts may differ
(on the fresh half, "Alan Garber" is refused by ``calibrated`` in the replay, shown in the
run). Use ``qa eval`` itself for a short-fact set.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import tempfile
from pathlib import Path

from qa.answer import calibration
from qa.config import Settings
from qa.eval.run import _open_scores, run
from qa.llm.fake import FakeChatModel


def _replayer(rows: list[dict]):
    """A model that answers each prompt with the stored reply of the question it ends with
    (prompts put the question last; the longest match wins, for questions that contain
    another)."""
    by_question = sorted(((r["question"], r.get("raw") or "NOT IN ARTICLES") for r in rows),
                         key=lambda qr: -len(qr[0]))

    def reply(messages) -> str:
        text = messages[-1].text if messages else ""
        for question, raw in by_question:
            if question in text:
                return raw
        return "NOT IN ARTICLES"

    return reply


def _apply(assignments: list[str]) -> None:
    """``module.NAME=value`` settings for the sweep (a number, or any Python literal)."""
    for item in assignments:
        target, value = item.split("=", 1)
        module, name = target.rsplit(".", 1)
        setattr(importlib.import_module(module), name, eval(value, {}))  # noqa: S307


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset", type=Path)
    ap.add_argument("results", type=Path)
    ap.add_argument("--set", action="append", default=[], metavar="MODULE.NAME=VALUE")
    ap.add_argument("--show", action="store_true", help="print each answer's key points")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # the replies are a real model's, so the shipped calibration applies to them
    os.environ.setdefault("QA_CALIBRATION", str(Path(calibration.__file__).with_name(
        "calibration.json")))
    _apply(args.set)
    stored = [json.loads(line) for line in args.results.open()]
    llm = FakeChatModel(function=_replayer(stored))
    with tempfile.TemporaryDirectory() as out:
        results, _ = run(args.dataset, settings=Settings.from_env(), k=5, retrieval="hybrid",
                         retrieval_only=False, choices=False, limit=None, out_dir=Path(out),
                         llm=llm)
    if args.show:
        for r in results:
            if r.answerable and r.key_points:
                covered = r.covered or [False] * len(r.key_points)
                missed = [kp[0] for kp, c in zip(r.key_points, covered, strict=True) if not c]
                print(f"{r.id}: {sum(r.covered or [])}/{len(r.key_points)} missed {missed}")
            elif not r.answerable:
                print(f"{r.id} (unanswerable): " + (
                    f"refused by {r.refused_by}" if r.refused else f"answered {r.answer!r}"))
    s = _open_scores(results)
    print(f"key points {s['key_points_covered']}/{s['key_points']} "
          f"({s['key_point_coverage']:.1%}); answered {s['answered']}/{s['answerable']}; "
          f"unanswerable refused {s['unanswerable_refused']}/{s['unanswerable']}; "
          f"shown {s['sentences_shown']}, removed {s['sentences_removed']}")


if __name__ == "__main__":
    main()

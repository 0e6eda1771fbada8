"""Measure the "this week" rule (qa.retrieve.recency, qa.retrieve.search.prefer_recent) on an
eval set.

For the questions with a time word ("this week", "recently", "latest", ...) and for the
others, prints recall@1/@5 of the gold answer (as of each question's date) and the share of
top-1 passages published in the ten days before the question, with the rule off and with
other windows and depths. Retrieval only: seconds once the set's store is built (``qa eval
SET --retrieval-only`` builds it).

    .venv/bin/python bench/recency_rule.py eval/realtimeqa-2023
"""

from __future__ import annotations

import argparse
import json
from datetime import date, timedelta
from pathlib import Path

from qa.config import Settings
from qa.eval.run import contains_gold, load_audit, store_settings
from qa.kb import KnowledgeBase
from qa.retrieve import recency
from qa.retrieve import search as retrieve
from qa.text.dates import parse_date


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    args = ap.parse_args()
    folder = Path(args.dataset)
    kb = KnowledgeBase(store_settings(folder, Settings.from_env()))
    audit = load_audit(folder)
    rows = [json.loads(line) for line in (folder / "questions.jsonl").read_text().splitlines()
            if line.strip()]
    rows = [r for r in rows if r.get("answerable")]

    def measure(label: str) -> None:
        for recent in (True, False):
            group = [r for r in rows if recency.asks_recent(r["question"]) == recent]
            hits1 = hits5 = fresh = sup5 = sup = 0
            for r in group:
                ps = kb.retrieve(r["question"], 5, as_of=r["date"])
                hits1 += bool(ps) and contains_gold(ps[0].text, r["answers"])
                hit5 = any(contains_gold(p.text, r["answers"]) for p in ps)
                hits5 += hit5
                if r["id"] not in audit:
                    sup += 1
                    sup5 += hit5
                day = parse_date(r["date"]) or date.today()
                fresh += bool(ps) and recency.is_recent(ps[0], day)
            n = max(1, len(group))
            print(f"{label:34s} {'time-word' if recent else 'other':9s} n={len(group):3d} "
                  f"recall@1 {100 * hits1 / n:5.1f} %  @5 {100 * hits5 / n:5.1f} %  "
                  f"supported @5 {sup5}/{sup}  top-1 from the last 10 days "
                  f"{100 * fresh / n:5.1f} %")

    defaults = (retrieve._THIS_WEEK_BONUS, recency.RECENT_WINDOW, retrieve._ON_TOPIC_DEPTH)
    retrieve._THIS_WEEK_BONUS = 0.0
    measure("rule off")
    for bonus, days, depth in ((0.02, 10, 20), (0.02, 7, 20), (0.02, 14, 20), (0.02, 10, 10),
                               (0.02, 10, 50), (0.003, 10, 20)):
        retrieve._THIS_WEEK_BONUS, retrieve._ON_TOPIC_DEPTH = bonus, depth
        recency.RECENT_WINDOW = timedelta(days=days)
        measure(f"bonus {bonus} window {days} d depth {depth}")
    retrieve._THIS_WEEK_BONUS, recency.RECENT_WINDOW, retrieve._ON_TOPIC_DEPTH = defaults


if __name__ == "__main__":
    main()

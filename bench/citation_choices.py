"""How often the quote check accepts a right answer and rejects a wrong one (no LLM needed).

The quizzes' multiple choices are ready-made answers: one right, three wrong, all on-topic.
For every question whose retrieved passages hold a gold answer, each choice is given to
``qa.answer.grounding.verify`` as a claim in the two shapes a backend can send: with a quote (the
passage sentence that holds the choice, as a JSON-mode model would copy it) and without one
(a plain-text backend; the quote is then looked up by code). A right choice should be
accepted; a wrong one rejected unless a relevant sentence really states it.

    .venv/bin/python bench/citation_choices.py [--set realtimeqa-2023-mini] [-k 5]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from qa.answer.evidence import build_evidence
from qa.answer.grounding import Claim, verify
from qa.config import PROJECT_ROOT, Settings
from qa.eval.run import contains_gold, load_audit, store_settings
from qa.kb import KnowledgeBase


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", default="realtimeqa-2023-mini")
    ap.add_argument("--eval-dir", default=str(PROJECT_ROOT / "eval"))
    ap.add_argument("-k", type=int, default=5)
    args = ap.parse_args()
    folder = Path(args.eval_dir) / args.set
    kb = KnowledgeBase(store_settings(folder, Settings.from_env()))
    kb.add(folder / "articles.jsonl")
    audit = load_audit(folder)
    accepted = {(r, q): 0 for r in (True, False) for q in (True, False)}
    total = dict(accepted)
    for line in (folder / "questions.jsonl").read_text().splitlines():
        q = json.loads(line)
        if not q["answerable"] or q["id"] in audit or not q.get("choices"):
            continue
        passages = kb.retrieve(q["question"], args.k, as_of=q.get("date"))
        if not any(contains_gold(p.text, q["answers"]) for p in passages):
            continue
        evidence = build_evidence(q["question"], passages, kb.embeddings.encode)
        for choice in q["choices"]:
            right = contains_gold(choice, q["answers"])
            holding = [(i, s.text) for i, p in enumerate(passages)
                       for s in (evidence.sentences[j] for j in evidence.sentences_of(i))
                       if contains_gold(s.text, [choice])]
            for quoted in (True, False):
                quote = holding[0][1] if quoted and holding else ""
                n = holding[0][0] + 1 if quoted and holding else 1
                claim = Claim(choice, n, quote, structured=quoted)
                total[right, quoted] += 1
                accepted[right, quoted] += verify(claim, evidence) is not None
    print(f"{args.set}, k={args.k}: choices of questions whose answer was retrieved")
    for quoted in (True, False):
        name = "with the holding sentence as quote" if quoted else "no quote (found by code)"
        print(f"  {name:36s} right accepted {accepted[True, quoted]}/{total[True, quoted]}, "
              f"wrong accepted {accepted[False, quoted]}/{total[False, quoted]}")


if __name__ == "__main__":
    main()

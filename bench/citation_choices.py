"""How often the citation check accepts a right answer and rejects a wrong one (no LLM needed).

The quizzes' multiple choices are ready-made answers: one right, three wrong, all on-topic.
For every question whose retrieved passages hold a gold answer, each choice is put in two
shapes a small model writes, "<choice>." and "<choice>: <the question restated>.", and run
through ``qa.citations.check_sentences`` against the real top-k passages (as of the
question's date). A right choice should be accepted, a wrong one rejected. Printed with and
without counting the question's own words as given (``qa.support.lexical_support``).

    .venv/bin/python bench/citation_choices.py [--set realtimeqa-2023-mini] [-k 5]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import citations  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.evaluation import contains_gold, load_audit, store_settings  # noqa: E402
from qa.evidence import build_evidence  # noqa: E402
from qa.kb import KnowledgeBase  # noqa: E402
from qa.textspans import content_words  # noqa: E402


def _claims(choice: str, question: str) -> list[str]:
    return [f"{choice}.", f"{choice}: {question.rstrip(' ?:')}."]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", default="realtimeqa-2023-mini")
    ap.add_argument("--eval-dir", default=str(ROOT / "eval"))
    ap.add_argument("-k", type=int, default=5)
    args = ap.parse_args()
    folder = Path(args.eval_dir) / args.set
    kb = KnowledgeBase(store_settings(folder, Settings.from_env()))
    kb.add(folder / "articles.jsonl")
    audit = load_audit(folder)
    cases = []
    for line in (folder / "questions.jsonl").read_text().splitlines():
        q = json.loads(line)
        if not q["answerable"] or q["id"] in audit or not q.get("choices"):
            continue
        passages = kb.retrieve(q["question"], args.k, as_of=q.get("date"))
        if not any(contains_gold(p.text, q["answers"]) for p in passages):
            continue
        evidence = build_evidence(q["question"], passages)
        for choice in q["choices"]:
            right = contains_gold(choice, q["answers"])
            for shape, claim in enumerate(_claims(choice, q["question"])):
                cases.append((evidence, f"{claim} [1]", right, shape))
    print(f"{args.set}: {len(cases)} claims from questions with the answer retrieved")
    for label, words in (("question words count", lambda text: []),
                         ("question words given", content_words)):
        citations.content_words = words  # what check_sentences treats as given
        accepted = {key: 0 for key in ((r, sh) for r in (True, False) for sh in (0, 1))}
        total = dict(accepted)
        for evidence, claim, right, shape in cases:
            sentences = citations.check_sentences(claim, evidence)
            total[right, shape] += 1
            accepted[right, shape] += all(s.supported for s in sentences)
        for shape, name in enumerate(("'<choice>.'", "'<choice>: <question>.'")):
            print(f"  {label:22s} {name:25s} right accepted {accepted[True, shape]}/"
                  f"{total[True, shape]}, wrong accepted {accepted[False, shape]}/"
                  f"{total[False, shape]}")


if __name__ == "__main__":
    main()

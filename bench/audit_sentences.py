"""Draw shown open-answer sentences for a hand audit of their support.

The check behind open answers is lexical (``qa.answer.sentence_check``): it cannot see two
true statements joined into a false one. How often a shown sentence is not supported by the
passage sentences its footnotes highlight takes a reader. This script draws the sentences to
read, at random but repeatably (``--seed``), from ``qa eval`` results of open-question sets,
and writes them as JSON lines with an empty ``verdict`` for the reader to fill in
(``supported`` or ``unsupported``, with a ``note``), the format of
``eval/audits/open-questions.jsonl``.

Only the model's own sentences are drawn by default: the added sentences (``quoted``) are the
passage's own text, cited at their offsets, supported by construction (``--with-quoted`` to
draw from all shown sentences).

    python bench/audit_sentences.py eval-results/fresh/results.jsonl -n 40 --set open-fresh \
        > /tmp/audit.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import sys


def shown_sentences(path: str, with_quoted: bool) -> list[dict]:
    out = []
    for line in open(path, encoding="utf-8"):
        r = json.loads(line)
        for i, s in enumerate(r.get("sentences") or []):
            if s["shown"] and (with_quoted or not s.get("quoted")):
                out.append({"id": r["id"], "sentence_index": i, "question": r["question"],
                            "sentence": s["text"],
                            "cited": [c["quote"] for c in s.get("cited", [])]})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", nargs="+", help="results.jsonl of qa eval runs")
    ap.add_argument("-n", type=int, default=40, help="sentences to draw (all when fewer)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", default="", help="the set's name, written in each row")
    ap.add_argument("--with-quoted", action="store_true")
    args = ap.parse_args(argv)
    pool = [s for path in args.results for s in shown_sentences(path, args.with_quoted)]
    rng = random.Random(args.seed)
    picked = rng.sample(pool, min(args.n, len(pool)))
    print(f"{len(picked)} of {len(pool)} shown sentences drawn", file=sys.stderr)
    for s in picked:
        print(json.dumps({"set": args.set, **s, "verdict": "", "note": ""},
                         ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

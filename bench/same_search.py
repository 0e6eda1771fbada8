"""Are search results unchanged between two versions of newsqa? (issue 27: the embedder now
runs from an ONNX export.) Retrieves every question of a set (as of its date, k=10) from a store
that the code on PYTHONPATH builds, and compares two such runs.

    PYTHONPATH=/tmp/before .venv/bin/python bench/same_search.py run /tmp/eq-before before.jsonl
    PYTHONPATH=.           .venv/bin/python bench/same_search.py run /tmp/eq-after after.jsonl
    .venv/bin/python bench/same_search.py compare before.jsonl after.jsonl

(``git archive COMMIT | tar -x -C /tmp/before`` gives the code of a commit.) Indexing
realtimeqa-2023 (782 articles, 8,698 chunks) takes about 15 minutes on 2 loaded cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

SET = Path(__file__).resolve().parent.parent / "eval" / "realtimeqa-2023"


def run(data: Path, out: Path, folder: Path) -> None:
    import qa
    from qa.config import Settings
    from qa.eval.run import contains_gold
    from qa.kb import KnowledgeBase

    settings = Settings.from_env().with_(data_dir=data, seed_corpus=False, chroma_url=None,
                                         collection="eval")
    kb = KnowledgeBase(settings)
    t = time.perf_counter()
    report = kb.add(folder / "articles.jsonl")
    backend = getattr(kb.embeddings, "backend", "sentence-transformers")
    print(f"{qa.__file__}: {report.summary()} in {time.perf_counter() - t:.0f} s, "
          f"{kb.store.count_chunks()} chunks, embedder through {backend}", file=sys.stderr)
    with out.open("w") as f:
        for line in (folder / "questions.jsonl").open():
            row = json.loads(line)
            ps = kb.retrieve(row["question"], 10, as_of=row.get("date") or None)
            rank = next((n for n, p in enumerate(ps, 1) if contains_gold(p.text, row["answers"])),
                        None)
            f.write(json.dumps({"id": row["id"], "ids": [p.chunk_id for p in ps],
                                "scores": [round(p.score, 6) for p in ps], "rank": rank}) + "\n")


def compare(a: Path, b: Path) -> int:
    old = [json.loads(line) for line in a.open()]
    new = [json.loads(line) for line in b.open()]
    if [r["id"] for r in old] != [r["id"] for r in new]:
        print("not the same questions")
        return 1
    n = len(old)

    def recall(rows: list[dict], k: int) -> float:
        return sum(1 for r in rows if r["rank"] and r["rank"] <= k) / n

    same = sum(o["ids"] == x["ids"] for o, x in zip(old, new, strict=True))
    diff = max((abs(s - t) for o, x in zip(old, new, strict=True)
                for s, t in zip(o["scores"], x["scores"], strict=False)), default=0.0)
    print(f"{n} questions: the same 10 passages in the same order for {same}; "
          f"recall@5 {recall(old, 5):.4f} vs {recall(new, 5):.4f}, recall@10 "
          f"{recall(old, 10):.4f} vs {recall(new, 10):.4f}; largest score difference {diff:.1e}")
    return 0 if same == n and recall(old, 5) == recall(new, 5) else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run")
    p.add_argument("data_dir", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--set", type=Path, default=SET)
    p = sub.add_parser("compare")
    p.add_argument("a", type=Path)
    p.add_argument("b", type=Path)
    args = ap.parse_args()
    if args.cmd == "run":
        run(args.data_dir, args.out, args.set)
        return 0
    return compare(args.a, args.b)


if __name__ == "__main__":
    sys.exit(main())

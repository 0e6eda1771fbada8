"""Measure the refusal gate and the extractive answer on the eval sets and the seed article.

For every question: retrieve the top-k paragraphs-chunks by exact cosine (a stand-in for the
KB, same embedder), compute ``Evidence.best_score`` (the refusal gate's input), whether a gold
answer is in the retrieved passages, and whether the extractive answer contains it. Then sweep
the threshold and print false-refusal rate on answerable questions next to the refusal rate on
unanswerable and out-of-scope ones.

    .venv/bin/python bench/answer_refusal.py [--set realtimeqa-2023-mini] [--k 5]
"""

from __future__ import annotations

import argparse
import json
import re
import string
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from answer_helpers import EMBEDDER, DenseRetriever, seed_passages  # noqa: E402

from qa.answer.evidence import build_evidence  # noqa: E402
from qa.answer.extractive import extractive_sentences  # noqa: E402
from qa.types import Passage  # noqa: E402

EVAL = ROOT / "eval"
OUT = ROOT / "bench" / "out"

# Questions no news article of these sets answers (general knowledge / other domains).
OUT_OF_SCOPE = [
    "What is the capital of France?",
    "How many legs does a spider have?",
    "Who wrote Pride and Prejudice?",
    "What is the boiling point of water in Fahrenheit?",
    "How do I bake sourdough bread?",
    "What is the square root of 144?",
    "Who painted the Mona Lisa?",
    "What is the largest planet in the solar system?",
    "How tall is Mount Everest?",
    "What language is spoken in Brazil?",
    "What year did the Titanic sink?",
    "What is photosynthesis?",
    "Who invented the telephone?",
    "What is the chemical symbol for gold?",
    "How many players are on a soccer team?",
    "What is the speed of light?",
    "Who was the first man on the moon?",
    "What is the population of Tokyo?",
    "How do vaccines work?",
    "What is the longest river in Africa?",
]

SEED_QUESTIONS = [
    ("What did North Korea blow up?", True),
    ("How much did South Korea spend to renovate the building?", True),
    ("When was the liaison office established?", True),
    ("Who is Kim Yo Jong?", True),
    ("What happened to South Korea's won after the reports?", True),
    ("Why had the liaison office been closed since January?", True),
    ("What do North Korean defectors send into the North?", True),
    ("Where is Kaesong?", True),
    ("What did KCNA say about the office?", True),
    ("What was the building originally used for?", True),
]


def normalize(text: str) -> str:
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def contains_gold(text: str, answers: list[str]) -> bool:
    t = normalize(text)
    return any(normalize(a) and normalize(a) in t for a in answers)


def chunk_articles(path: Path, size: int = 600) -> list[Passage]:
    passages = []
    for line in path.open():
        a = json.loads(line)
        text = a["text"]
        date = (a.get("date") or "").replace("/", "-") or None
        buf_start, buf_end = None, None
        for m in re.finditer(r"[^\n]+", text):
            if buf_start is None:
                buf_start, buf_end = m.start(), m.end()
            elif m.end() - buf_start <= size:
                buf_end = m.end()
            else:
                passages.append(_p(a, text, buf_start, buf_end, date, len(passages)))
                buf_start, buf_end = m.start(), m.end()
        if buf_start is not None:
            passages.append(_p(a, text, buf_start, buf_end, date, len(passages)))
    return passages


def _p(a: dict, text: str, start: int, end: int, date: str | None, i: int) -> Passage:
    return Passage(a["id"], a["title"], a["url"], date, text[start:end], start, end, 0.0, i)


def cached_retriever(name: str, passages: list[Passage]) -> DenseRetriever:
    OUT.mkdir(parents=True, exist_ok=True)
    cache = OUT / f"{name}.vectors.npy"
    r = DenseRetriever.__new__(DenseRetriever)
    r.passages = passages
    if cache.exists() and np.load(cache).shape[0] == len(passages):
        r.vectors = np.load(cache)
    else:
        t = time.time()
        r.vectors = EMBEDDER.encode([p.text for p in passages])
        np.save(cache, r.vectors)
        print(f"embedded {len(passages)} chunks in {time.time() - t:.0f} s", file=sys.stderr)
    return r


def measure(questions: list[dict], retrieve, k: int) -> list[dict]:
    rows = []
    for q in questions:
        t = time.perf_counter()
        passages = retrieve(q["question"], k)
        ev = build_evidence(q["question"], passages, EMBEDDER.encode)
        ex = " ".join(s.text for s in extractive_sentences(ev))
        rows.append(
            {
                "id": q["id"],
                "group": q["group"],
                "best_score": round(ev.best_score, 4),
                "gold_in_topk": contains_gold(" ".join(p.text for p in passages), q["answers"])
                if q["answers"]
                else False,
                "extractive_correct": contains_gold(ex, q["answers"]) if q["answers"] else False,
                "seconds": round(time.perf_counter() - t, 4),
            }
        )
    return rows


def sweep(rows: list[dict]) -> None:
    groups = sorted({r["group"] for r in rows})
    print("threshold  " + "  ".join(f"{g}(n={sum(r['group'] == g for r in rows)})" for g in groups))
    for t in np.arange(0.20, 0.61, 0.025):
        cells = []
        for g in groups:
            rs = [r for r in rows if r["group"] == g]
            cells.append(f"{sum(r['best_score'] < t for r in rs) / len(rs):>7.0%}")
        print(f"{t:9.3f}  " + "  ".join(cells))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", default="realtimeqa-2023-mini")
    ap.add_argument("--k", type=int, default=5)
    args = ap.parse_args()
    d = EVAL / args.set
    passages = chunk_articles(d / "articles.jsonl")
    retrieve = cached_retriever(args.set, passages)
    qs = [json.loads(line) for line in (d / "questions.jsonl").open()]
    questions = [
        {"id": q["id"], "question": q["question"], "answers": q["answers"],
         "group": "answerable" if q["answerable"] else "eval-unanswerable"}
        for q in qs
    ]
    questions += [
        {"id": f"oos{i}", "question": q, "answers": [], "group": "out-of-scope"}
        for i, q in enumerate(OUT_OF_SCOPE)
    ]
    rows = measure(questions, retrieve, args.k)
    seed = DenseRetriever(seed_passages())
    seed_q = [{"id": f"seed{i}", "question": q, "answers": [], "group": "seed-answerable"}
              for i, (q, _) in enumerate(SEED_QUESTIONS)]
    seed_q += [{"id": f"seedoos{i}", "question": q, "answers": [], "group": "seed-out-of-scope"}
               for i, q in enumerate(OUT_OF_SCOPE)]
    rows += measure(seed_q, seed, args.k)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"refusal-{args.set}.json").write_text(json.dumps(rows, indent=1))
    sweep(rows)
    ans = [r for r in rows if r["group"] == "answerable"]
    hit = [r for r in ans if r["gold_in_topk"]]
    print(f"answerable: gold in top-{args.k} {len(hit)}/{len(ans)}; "
          f"extractive answer contains gold {sum(r['extractive_correct'] for r in ans)}/{len(ans)}")
    secs = sorted(r["seconds"] for r in rows)
    print(f"retrieve+evidence+extractive seconds p50 {secs[len(secs) // 2]:.3f} "
          f"p90 {secs[int(len(secs) * 0.9)]:.3f}")


if __name__ == "__main__":
    main()

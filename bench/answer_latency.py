"""Latency and quality of the answer chain, per backend, on the seed article and an eval set.

Per question: time to the extractive answer, to the first model token, to the final answer,
decode tokens/s; then correctness (gold answer in the text, eval scoring), refusals, peak RSS.
Retrieval is exact cosine over paragraph chunks (a stand-in for the KB, same embedder).

    QA_LLM=embedded .venv/bin/python bench/answer_latency.py [--set realtimeqa-2023-mini]
        [--seed-only] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from answer_helpers import DenseRetriever, seed_passages  # noqa: E402
from answer_refusal import (  # noqa: E402
    EVAL,
    OUT,
    OUT_OF_SCOPE,
    SEED_QUESTIONS,
    cached_retriever,
    chunk_articles,
    contains_gold,
)

from qa.answer import chain as answer  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.llm.backends import get_chat_model  # noqa: E402
from qa.types import ExtractiveEvent, FinalEvent, TokenEvent  # noqa: E402

SEED_GOLD = {
    "What did North Korea blow up?": ["liaison office", "office"],
    "How much did South Korea spend to renovate the building?": ["9.78 billion won"],
    "When was the liaison office established?": ["2018"],
    "Who is Kim Yo Jong?": ["sister"],
    "What happened to South Korea's won after the reports?": ["weakened"],
    "Why had the liaison office been closed since January?": ["coronavirus"],
    "What do North Korean defectors send into the North?": ["leaflets"],
    "Where is Kaesong?": ["border"],
    "What did KCNA say about the office?": ["ruined", "explosion", "scum"],
    "What was the building originally used for?": ["Kaesong Industrial Complex"],
}


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p * (len(v) - 1))))]


def run(questions: list[dict], retrieve, settings: Settings, llm) -> list[dict]:
    rows = []
    for q in questions:
        t0 = time.perf_counter()
        t_ex = t_first = None
        tokens = 0
        final = None
        for ev in answer.stream(q["question"], retrieve=retrieve, settings=settings, llm=llm):
            now = time.perf_counter() - t0
            if isinstance(ev, ExtractiveEvent):
                t_ex = now
                extractive = ev.answer
            elif isinstance(ev, TokenEvent):
                tokens += 1
                t_first = t_first if t_first is not None else now
            elif isinstance(ev, FinalEvent):
                final = ev.answer
        total = time.perf_counter() - t0
        assert final is not None
        decode = total - t_first if t_first is not None else 0
        row = {
            "id": q["id"], "group": q["group"], "question": q["question"],
            "extractive_s": round(t_ex or 0, 3),
            "first_token_s": None if t_first is None else round(t_first, 3),
            "total_s": round(total, 3), "tokens": tokens,
            "tokens_per_s": round((tokens - 1) / decode, 1) if decode > 0 and tokens > 1 else None,
            "refused": final.refused, "confidence": final.confidence,
            "answer": final.text, "raw": final.raw,
            "correct": bool(q["answers"]) and not final.refused
            and contains_gold(final.text, q["answers"]),
            "extractive_correct": bool(q["answers"]) and not extractive.refused
            and contains_gold(extractive.text, q["answers"]),
            "unsupported_sentences": sum(not s.supported for s in final.sentences),
            "corrected_sentences": sum(s.corrected for s in final.sentences),
        }
        rows.append(row)
        with (OUT / "latency-partial.jsonl").open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps({k: row[k] for k in ("id", "total_s", "refused", "correct")}),
              file=sys.stderr)
    return rows


def summary(rows: list[dict], label: str) -> str:
    lines = [f"### {label}"]
    for group in sorted({r["group"] for r in rows}):
        rs = [r for r in rows if r["group"] == group]
        gen = [r for r in rs if r["first_token_s"] is not None]
        lines.append(
            f"- {group} (n={len(rs)}): refused {sum(r['refused'] for r in rs)}/{len(rs)}"
            + (f", correct {sum(r['correct'] for r in rs)}/{len(rs)}"
               f" (extractive {sum(r['extractive_correct'] for r in rs)}/{len(rs)})"
               if any(r["correct"] or r["extractive_correct"] for r in rs)
               or "answerable" in group else "")
            + f"; extractive p50 {pct([r['extractive_s'] for r in rs], .5):.2f} s"
            f" p90 {pct([r['extractive_s'] for r in rs], .9):.2f} s"
            + (f"; first token p50 {pct([r['first_token_s'] for r in gen], .5):.2f} s"
               f" p90 {pct([r['first_token_s'] for r in gen], .9):.2f} s"
               f"; total p50 {pct([r['total_s'] for r in gen], .5):.2f} s"
               f" p90 {pct([r['total_s'] for r in gen], .9):.2f} s"
               f"; decode p50 {pct([r['tokens_per_s'] for r in gen if r['tokens_per_s']], .5)}"
               f" tok/s" if gen else "")
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", default="realtimeqa-2023-mini")
    ap.add_argument("--seed-only", action="store_true")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--skip-seed", action="store_true")
    args = ap.parse_args()
    settings = Settings.from_env()
    t = time.perf_counter()
    llm = get_chat_model(settings)
    seed = DenseRetriever(seed_passages())
    # Warm-up: model load and the system prompt's first prefill are paid once per process.
    answer.ask("What did North Korea blow up?", retrieve=seed, settings=settings, llm=llm)
    cold = time.perf_counter() - t
    seed_q = [{"id": f"seed{i}", "question": q, "answers": SEED_GOLD[q],
               "group": "seed-answerable"} for i, (q, _) in enumerate(SEED_QUESTIONS)]
    seed_q += [{"id": f"seedoos{i}", "question": q, "answers": [], "group": "seed-out-of-scope"}
               for i, q in enumerate(OUT_OF_SCOPE[:5])]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "latency-partial.jsonl").unlink(missing_ok=True)
    rows = [] if args.skip_seed else run(seed_q, seed, settings, llm)
    report = [f"backend {settings.llm}, threads {settings.llm_threads}, "
              f"{platform.machine()} {platform.processor() or ''}, {date.today()}; "
              f"cold start (load + first answer) {cold:.1f} s", summary(rows, "seed article")]
    if not args.seed_only:
        d = EVAL / args.set
        retrieve = cached_retriever(args.set, chunk_articles(d / "articles.jsonl"))
        qs = [json.loads(line) for line in (d / "questions.jsonl").open()]
        ev_q = [{"id": q["id"], "question": q["question"], "answers": q["answers"],
                 "group": "answerable" if q["answerable"] else "eval-unanswerable"} for q in qs]
        ev_q += [{"id": f"oos{i}", "question": q, "answers": [], "group": "out-of-scope"}
                 for i, q in enumerate(OUT_OF_SCOPE)]
        # Interleave groups so that a run cut short still covers each of them.
        ev_q = [q for pair in zip(ev_q[:20], ev_q[30:50], strict=True) for q in pair] + ev_q[20:30]
        if args.limit:
            ev_q = ev_q[: args.limit]
        ev_rows = run(ev_q, retrieve, settings, llm)
        rows += ev_rows
        report.append(summary(ev_rows, args.set))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    report.append(f"peak RSS {rss:.2f} GB")
    OUT.mkdir(parents=True, exist_ok=True)
    name = settings.llm.replace(":", "-")
    (OUT / f"latency-{name}.json").write_text(json.dumps(rows, indent=1))
    print("\n".join(report))


if __name__ == "__main__":
    main()

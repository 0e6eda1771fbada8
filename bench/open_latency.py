"""Latency of open answers on the shipped article, beside short-fact answers in the same run.

A store holding the shipped article, the configured model (default: the embedded 1.5B on
2 threads), and four conditions, p50 over the questions of each:

  fact        a short-fact question, after the warm-up the app does at start (the baseline)
  open cold   an open question whose article the model has not read yet
  open warm   an open question after the app's start-up read of the newest article
              (``qa.web.service.Service._warm_open_answers``)
  follow-up   an open follow-up about the article the conversation is on

Times: first token, first checked sentence shown, complete answer; each condition's p50 is
also printed as a ratio to the fact baseline measured in the same run (machines are shared
and noisy, so ratios travel better than seconds).

    .venv/bin/python bench/open_latency.py [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.answer.open_answer import warm_up  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.kb import KnowledgeBase  # noqa: E402
from qa.llm.backends import OPEN_SLOT, EmbeddedChatModel, unwrap_chat_model  # noqa: E402
from qa.types import FinalEvent, SentenceEvent, TokenEvent  # noqa: E402

FACT = [
    "How much did South Korea spend to renovate the liaison office?",
    "When was the inter-Korean liaison office established?",
    "Who is the sister of the North Korean leader?",
    "How much did the won weaken against the dollar?",
]
OPEN = [
    "Summarize the article.",
    "What is this article about?",
    "Why did North Korea blow up the office?",
    "What happens next according to the article?",
]
FOLLOW_UPS = [
    ("Summarize the article.", "Why did it happen?"),
    ("What is this article about?", "How did South Korea react?"),
    ("Why did North Korea blow up the office?", "What happens next?"),
    ("What happens next according to the article?", "Who is Kim Yo Jong?"),
]


def timed(kb: KnowledgeBase, question: str, history=None) -> dict:
    t0 = time.perf_counter()
    first_token = first_sentence = None
    final = None
    for event in kb.stream(question, history):
        now = time.perf_counter() - t0
        if isinstance(event, TokenEvent) and first_token is None:
            first_token = now
        elif isinstance(event, SentenceEvent) and first_sentence is None:
            if event.answer.shown_sentences:
                first_sentence = now
        elif isinstance(event, FinalEvent):
            final = event.answer
    total = time.perf_counter() - t0
    if final is not None and final.shape == "fact" and not final.refused:
        first_sentence = final.timings.get("first_token_kept", first_token)
    return {"question": question, "first_token": first_token, "first_sentence": first_sentence,
            "total": total, "refused": final.refused if final else None,
            "shape": final.shape if final else None,
            "shown": len(final.shown_sentences) if final else 0}


def forget_article(kb: KnowledgeBase) -> None:
    """The open answers' context forgets what it read: the next open question is cold."""
    llm = unwrap_chat_model(kb.chat_model())
    if isinstance(llm, EmbeddedChatModel):
        llm.llama_for(OPEN_SLOT).reset()


def p50(rows: list[dict], key: str) -> float | None:
    values = [r[key] for r in rows if r[key] is not None]
    return statistics.median(values) if values else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=1, help="runs of each question (default 1)")
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp(prefix="newsqa-open-bench-"))
    settings = Settings.from_env().with_(data_dir=data, seed_corpus=True, chroma_url=None)
    kb = KnowledgeBase(settings)
    kb.seed()
    doc = kb.documents()[0].doc_id
    t = time.perf_counter()
    llm = kb.chat_model()
    llm.invoke("Hello", max_tokens=1)  # load the model and read a first prompt
    load_s = time.perf_counter() - t
    kb.ask(FACT[0])  # the app's warm-up: the short-fact prompt's instructions are cached

    results: dict[str, list[dict]] = {"fact": [], "open cold": [], "open warm": [],
                                      "follow-up": []}
    for _ in range(args.repeat):
        for q in FACT:
            results["fact"].append(timed(kb, q))
        for q in OPEN:
            forget_article(kb)
            results["open cold"].append(timed(kb, q))
        for q in OPEN:
            forget_article(kb)
            warm_up(kb.chat_model(), doc, kb.document_passages, kb.embeddings.encode)
            results["open warm"].append(timed(kb, q))
        for first, follow in FOLLOW_UPS:
            answer = kb.ask(first)
            history = [("user", first), ("assistant", answer.text)]
            results["follow-up"].append(timed(kb, follow, history))

    print(f"newsqa open-answer latency: model {settings.llm}, {settings.llm_threads} threads, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; model load and "
          f"first prompt {load_s:.1f} s")
    base = {k: p50(results["fact"], k) for k in ("first_token", "first_sentence", "total")}
    print("| condition | n | first token p50 | first sentence shown p50 | complete p50 | "
          "complete / fact | answered |")
    print("|---|---|---|---|---|---|---|")
    for name, rows in results.items():
        cells = []
        for key in ("first_token", "first_sentence", "total"):
            v = p50(rows, key)
            cells.append("—" if v is None else f"{v:.2f} s")
        total = p50(rows, "total")
        ratio = f"{total / base['total']:.2f}" if total and base["total"] else "—"
        answered = sum(1 for r in rows if r["refused"] is False)
        print(f"| {name} | {len(rows)} | {' | '.join(cells)} | {ratio} | {answered}/{len(rows)} |")
    for name, rows in results.items():
        for r in rows:
            print(f"  {name:10} {r['first_token'] or 0:6.2f} {r['first_sentence'] or 0:6.2f} "
                  f"{r['total']:6.2f}  shown {r['shown']}  {r['question']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

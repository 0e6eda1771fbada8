"""Does a second, one-token model turn tell right answers from wrong ones?

For every stored reply that the quote check accepts (``qa eval``'s ``results.jsonl``), the
model is asked, in a fresh one-message prompt, whether the cited sentence (or passage) states
that the answer is the answer to the question; the probability of its first token being "yes"
(or "true"), normalised over yes/no, is read from the logits. Results: docs/answers.md ("A
second model turn as a judge"): too weak on news to keep.

Prints, per variant: how many right and wrong answers stay shown at each threshold, and
writes the per-question figures as JSON for later analysis.

    python bench/judge_answers.py eval/realtimeqa-2023 eval-results/r2023-v1/results.jsonl \
        --out eval-results/judge-2023.json
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
from llama_cpp import LogitsProcessorList

from qa.answer.evidence import build_evidence
from qa.answer.grounding import parse_reply, verify
from qa.config import Settings
from qa.eval.run import contains_gold, store_settings
from qa.kb import KnowledgeBase
from qa.llm.backends import get_chat_model

FRESH = ('Passage: {text}\nQuestion: {question}\nProposed answer: {answer}\n'
         'Does the passage state that the proposed answer is the answer to the question? '
         'Reply yes or no.')
TRUE = ('Passage: {text}\nStatement: The answer to "{question}" is {answer}.\n'
        'Is the statement true according to the passage? Reply true or false.')
VARIANTS = {
    # (template, what "text" is, answer words): a fresh one-message prompt, no cached prefix
    "fresh_sentence": (FRESH, "sentence", "yes"),
    "fresh_passage": (FRESH, "passage", "yes"),
    "true_sentence": (TRUE, "sentence", "true"),
}


def word_ids(llama, word: str) -> list[int]:
    def first(w: str) -> int:
        return llama.tokenize(w.encode(), add_bos=False, special=False)[0]

    return sorted({first(w) for w in (word, word.title(), " " + word, " " + word.title())})


OPPOSITE = {"yes": "no", "true": "false"}


def p_yes(llama, messages: list[dict], yes: list[int], no: list[int]) -> float:
    """P(yes) / (P(yes) + P(no)) at the judge turn's first token."""
    seen: dict[str, float] = {}

    def capture(_input_ids, logits):
        if "p" not in seen:
            lg = np.asarray(logits, dtype=np.float64)
            y = np.logaddexp.reduce(lg[yes])
            n = np.logaddexp.reduce(lg[no])
            seen["p"] = float(1 / (1 + math.exp(n - y)))
        return logits

    llama.create_chat_completion(messages=messages, max_tokens=1, temperature=0.0,
                                 logits_processor=LogitsProcessorList([capture]))
    return seen["p"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("results")
    ap.add_argument("--out", required=True)
    ap.add_argument("-k", type=int, default=5)
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()
    folder = Path(args.dataset)
    rows = [json.loads(line) for line in open(args.results)]
    dates = {json.loads(line)["id"]: json.loads(line).get("date")
             for line in open(folder / "questions.jsonl")}
    kb = KnowledgeBase(store_settings(folder, Settings.from_env()).with_(top_k=args.k))
    llama = get_chat_model(kb.settings).llama
    out = []
    t0 = time.perf_counter()
    for r in rows:
        if not r.get("raw"):
            continue
        q = r["question"]
        passages = kb.retrieve(q, args.k, as_of=dates.get(r["id"]))
        ev = build_evidence(q, passages, kb.embeddings.encode)
        v = verify(parse_reply(r["raw"]), ev)
        if v is None:
            continue
        right = bool(r["answerable"] and contains_gold(v.answer, r["answers"]))
        p = ev.passages[v.passage_index]
        texts = {"sentence": p.text[v.sentence_start - p.start: v.sentence_end - p.start],
                 "passage": p.text}
        row = {"id": r["id"], "right": right, "answerable": r["answerable"],
               "answer": v.answer, "question": q, "sentence": texts["sentence"]}
        for name, (template, what, word) in VARIANTS.items():
            judge = template.format(text=texts[what], answer=v.answer, question=q)
            row[name] = p_yes(llama, [{"role": "user", "content": judge}],
                              word_ids(llama, word), word_ids(llama, OPPOSITE[word]))
        out.append(row)
        print(f"{len(out):3d} {'R' if right else 'W'} "
              + " ".join(f"{row[n]:.2f}" for n in VARIANTS) + f"  {v.answer[:40]!r}",
              flush=True)
        if args.limit and len(out) >= args.limit:
            break
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(f"{len(out)} answers judged in {time.perf_counter() - t0:.0f} s")
    for name in VARIANTS:
        print(f"variant {name}:")
        for th in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
            kept = [o for o in out if o[name] >= th]
            print(f"  >= {th:.1f}: right {sum(o['right'] for o in kept):3d}  "
                  f"wrong {sum(not o['right'] for o in kept):3d}")


if __name__ == "__main__":
    main()

"""How well the support check attributes claims, on the seed article (no LLM needed).

Positives: every sentence of the article, paraphrased lightly by dropping its first clause
word and lower-casing, must be attributed to its own paragraph. Negatives: false claims in the
article's vocabulary must score below ``SUPPORT_THRESHOLD`` against every paragraph.

    .venv/bin/python bench/support_check.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from answer_helpers import seed_passages  # noqa: E402

from qa import sentence_vectors  # noqa: E402
from qa.evidence import build_evidence  # noqa: E402
from qa.support import SUPPORT_THRESHOLD, best_span  # noqa: E402

FALSE_CLAIMS = [
    "North Korea blew up a nuclear reactor in Pyongyang.",
    "South Korea spent 450 billion won to renovate the building in 2015.",
    "The liaison office was established in 1998.",
    "Kim Yo Jong is the wife of the South Korean president.",
    "South Korea's won strengthened by 5% against the dollar.",
    "The office was closed because of a typhoon.",
    "Paris is the capital of France.",
    "The Kaesong Industrial Complex was a joint venture between China and Japan.",
    "Japanese officials watched the building being blown up.",
    "Moon Jae-in ordered the demolition of the office.",
]


def main() -> None:
    passages = seed_passages()
    ev = build_evidence("liaison office", passages)
    claims = [(s.text, s.passage_index) for s in ev.sentences if len(s.text.split()) > 5]
    vecs = sentence_vectors.encode([c for c, _ in claims] + FALSE_CLAIMS)
    right = accepted = 0
    margins = []
    for (claim, own), vec in zip(claims, vecs, strict=False):
        spans = [best_span(claim, vec, ev, i) for i in range(len(passages))]
        best = max(spans, key=lambda s: s.score)
        right += best.passage_index == own
        accepted += spans[own].score >= SUPPORT_THRESHOLD
        other = max(s.score for s in spans if s.passage_index != own)
        margins.append(spans[own].score - other)
    false_ok = 0
    false_scores = []
    for claim, vec in zip(FALSE_CLAIMS, vecs[len(claims):], strict=True):
        top = max(best_span(claim, vec, ev, i).score for i in range(len(passages)))
        false_scores.append(round(top, 3))
        false_ok += top < SUPPORT_THRESHOLD
    n = len(claims)
    print(f"true claims (article sentences): attributed to own paragraph {right}/{n}, "
          f"accepted at threshold {SUPPORT_THRESHOLD}: {accepted}/{n}, "
          f"median margin over best other paragraph {sorted(margins)[n // 2]:.2f}")
    print(f"false claims rejected: {false_ok}/{len(FALSE_CLAIMS)}; their top scores {false_scores}")


if __name__ == "__main__":
    main()

"""Re-check the model's stored replies under other verification rules, without the model.

``qa eval`` keeps each question's raw model reply (``results.jsonl``). Retrieval is
deterministic, so the evidence can be rebuilt and ``qa.answer.grounding.verify`` re-run with other
settings in seconds: this is how the quote-check rules were chosen on the tuning sets
(docs/answers.md). Prints, per rule: right, wrong shown, refused. A check is turned off the way
the product does it, through ``QA_CHECKS_OFF`` (``Settings.checks_off``, which the variable
also sets for the whole run here); the floors are numbers, not checks, and are swept by setting
them on ``qa.answer.grounding``. The second look at a misread number (``qa.answer.chain``) is a
model call, so it is not replayed: a stored reply is the answer the product last checked.

    python bench/reverify.py eval/realtimeqa-2023 eval-results/realtimeqa-2023/results.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from qa.answer import grounding
from qa.answer.checks import CHECKS, Case, Verifier
from qa.answer.confidence import first_token_prob
from qa.answer.evidence import build_evidence
from qa.config import Settings
from qa.eval.run import contains_gold, load_audit, store_settings
from qa.kb import KnowledgeBase
from qa.retrieve import recency
from qa.text.dates import parse_date


def _without_quote(raw: str | None) -> str | None:
    """``raw`` as the reply ends when the schema has no quote: the JSON object's answer and
    passage only. A reply that is not such an object is kept as it was."""
    if not raw:
        return raw
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError:
        return raw
    if not isinstance(obj, dict) or "answer" not in obj:
        return raw
    return json.dumps({"answer": obj["answer"], "passage": obj.get("passage", 0)},
                      ensure_ascii=False)


def _confidence(row: dict) -> float | None:
    """The stored probability of the answer's first token (runs before it was kept: None)."""
    logprobs = row.get("answer_logprobs")
    return first_token_prob(logprobs) if logprobs else None


def _check(row: dict, evidence, verifier: Verifier):
    """``grounding.verify`` on a stored reply, under the module's current floors and with the
    checks ``verifier`` turns off."""
    if not row["raw"]:
        return None
    return grounding.verify(grounding.parse_reply(row["raw"]), evidence, _confidence(row),
                            verifier)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("results")
    ap.add_argument("-k", type=int, default=5)
    ap.add_argument("--confidence-grid", action="store_true",
                    help="score the confidence rules (grounding.MIN_CONFIDENCE, CONFIDENT and "
                    "CONFIDENT_FLOOR) on a small grid: needs a run that kept answer_logprobs")
    ap.add_argument("--drop-quote", action="store_true",
                    help="remove the model's quote from each stored JSON reply: the reply the "
                    "answer schema without a quote gets (greedy decoding writes the same "
                    "answer and passage, then stops)")
    args = ap.parse_args()
    folder = Path(args.dataset)
    rows = [json.loads(line) for line in open(args.results)]
    if args.drop_quote:
        for r in rows:
            r["raw"] = _without_quote(r.get("raw"))
    dates = {json.loads(line)["id"]: json.loads(line).get("date")
             for line in open(folder / "questions.jsonl")}
    settings = Settings.from_env()
    kb = KnowledgeBase(store_settings(folder, settings).with_(top_k=args.k))
    cases = []
    for r in rows:
        if r.get("raw") is None:
            continue
        passages = kb.retrieve(r["question"], args.k, as_of=dates.get(r["id"]))
        cases.append((r, build_evidence(r["question"], passages, kb.embeddings.encode)))

    def checks_off(*names: str) -> Verifier:
        """The verifier of these settings with ``names`` turned off too (``QA_CHECKS_OFF``)."""
        return Verifier(settings.checks_off | frozenset(names))

    as_set = checks_off()

    def score(label: str, verifier: Verifier = as_set) -> None:
        right = wrong = refused = by_code = 0
        for r, ev in cases:
            v = _check(r, ev, verifier)
            if v is None:
                refused += 1
                continue
            by_code += v.quote_by_code
            if r["answerable"] and contains_gold(v.answer, r["answers"]):
                right += 1
            else:
                wrong += 1
        n = len(cases)
        print(f"{label:40s} right {right:3d}  wrong shown {wrong:3d} ({100 * wrong / n:4.1f} %)"
              f"  refused {refused:3d}  quote by code {by_code}")

    def product(label: str, verifier: Verifier = as_set) -> None:
        """The figures ``qa eval`` would print under the rules as they are now (quote check,
        then old news), over all questions: those refused before the model count as refused."""
        asked_all = {r["id"]: r for r in rows}
        answered = {}
        for r, ev in cases:
            v = _check(r, ev, verifier)
            day = parse_date(dates.get(r["id"]))
            if v is not None and not verifier.run("old_news", Case(
                    r["question"], evidence=ev, passage=ev.passages[v.passage_index],
                    today=day, covers=kb.covers)).failed:
                answered[r["id"]] = v.answer
        right = [i for i, a in answered.items()
                 if asked_all[i]["answerable"] and contains_gold(a, asked_all[i]["answers"])]
        answerable = [i for i, r in asked_all.items() if r["answerable"]]
        supported = [i for i in answerable if i not in audit]
        unanswerable = [i for i, r in asked_all.items() if not r["answerable"]]
        n = len(rows)
        print(f"{label}: right {len(right)}/{len(answerable)}, supported right "
              f"{sum(i in supported for i in right)}/{len(supported)}, wrong shown "
              f"{len(answered) - len(right)}/{n} ({100 * (len(answered) - len(right)) / n:.1f} %),"
              f" unanswerable refused {sum(i not in answered for i in unanswerable)}/"
              f"{len(unanswerable)}, false refusals {sum(i not in answered for i in answerable)}"
              f"/{len(answerable)}")

    audit = load_audit(folder)
    product("as the product decides now")
    for check in CHECKS:
        if check.name not in settings.checks_off:
            product(f"  with {check.name} off ({check.kind})", checks_off(check.name))
    for article_floor in (0.20, 0.30):
        saved_floor, grounding.ARTICLE_FLOOR = grounding.ARTICLE_FLOOR, article_floor
        product(f"  with the one-article floor {article_floor}")
        grounding.ARTICLE_FLOOR = saved_floor
    if args.confidence_grid:
        saved = grounding.MIN_CONFIDENCE, grounding.CONFIDENT, grounding.CONFIDENT_FLOOR
        for gate in (None, 0.2, 0.3, 0.4):
            for sure, low_floor in ((None, None), (0.5, 0.3), (0.5, 0.2), (0.7, 0.3),
                                    (0.7, 0.2), (0.8, 0.2)):
                grounding.MIN_CONFIDENCE, grounding.CONFIDENT = gate, sure
                grounding.CONFIDENT_FLOOR = low_floor or grounding.RELEVANCE_FLOOR
                product(f"gate {gate}, confident {sure} floor {low_floor}")
        grounding.MIN_CONFIDENCE, grounding.CONFIDENT, grounding.CONFIDENT_FLOOR = saved
        return

    # the pre-model gate: what each threshold on Evidence.best_score would refuse
    print("gate on best_score: right answers lost / wrong answers saved / questions gated")
    verdicts = []
    for r, ev in cases:
        v = _check(r, ev, as_set)
        right = v is not None and r["answerable"] and contains_gold(v.answer, r["answers"])
        verdicts.append((ev.best_score, right, v is not None and not right))
    for gate in (0.15, 0.2, 0.25, 0.3, 0.35, 0.4):
        below = [v for v in verdicts if v[0] < gate]
        print(f"  {gate:.2f}: lost {sum(v[1] for v in below)}, saved {sum(v[2] for v in below)}, "
              f"gated {len(below)}")
    print(f"  lowest best_score of a right answer: "
          f"{min((v[0] for v in verdicts if v[1]), default=float('nan')):.3f}")

    # Old news: an answer whose cited article is older than STALE_AFTER before the day asked,
    # to a question with a time word ("this week", "recently", ...) or to any question, and
    # only when the five passages hold a recent one, or the store holds that week's articles
    # (KnowledgeBase.covers: it is fed with news), or always.
    print("old-news rules (article older than STALE_AFTER): right / wrong answers they refuse")
    rules = {
        "time word": lambda tw, recent, fed: tw,
        "time word, recent passage shown": lambda tw, recent, fed: tw and recent,
        "any question, recent passage shown": lambda tw, recent, fed: recent,
        "time word, or recent passage shown": lambda tw, recent, fed: tw or recent,
        "time word, or store holds the week (now)": lambda tw, recent, fed: tw or recent or fed,
        "any question, always": lambda tw, recent, fed: True,
    }
    for label, rule in rules.items():
        right = wrong = 0
        for r, ev in cases:
            v = _check(r, ev, as_set)
            asked = parse_date(dates.get(r["id"]))
            if v is None or asked is None:
                continue
            published = parse_date(ev.passages[v.passage_index].published)
            if published is None or asked - published <= recency.STALE_AFTER:
                continue
            recent = any(recency.is_recent(p, asked) for p in ev.passages)
            if not rule(recency.asks_recent(r["question"]), recent, kb.covers(asked)):
                continue
            if r["answerable"] and contains_gold(v.answer, r["answers"]):
                right += 1
            else:
                wrong += 1
        print(f"  {label:40s} right {right:3d}  wrong {wrong:3d}")

    base_floor = grounding.RELEVANCE_FLOOR
    for floor in (base_floor, 0.2, 0.3, 0.4, 0.5):
        grounding.RELEVANCE_FLOOR = floor
        score(f"floor {floor:.2f}")
    grounding.RELEVANCE_FLOOR = base_floor
    grounding.FIND_QUOTE_BY_CODE = False
    score("no quote by code (JSON replies)")
    grounding.FIND_QUOTE_BY_CODE = True
    score("no answer-type check", checks_off("type_check"))


if __name__ == "__main__":
    main()

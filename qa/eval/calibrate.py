"""Fit the learned calibration of short answers on stored ``qa eval`` replies, and say by
cross-validation whether it, the hand rules, or both decide best.

    python -m qa.eval.calibrate eval-results/r2024-cal eval-results/seed-cal \\
        --target 0.08 --out qa/answer/calibration.json

The rows: every short answer whose candidate quote passed all hard checks (the quote is in
the passage, the answer is in the quote...), shown or refused by a soft check. Each carries
its soft signals (``qa.answer.signals``, recorded by ``qa eval``) and its label: the text it
shows, or would have shown with its soft checks off (``would_answer``), holds a gold answer.
Every other question is refused under every rule compared here.

How the fit is chosen, without reading the rows it is judged on:

- the groups are the quiz weeks (a question id's date; a set without dates is one group):
  an answer's signals depend on the week's articles, so rows of one week never sit on both
  sides of a split;
- a logistic regression on standardised signals (its ``C`` chosen by grouped
  cross-validated log-loss), then an isotonic map fitted on cross-validated scores, so a
  probability means the share of such answers that were right;
- the threshold: the one that shows the most right answers while wrong answers shown stay
  within ``--target`` of all questions, read on the training rows' cross-validated
  probabilities;
- the rules compared (``policies``) are judged leave-one-week-out, each week's decisions made
  by a fit and a threshold chosen on the other weeks.

Approximate where a rule would change which model calls ran (a first pass the calibration
would have accepted; ``qa.eval.loo``): the row is the candidate the stored run checked last.
Needs scikit-learn (installed with sentence-transformers); answering does not.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from qa.answer.calibration import Calibration
from qa.answer.checks import CHECKS
from qa.answer.signals import FIT_SIGNALS, LOGPROB_SIGNALS, SIGNALS, vector
from qa.eval.loo import load_results
from qa.eval.run import QuestionResult, contains_gold

HARD = frozenset(c.name for c in CHECKS if c.kind == "hard")
SOFT_RULES = ("type_check", "exclusion", "rival_name", "relevance", "old_news")
"""The hand-written soft checks that can refuse a checked candidate (``related`` refuses
before the model, ``one_article`` only moves the relevance floor)."""
C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0)


@dataclass(frozen=True)
class Row:
    """One question of a stored run, as the comparison reads it."""

    set: str
    group: str
    x: tuple[float, ...] | None
    """The candidate's signals; None: no candidate passed the hard checks (never shown)."""
    right: bool
    """The candidate's text holds a gold answer (False without a candidate)."""
    hand: bool
    """Shown by the stored run (the hand rules)."""
    failed_soft: frozenset[str]


def rows_of(results: Sequence[QuestionResult], set_name: str) -> list[Row]:
    out = []
    for r in results:
        if r.shape == "open" or r.refused is None:
            continue
        group = f"{set_name}:{r.id.split('_')[0]}" if "_" in r.id else set_name
        failed = {v["check"] for v in r.checks or () if v.get("status") == "failed"}
        text = r.answer if r.refused is False else r.would_answer
        if r.signals is None or failed & HARD or not text:
            out.append(Row(set_name, group, None, False, r.refused is False, frozenset(failed)))
            continue
        right = contains_gold(text, r.answers)
        out.append(Row(set_name, group, tuple(vector(r.signals)), right, r.refused is False,
                       frozenset(failed & set(SOFT_RULES))))
    return out


def _groups_split(groups: np.ndarray, n: int):
    from sklearn.model_selection import GroupKFold

    k = min(n, len(set(groups)))
    return GroupKFold(n_splits=k) if k >= 2 else None


def _oof_scores(X: np.ndarray, y: np.ndarray, groups: np.ndarray, c: float) -> np.ndarray:
    """Each row's logistic score from a fit that did not see its group."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    out = np.zeros(len(y))
    split = _groups_split(groups, 5)
    folds = list(split.split(X, y, groups)) if split else [(np.arange(len(y)),) * 2]
    for tr, te in folds:
        if len(set(y[tr])) < 2:
            out[te] = 0.0
            continue
        sc = StandardScaler().fit(X[tr])
        lr = LogisticRegression(C=c, max_iter=2000).fit(sc.transform(X[tr]), y[tr])
        out[te] = lr.decision_function(sc.transform(X[te]))
    return out


def _log_loss(scores: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(1 / (1 + np.exp(-scores)), 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def fit(X: np.ndarray, y: np.ndarray, groups: np.ndarray, c: float | None = None,
        names: Sequence[str] = SIGNALS) -> tuple[Calibration, np.ndarray]:
    """The calibration fitted on every row given (``X``: every signal, in ``SIGNALS``' order;
    the fit reads the columns of ``names``), and each row's cross-validated probability (what
    the threshold is read from)."""
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X = X[:, [SIGNALS.index(n) for n in names]]

    if c is None:
        c = min(C_GRID, key=lambda cc: _log_loss(_oof_scores(X, y, groups, cc), y))
    oof = _oof_scores(X, y, groups, c)
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(oof, y)
    sc = StandardScaler().fit(X)
    lr = LogisticRegression(C=c, max_iter=2000).fit(sc.transform(X), y)
    scale = np.where(sc.scale_ > 0, sc.scale_, 1.0)
    cal = Calibration(
        signals=tuple(names), mean=tuple(float(v) for v in sc.mean_),
        scale=tuple(float(v) for v in scale), coef=tuple(float(v) for v in lr.coef_[0]),
        intercept=float(lr.intercept_[0]),
        iso_x=tuple(float(v) for v in iso.X_thresholds_),
        iso_y=tuple(float(v) for v in iso.y_thresholds_), threshold=0.5,
        fitted_on={"C": c})
    return cal, iso.predict(oof)


def pick_threshold(prob: np.ndarray, right: np.ndarray, keep: np.ndarray, n_questions: int,
                   target: float) -> float:
    """The threshold that shows the most right answers while the wrong ones shown stay within
    ``target`` of ``n_questions`` (ties: the higher threshold). ``keep``: the rows the other
    rules of the policy let through."""
    best_t, best = 1.01, (-1, 0)
    for t in sorted(set(prob.tolist())) + [1.01]:
        shown = keep & (prob >= t)
        wrong = int(np.sum(shown & ~right))
        good = int(np.sum(shown & right))
        if wrong <= target * n_questions and (good, t) > best:
            best_t, best = t, (good, t)
    return best_t


def _policies() -> list[tuple[str, bool, tuple[str, ...]]]:
    """(name, uses the calibration, hand checks kept)."""
    out = [("hand rules (as shipped before)", False, SOFT_RULES),
           ("calibration alone", True, ()),
           ("calibration + every hand rule", True, SOFT_RULES)]
    out += [(f"calibration + {c}", True, (c,)) for c in SOFT_RULES]
    out += [(f"calibration + every hand rule but {c}", True,
             tuple(x for x in SOFT_RULES if x != c)) for c in SOFT_RULES]
    return out


def _keep(rows: Sequence[Row], kept: tuple[str, ...]) -> np.ndarray:
    return np.array([r.x is not None and not (r.failed_soft & set(kept)) for r in rows])


def cross_validate(rows: Sequence[Row], target: float, c: float,
                   names: Sequence[str] = SIGNALS) -> list[dict]:
    """Each policy's figures on all questions, leave-one-week-out, the calibration reading
    the signals ``names``."""
    groups = np.array([r.group for r in rows])
    right = np.array([r.right for r in rows])
    table = []
    for name, learned, kept in _policies():
        keep = _keep(rows, kept)
        if not learned:
            shown = np.array([r.hand for r in rows])
        else:
            shown = np.zeros(len(rows), dtype=bool)
            for g in sorted(set(groups)):
                tr = (groups != g) & np.array([r.x is not None for r in rows])
                te = (groups == g) & keep
                if not te.any():
                    continue
                Xtr = np.array([rows[i].x for i in np.flatnonzero(tr)])
                cal, prob = fit(Xtr, right[tr].astype(int), groups[tr], c, names)
                t = pick_threshold(prob, right[tr], keep[tr], int(np.sum(groups != g)), target)
                for i in np.flatnonzero(te):
                    sig = dict(zip(SIGNALS, rows[i].x, strict=True))
                    shown[i] = cal.probability(sig) >= t
        n = len(rows)
        table.append({"policy": name, "shown": int(shown.sum()),
                      "right": int(np.sum(shown & right)), "wrong": int(np.sum(shown & ~right)),
                      "questions": n})
    return table


def markdown(table: Sequence[dict]) -> list[str]:
    lines = ["| rule | shown | right (of all) | wrong shown (of all) |", "|---|---|---|---|"]
    for t in table:
        n = t["questions"]
        lines.append(f"| {t['policy']} | {t['shown']} | {t['right']} ({t['right'] / n:.1%}) | "
                     f"{t['wrong']} ({t['wrong'] / n:.1%}) |")
    return lines


def risk_coverage(prob: np.ndarray, right: np.ndarray, n_questions: int,
                  points: int = 8) -> list[tuple[float, int, int]]:
    """(threshold, right shown, wrong shown) at evenly spaced thresholds of the
    cross-validated probabilities."""
    out = []
    for t in np.quantile(prob, np.linspace(0, 0.9, points)):
        shown = prob >= t
        out.append((float(t), int(np.sum(shown & right)), int(np.sum(shown & ~right))))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qa.eval.calibrate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="+", type=Path,
                    help="qa eval result folders (results.jsonl), made with signals recorded")
    ap.add_argument("--target", type=float, default=0.08,
                    help="wrong answers shown, as a share of all questions (default 0.08)")
    ap.add_argument("--keep", default="all",
                    help="the hand soft checks the shipped fit keeps deciding beside it: "
                         "'all' (default), 'none', or comma-separated names")
    ap.add_argument("--out", type=Path, help="write the fitted calibration here (JSON)")
    args = ap.parse_args(argv)
    rows: list[Row] = []
    for folder in args.results:
        name = folder.name
        rows += rows_of(load_results(folder), name)
    pool = [r for r in rows if r.x is not None]
    if len({r.right for r in pool}) < 2:
        print("error: the rows need both right and wrong candidates with signals "
              "(run qa eval with this version first)", file=sys.stderr)
        return 2
    X = np.array([r.x for r in pool])
    y = np.array([r.right for r in pool]).astype(int)
    groups = np.array([r.group for r in pool])
    kept = (SOFT_RULES if args.keep == "all" else () if args.keep == "none" else
            tuple(n.strip() for n in args.keep.split(",") if n.strip()))
    keep = _keep(pool, kept)
    print(f"{len(rows)} questions, {len(pool)} checked candidates ({int(y.sum())} right), "
          f"{len({r.group for r in rows})} weeks; target: wrong answers shown <= "
          f"{args.target:.0%} of all questions; hand rules kept beside it: "
          f"{', '.join(kept) or 'none'}")
    fits = []
    for label, names in (("every signal", FIT_SIGNALS),
                         ("no token probabilities",
                          tuple(n for n in FIT_SIGNALS if n not in LOGPROB_SIGNALS))):
        cal, prob = fit(X, y, groups, names=names)
        c = cal.fitted_on["C"]
        t = pick_threshold(prob, y.astype(bool), keep, len(rows), args.target)
        table = cross_validate(rows, args.target, c, names)
        print(f"\n## The fit on {label}: C={c}, threshold {t:.3f}\n")
        print("leave-one-week-out, on all questions:\n")
        print("\n".join(markdown(table)))
        print("\nrisk-coverage (cross-validated probabilities, every candidate):\n")
        print("| threshold | right shown | wrong shown |\n|---|---|---|")
        for th, good, bad in risk_coverage(prob, y.astype(bool), len(rows)):
            print(f"| {th:.3f} | {good} | {bad} |")
        print("\nweights (standardised signals):")
        for name, w in sorted(zip(names, cal.coef, strict=True), key=lambda p: -abs(p[1])):
            print(f"  {name:22s} {w:+.3f}")
        fits.append(replace(cal, threshold=float(t), target=args.target, fitted_on={
            "C": c, "sets": sorted({r.set for r in rows}), "questions": len(rows),
            "candidates": len(pool), "right": int(y.sum()),
            "weeks": len({r.group for r in rows}), "hand_rules_kept": list(kept),
            "cross_validated": table}))
    if args.out:
        shipped = replace(fits[0], without_logprobs=fits[1])
        args.out.write_text(shipped.to_json() + "\n")
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

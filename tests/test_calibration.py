"""The learned calibration: its fit (``qa.eval.calibrate``), the file it ships as, and the
``calibrated`` check that reads it in the answer chain."""

from __future__ import annotations

import json

import numpy as np
import pytest
from answer_helpers import EMBEDDER, DenseRetriever, seed_passages

from qa.answer.calibration import SHIPPED, Calibration, load
from qa.answer.chain import ask
from qa.answer.signals import FIT_SIGNALS, LOGPROB_SIGNALS, SIGNALS, UNFITTED_SIGNALS
from qa.config import Settings
from qa.errors import ConfigError
from qa.eval import calibrate
from qa.llm.fake import FakeChatModel

QUESTION = "How much did South Korea spend to renovate the building?"
REPLY = json.dumps({"answer": "9.78 billion won", "passage": 1})


def _rows(n: int = 240, seed: int = 0):
    """Synthetic candidates whose rightness follows relevance and the type check."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(SIGNALS)))
    rel, typ = SIGNALS.index("relevance"), SIGNALS.index("type_ok")
    X[:, typ] = rng.random(n) > 0.2
    logit = 2.5 * X[:, rel] + 2.0 * (X[:, typ] - 0.5)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    groups = np.array([f"w{i % 6}" for i in range(n)])
    return X, y, groups


def test_the_fit_learns_the_signals_direction_and_survives_its_file(tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X, y, groups = _rows()
    cal, oof = calibrate.fit(X, y, groups)
    assert cal.fitted_on["C"] in calibrate.C_GRID and len(oof) == len(y)
    # the score is scikit-learn's own logistic regression on the standardised signals
    sc = StandardScaler().fit(X)
    lr = LogisticRegression(C=cal.fitted_on["C"], max_iter=2000).fit(sc.transform(X), y)
    rows = [dict(zip(SIGNALS, x, strict=True)) for x in X[:20]]
    assert np.allclose([cal.score(r) for r in rows], lr.decision_function(sc.transform(X[:20])))
    # the isotonic map keeps the order of the scores and gives shares in [0, 1]
    probs = [cal.probability(r) for r in rows]
    order = np.argsort([cal.score(r) for r in rows])
    assert all(0 <= p <= 1 for p in probs)
    assert all(np.diff(np.array(probs)[order]) >= -1e-12)
    # more relevance, more likely right
    base = dict(zip(SIGNALS, X.mean(axis=0), strict=True))
    assert cal.probability({**base, "relevance": 2.0}) > cal.probability(
        {**base, "relevance": -2.0})
    path = tmp_path / "cal.json"
    path.write_text(cal.to_json())
    again = Calibration.from_dict(json.loads(path.read_text()))
    assert [again.probability(r) for r in rows] == probs


def test_the_threshold_is_the_most_right_answers_within_the_target():
    prob = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    right = np.array([True, True, False, True, False, False])
    keep = np.ones(6, dtype=bool)
    # 10 questions, target 10 %: at most one wrong answer shown
    assert calibrate.pick_threshold(prob, right, keep, 10, 0.10) == 0.6
    assert calibrate.pick_threshold(prob, right, keep, 10, 0.0) == 0.8
    # a hand rule that refuses the first row: the threshold can go no lower for it
    keep[0] = False
    assert calibrate.pick_threshold(prob, right, keep, 10, 0.10) == 0.6


def _calibration(threshold: float) -> Calibration:
    """A fit that reads only the quote's relevance (a plain logistic: no isotonic knots)."""
    return Calibration(signals=("relevance",), mean=(0.0,), scale=(1.0,), coef=(1.0,),
                       intercept=0.0, iso_x=(), iso_y=(), threshold=threshold)


def _ask(settings: Settings):
    return ask(QUESTION, retrieve=DenseRetriever(seed_passages()), settings=settings,
               llm=FakeChatModel(function=lambda messages: REPLY), embedder=EMBEDDER)


def test_the_calibrated_check_refuses_under_its_threshold_and_says_why(tmp_path):
    strict, lax = tmp_path / "strict.json", tmp_path / "lax.json"
    strict.write_text(_calibration(1.01).to_json())
    lax.write_text(_calibration(0.0).to_json())
    shown = _ask(Settings().with_(calibration=str(lax)))
    assert not shown.refused and shown.text.startswith("9.78 billion won")
    verdict = shown.checks[-1]
    assert verdict.check == "calibrated" and verdict.status == "passed"
    assert shown.calibrated == pytest.approx(1 / (1 + np.exp(-shown.signals["relevance"])),
                                             abs=1e-4)
    refused = _ask(Settings().with_(calibration=str(strict)))
    assert refused.refused and refused.refused_by == "calibrated"
    assert refused.refusal_reason.startswith("calibrated: the learned calibration gives it")
    assert refused.would_answer == shown.text
    off = _ask(Settings().with_(calibration="off"))
    assert not off.refused and off.checks[-1].status == "not_checked" and off.calibrated is None
    # turned off as any check is
    unchecked = _ask(Settings().with_(calibration=str(strict),
                                      checks_off=frozenset({"calibrated"})))
    assert not unchecked.refused


def test_a_backend_without_token_probabilities_gets_the_fit_without_them(tmp_path):
    with_lp = Calibration(signals=("first_token_p",), mean=(0.0,), scale=(1.0,), coef=(1.0,),
                          intercept=0.0, iso_x=(), iso_y=(), threshold=1.01,
                          without_logprobs=_calibration(0.0))
    path = tmp_path / "two.json"
    path.write_text(with_lp.to_json())
    answer = _ask(Settings().with_(calibration=str(path)))  # the fake model gives none
    assert answer.signals["logprobs_known"] == 0.0
    assert not answer.refused and answer.checks[-1].status == "passed"


def test_a_calibration_setting_that_names_no_file_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("QA_CALIBRATION", str(tmp_path / "missing.json"))
    with pytest.raises(ConfigError, match="QA_CALIBRATION"):
        Settings.from_env()
    bad = tmp_path / "bad.json"
    bad.write_text('{"signals": ["relevance"]}')
    load.cache_clear()
    with pytest.raises(Exception, match="is not a calibration"):
        load(str(bad))


def test_the_refit_command_reads_stored_replies_and_writes_a_fit(tmp_path, capsys):
    X, y, groups = _rows(160)
    folder = tmp_path / "run"
    folder.mkdir()
    lines = []
    for i, (x, right) in enumerate(zip(X, y, strict=True)):
        refused = bool(i % 4 == 0)
        text = "Sesame seeds [1]" if right else "Chia seeds [1]"
        lines.append(json.dumps({
            "id": f"2024010{i % 6}_{i}", "question": "Which seed?", "answers": ["Sesame seeds"],
            "answerable": True, "qtype": "which", "first_hit_rank": 1, "timings": {},
            "answer": "Not in the articles." if refused else text, "refused": refused,
            "correct": (not refused) and bool(right), "shape": "fact",
            "would_answer": text if refused else None,
            "checks": [{"check": "relevance", "status": "failed" if refused else "passed",
                        "reason": "", "features": {}}],
            "signals": dict(zip(SIGNALS, map(float, x), strict=True))}))
    (folder / "results.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "fit.json"
    assert calibrate.main([str(folder), "--target", "0.1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| hand rules (as shipped before) |" in printed and "risk-coverage" in printed
    fitted = Calibration.from_dict(json.loads(out.read_text()))
    # the article's age is recorded but never fitted (it says which set a row came from)
    assert fitted.signals == FIT_SIGNALS and fitted.target == 0.1
    assert not set(fitted.signals) & set(UNFITTED_SIGNALS)
    assert fitted.without_logprobs is not None
    assert not set(fitted.without_logprobs.signals) & set(LOGPROB_SIGNALS)
    assert fitted.fitted_on["questions"] == 160 and fitted.fitted_on["weeks"] == 6


def test_the_shipped_calibration_if_any_loads_and_reads_the_signals_recorded():
    # Without a shipped fit the check says "not checked" and the hand rules alone decide.
    load.cache_clear()
    shipped = load()
    if not SHIPPED.is_file():
        assert shipped is None
        answer = _ask(Settings())
        assert answer.checks[-1].check == "calibrated"
        assert answer.checks[-1].status == "not_checked" and not answer.refused
        return
    assert shipped is not None
    assert set(shipped.signals) <= set(SIGNALS) and 0 < shipped.threshold < 1
    assert shipped.without_logprobs is not None
    assert shipped.fitted_on["sets"] and shipped.fitted_on["cross_validated"]
    # the fake model's scripted replies are not what the fit learned from: not checked,
    # unless QA_CALIBRATION names the file, which then applies to any generator
    scripted = _ask(Settings())
    assert scripted.checks[-1].status == "not_checked" and scripted.calibrated is None
    assert "fake model" in scripted.checks[-1].reason
    named = _ask(Settings().with_(calibration=str(SHIPPED)))
    assert named.checks[-1].status in ("passed", "failed") and named.calibrated is not None
    assert named.checks[-1].features["threshold"] == shipped.without_logprobs.threshold


@pytest.mark.slow
def test_the_shipped_fit_is_refitted_byte_for_byte_from_the_replies_in_the_repo(tmp_path):
    # eval/calibration/README.md: the one documented command, on the stored replies alone
    from testdata import ROOT

    runs = sorted(p for p in (ROOT / "eval" / "calibration").iterdir() if p.is_dir())
    out = tmp_path / "fit.json"
    assert calibrate.main([*map(str, runs), "--out", str(out)]) == 0
    assert out.read_bytes() == SHIPPED.read_bytes()

"""The learned calibration of short answers: how likely a checked answer is right, from its
soft signals (``qa.answer.signals``), and the threshold under which it is not shown.

A logistic regression on the standardised signals gives a score; an isotonic map, fitted on
cross-validated predictions, turns the score into the share of such answers that were right.
Both are fitted by ``python -m qa.eval.calibrate`` on stored ``qa eval`` replies, chosen by
cross-validation grouped by week, the threshold read from the risk-coverage curve for a stated
target of wrong answers shown (docs/answers.md, "The learned calibration"). The fit ships as
``calibration.json`` beside this module: plain numbers, read with the standard library and
numpy, so answering needs no scikit-learn and no pickle.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.answer.signals import vector

SHIPPED = Path(__file__).with_name("calibration.json")
"""The calibration the package ships (``QA_CALIBRATION`` names another, or ``off``)."""


@dataclass(frozen=True)
class Calibration:
    """A fitted calibration: what ``probability`` needs, and what it was fitted on."""

    signals: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    iso_x: tuple[float, ...]
    """The isotonic map's knots: logistic scores, increasing."""
    iso_y: tuple[float, ...]
    """The share of right answers at each knot (non-decreasing)."""
    threshold: float
    """An answer whose probability is under this is refused by the ``calibrated`` check."""
    target: float = 0.0
    """The stated target: wrong answers shown, as a share of all questions."""
    fitted_on: dict = field(default_factory=dict, compare=False)
    """The sets and row counts the fit read, and its cross-validated figures (for the docs)."""
    without_logprobs: Calibration | None = None
    """The fit without the token-probability signals, for an answer whose backend gave none
    (``signals.LOGPROB_SIGNALS``)."""

    def pick(self, signals: Mapping[str, float]) -> Calibration:
        """The fit for these signals: this one, or the one without token probabilities when
        the backend gave none."""
        if signals.get("logprobs_known", 1.0) == 0.0 and self.without_logprobs is not None:
            return self.without_logprobs
        return self

    def score(self, signals: Mapping[str, float]) -> float:
        x = (np.asarray(vector(signals, self.signals)) - np.asarray(self.mean)) / np.asarray(
            self.scale)
        return float(x @ np.asarray(self.coef) + self.intercept)

    def probability(self, signals: Mapping[str, float]) -> float:
        """The calibrated probability that an answer with these signals is right: the
        isotonic map of the logistic score (linear between knots, flat beyond them, as
        scikit-learn's ``IsotonicRegression.predict`` with ``out_of_bounds="clip"``)."""
        s = self.score(signals)
        if not self.iso_x:
            return 1.0 / (1.0 + math.exp(-s))
        return float(np.interp(s, self.iso_x, self.iso_y))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_dict(cls, d: Mapping) -> Calibration:
        n = len(d["signals"])
        if not (len(d["mean"]) == len(d["scale"]) == len(d["coef"]) == n
                and len(d["iso_x"]) == len(d["iso_y"])):
            raise ValueError("its lists differ in length")
        other = d.get("without_logprobs")
        return cls(tuple(d["signals"]), tuple(d["mean"]), tuple(d["scale"]), tuple(d["coef"]),
                   float(d["intercept"]), tuple(d["iso_x"]), tuple(d["iso_y"]),
                   float(d["threshold"]), float(d.get("target", 0.0)),
                   dict(d.get("fitted_on") or {}),
                   cls.from_dict(other) if other else None)


@lru_cache(maxsize=4)
def load(path: str | None = None) -> Calibration | None:
    """The calibration at ``path`` (default: the shipped one); None when ``path`` is "off" or
    the shipped file is absent. A named file that cannot be read is an error, said once."""
    from qa.errors import QAError

    if path == "off":
        return None
    target = Path(path) if path else SHIPPED
    if not target.is_file():
        if path:
            raise QAError(f"QA_CALIBRATION: {target} is not a file")
        return None
    try:
        return Calibration.from_dict(json.loads(target.read_text()))
    except (ValueError, KeyError, TypeError) as exc:
        raise QAError(f"QA_CALIBRATION: {target} is not a calibration ({exc})") from exc



def for_generator(path: str | None, scripted: bool) -> Calibration | None:
    """The calibration the ``calibrated`` check reads for one generator's answers.

    The shipped fit learned when a real model's answers were wrong; a ``scripted`` generator's
    replies (``qa.llm.fake.FakeChatModel``: tests and demos of the plumbing) are no such
    answers, so they are checked against the shipped fit only when ``QA_CALIBRATION`` names
    it. A named file applies to every generator."""
    if not path and scripted:
        return None
    return load(path or None)

"""Paths to the data tests read: the shipped seed article and the evaluation sets in eval/.

Everything a test reads lives in this repository, so a clean clone with nothing beside it
runs the whole suite.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "north-korea-liaison-office.txt"
EVAL = ROOT / "eval"
EVAL_MINI = EVAL / "realtimeqa-2023-mini"
SEED_PARAPHRASES = EVAL / "seed-paraphrases"
OPEN_SEED = EVAL / "open-questions" / "seed"

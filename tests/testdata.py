"""Paths to the data tests read: the shipped seed article and the eval sets in eval/."""

from qa.config import PROJECT_ROOT

SEED = PROJECT_ROOT / "corpus" / "north-korea-liaison-office.txt"
EVAL_MINI = PROJECT_ROOT / "eval" / "realtimeqa-2023-mini"
SEED_PARAPHRASES = PROJECT_ROOT / "eval" / "seed-paraphrases"

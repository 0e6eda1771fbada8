"""Paths to the data tests read: the shipped seed article and the shared eval sets."""

from qa.config import PROJECT_ROOT

SEED = PROJECT_ROOT / "corpus" / "north-korea-liaison-office.txt"
SHARED = PROJECT_ROOT.parent / "shared"
EVAL_MINI = SHARED / "eval" / "realtimeqa-2023-mini"

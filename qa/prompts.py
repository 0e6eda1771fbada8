"""Load prompt templates from ``prompts/`` so wording can be changed without touching code."""

from __future__ import annotations

import functools
from pathlib import Path

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"


@functools.cache
def load_prompt(name: str) -> str:
    """Text of ``prompts/<name>.txt`` with the trailing newline removed."""
    path = PROMPTS_DIR / f"{name}.txt"
    try:
        return path.read_text(encoding="utf-8").rstrip("\n")
    except FileNotFoundError:
        raise FileNotFoundError(f"prompt file missing: {path}") from None

"""Load prompt templates, so wording can be changed without touching code.

The top-level ``prompts/`` folder is the one source. A built wheel carries it as package data
(``qa/_prompts``, mapped in pyproject.toml); a source checkout or an editable install reads
``prompts/`` itself.
"""

from __future__ import annotations

import functools

from qa.config import PACKAGE_DIR, PROJECT_ROOT

_PACKAGED = PACKAGE_DIR / "_prompts"
PROMPTS_DIR = _PACKAGED if _PACKAGED.is_dir() else PROJECT_ROOT / "prompts"


@functools.cache
def load_prompt(name: str) -> str:
    """Text of ``prompts/<name>.txt`` with the trailing newline removed."""
    path = PROMPTS_DIR / f"{name}.txt"
    try:
        return path.read_text(encoding="utf-8").rstrip("\n")
    except FileNotFoundError:
        raise FileNotFoundError(f"prompt file missing: {path}") from None

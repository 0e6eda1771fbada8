"""Backend selection and the packaged model files (fast; no model is loaded)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from langchain_openai import ChatOpenAI

from qa.config import Settings
from qa.llm import model_files
from qa.llm.backends import EmbeddedChatModel, get_chat_model, parse_spec
from qa.llm.fake import FakeChatModel


@pytest.mark.parametrize(
    ("spec", "backend", "model"),
    [
        ("embedded", "embedded", ""),
        ("embedded:0.5b", "embedded", "0.5b"),
        ("openai:gpt-4o-mini", "openai", "gpt-4o-mini"),
        ("ollama:qwen2.5:7b", "ollama", "qwen2.5:7b"),
        ("fake", "fake", ""),
    ],
)
def test_parse_spec(spec: str, backend: str, model: str) -> None:
    parsed = parse_spec(spec)
    assert (parsed.backend, parsed.model) == (backend, model)


@pytest.mark.parametrize("spec", ["gpt4", "openai", "ollama:"])
def test_bad_spec_is_a_clear_error(spec: str) -> None:
    with pytest.raises(ValueError, match="QA_LLM"):
        parse_spec(spec)


def test_openai_reads_base_url_and_key_from_env(monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    llm = get_chat_model(Settings.from_env().with_(llm="openai:local-model"))
    assert isinstance(llm, ChatOpenAI)
    assert llm.model_name == "local-model"
    assert llm.openai_api_base == "http://127.0.0.1:9/v1"


def test_ollama_backend_builds_without_a_server() -> None:
    from langchain_ollama import ChatOllama

    llm = get_chat_model(Settings().with_(llm="ollama:qwen2.5:1.5b"))
    assert isinstance(llm, ChatOllama) and llm.model == "qwen2.5:1.5b"


def test_fake_backend() -> None:
    assert isinstance(get_chat_model(Settings().with_(llm="fake")), FakeChatModel)


def test_embedded_uses_model_path_override_without_loading(tmp_path: Path) -> None:
    gguf = tmp_path / "x.gguf"
    gguf.write_bytes(b"GGUF")
    settings = Settings().with_(llm="embedded", llm_model_path=gguf, llm_threads=3, llm_ctx=1024)
    llm = get_chat_model(settings)
    assert isinstance(llm, EmbeddedChatModel)
    assert (llm.model_path, llm.n_threads, llm.n_ctx) == (str(gguf), 3, 1024)


def test_smollm2_is_found_inside_its_package(tmp_path: Path) -> None:
    path = model_files.ensure_model("smollm2", tmp_path)
    assert path.name.endswith(".gguf") and path.stat().st_size > 50_000_000


def _fake_spec(monkeypatch, tmp_path: Path, parts: list[bytes], sha: str):
    files = []
    for i, data in enumerate(parts):
        f = tmp_path / f"part{i}.bin"
        f.write_bytes(data)
        files.append(f)
    spec = model_files.ModelSpec("tiny", "tiny.gguf", ("a", "b"), sha)
    monkeypatch.setitem(model_files.MODELS, "tiny", spec)
    monkeypatch.setitem(model_files.ALIASES, "tiny", "tiny")
    monkeypatch.setattr(model_files, "part_paths", lambda s: files)
    return spec


def test_parts_are_joined_once_and_hash_checked(monkeypatch, tmp_path: Path) -> None:
    parts = [b"hello ", b"world"]
    sha = hashlib.sha256(b"".join(parts)).hexdigest()
    _fake_spec(monkeypatch, tmp_path, parts, sha)
    data = tmp_path / "data"
    path = model_files.ensure_model("tiny", data)
    assert path.read_bytes() == b"hello world"
    # Second call trusts the marker: the parts are not read again.
    monkeypatch.setattr(model_files, "part_paths", lambda s: pytest.fail("re-joined"))
    assert model_files.ensure_model("tiny", data) == path


def test_hash_mismatch_leaves_no_file(monkeypatch, tmp_path: Path) -> None:
    _fake_spec(monkeypatch, tmp_path, [b"tampered"], "0" * 64)
    data = tmp_path / "data"
    with pytest.raises(model_files.ModelFileError, match="expected"):
        model_files.ensure_model("tiny", data)
    assert list(data.iterdir()) == []


def test_missing_package_names_the_pip_command(monkeypatch) -> None:
    monkeypatch.setattr(model_files.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(model_files.ModelFileError, match="pip install"):
        model_files.part_paths(model_files.MODELS["0.5b"])


def test_a_model_file_without_a_chat_template_gets_the_answer_grammar(monkeypatch) -> None:
    """The answer-only decoding builds its prompt from the GGUF's chat template; a model file
    without one (QA_LLM_MODEL_PATH) is held to the answer's JSON grammar instead."""
    from types import SimpleNamespace

    from qa.answer.grounding import answer_schema

    llm = EmbeddedChatModel.model_construct(model_path="none.gguf")
    monkeypatch.setattr(EmbeddedChatModel, "llama", SimpleNamespace(metadata={}))
    assert llm._answer_options({"answer_passages": 3, "max_tokens": 9}) == {
        "json_schema": answer_schema(3), "max_tokens": 9}
    monkeypatch.setattr(EmbeddedChatModel, "llama",
                        SimpleNamespace(metadata={"tokenizer.chat_template": "{{ x }}"}))
    assert llm._answer_options({"answer_passages": 3}) == {"answer_passages": 3}
    assert llm._answer_options({"max_tokens": 9}) == {"max_tokens": 9}

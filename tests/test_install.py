"""Installing and configuring: defaults that follow the user, not the source tree; one model
cache per machine; no environment changes on import; the sample article only when asked."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import scaled
from testdata import SEED

from qa.cli import main
from qa.config import OFFLINE_ENV, Settings
from qa.kb import KnowledgeBase, open_kb
from qa.llm import model_files

QA_VARS = ("QA_DATA_DIR", "QA_MODELS_DIR", "QA_CORPUS_DIR", "QA_SEED_CORPUS", "QA_HOST",
           "QA_PORT", "QA_TOP_K", "GRADIO_SERVER_NAME", "GRADIO_SERVER_PORT", "XDG_CACHE_HOME")


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No QA_* settings, a private cache folder, and a current folder of our own."""
    for name in QA_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def test_import_qa_leaves_the_environment_alone():
    env = {k: v for k, v in os.environ.items() if k not in OFFLINE_ENV}
    code = ("import os; before = dict(os.environ); import qa, qa.kb, qa.cli, qa.llm.backends, "
            "qa.eval.run; qa.Settings.from_env(); assert dict(os.environ) == before, "
            "sorted(set(os.environ) - set(before))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=scaled(120))
    assert out.returncode == 0, out.stderr


def test_entry_point_sets_the_offline_flags(monkeypatch, clean_env, capsys):
    for name in OFFLINE_ENV:
        monkeypatch.delenv(name, raising=False)
    assert main(["list"]) == 0
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"


def test_defaults_follow_the_current_folder_and_the_user_cache(clean_env, tmp_path):
    for settings in (Settings.from_env(), Settings()):
        assert settings.data_dir == clean_env / "data"
        assert settings.models_dir == tmp_path / "cache" / "newsqa" / "models"
        assert settings.seed_corpus is False
        assert (settings.corpus_dir / SEED.name).is_file()


def test_models_dir_does_not_follow_the_store(clean_env, monkeypatch, tmp_path):
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "store"))
    settings = Settings.from_env()
    assert settings.data_dir == tmp_path / "store"
    assert not settings.models_dir.is_relative_to(settings.data_dir)
    monkeypatch.setenv("QA_MODELS_DIR", str(tmp_path / "models"))
    assert Settings.from_env().models_dir == tmp_path / "models"


def test_gradio_server_variables_count_when_ours_are_unset(clean_env, monkeypatch):
    assert (Settings.from_env().host, Settings.from_env().port) == ("127.0.0.1", 7860)
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "8080")
    assert (Settings.from_env().host, Settings.from_env().port) == ("0.0.0.0", 8080)
    monkeypatch.setenv("QA_HOST", "127.0.0.2")
    monkeypatch.setenv("QA_PORT", "7000")
    assert (Settings.from_env().host, Settings.from_env().port) == ("127.0.0.2", 7000)


def test_help_tells_the_truth(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "QA_DATA_DIR, else ./data in the current folder" in text
    assert "serve" in text
    with pytest.raises(SystemExit):
        main(["search", "--help"])
    assert "default: QA_TOP_K, else 5" in " ".join(capsys.readouterr().out.split())


def test_search_k_defaults_to_qa_top_k(seeded_kb, monkeypatch, capsys):
    monkeypatch.setenv("QA_TOP_K", "2")
    data = str(seeded_kb.settings.data_dir)
    assert main(["--data-dir", data, "search", "--json", "Why was the office closed?"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
    assert main(["--data-dir", data, "search", "--json", "-k", "1", "Why?"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1


def test_the_sample_article_is_added_only_when_asked(clean_env, tmp_path, capsys):
    story = tmp_path / "my.txt"
    story.write_text("Ferry resumes\n\nThe island ferry resumed service on Friday.\n")
    assert main(["add", str(story)]) == 0
    assert "added 1, unchanged 0" in capsys.readouterr().out
    assert main(["list", "--json"]) == 0
    assert [d["title"] for d in json.loads(capsys.readouterr().out)] == ["Ferry resumes"]
    assert (clean_env / "data").is_dir()  # ./data of the current folder

    assert main(["--data-dir", str(tmp_path / "demo"), "--with-sample", "list", "--json"]) == 0
    out = capsys.readouterr()
    assert "also added the sample article" in out.err and "QA_SEED_CORPUS=0" in out.err
    assert json.loads(out.out)[0]["title"].startswith("North Korea")

    # Python and the web app agree: nothing unless asked, the sample when asked
    assert open_kb(tmp_path / "py").documents() == []
    kb = open_kb(tmp_path / "py-demo", seed=True)
    assert [d.title for d in kb.documents()] == [SEED.read_text().splitlines()[0].strip()]
    from qa.web import Service

    assert Service.from_env(Settings.from_env().with_(data_dir=tmp_path / "web")).documents() \
        == []


def _fake_packaged_model(monkeypatch, tmp_path: Path) -> list[int]:
    """Swap the packaged 1.5B model for two tiny byte slices; count the joins."""
    parts = [b"GGUF fake ", b"model bytes"]
    files = []
    for i, data in enumerate(parts):
        files.append(tmp_path / f"slice{i}.bin")
        files[-1].write_bytes(data)
    sha = hashlib.sha256(b"".join(parts)).hexdigest()
    real = model_files.MODELS["1.5b"]
    monkeypatch.setitem(model_files.MODELS, "1.5b", model_files.ModelSpec(
        "1.5b", real.filename, ("a", "b"), sha))
    joins = []
    monkeypatch.setattr(model_files, "part_paths", lambda spec: joins.append(1) or files)
    return joins


def test_a_store_folder_never_holds_a_model_copy(clean_env, monkeypatch, tmp_path):
    joins = _fake_packaged_model(monkeypatch, tmp_path)
    paths = []
    for name in ("news", "papers", "memos"):  # three corpora, one model file
        settings = Settings.from_env().with_(data_dir=tmp_path / name, llm="embedded")
        kb = KnowledgeBase(settings)
        kb.add_text("The ferry resumed service on Friday.", title=f"Ferry {name}")
        paths.append(Path(kb.chat_model().model_path))
    assert len(set(paths)) == 1 and len(joins) == 1
    assert paths[0].parent == tmp_path / "cache" / "newsqa" / "models"
    assert paths[0].read_bytes() == b"GGUF fake model bytes"
    for name in ("news", "papers", "memos"):
        files = [p for p in (tmp_path / name).rglob("*") if p.is_file()]
        assert files and not [p for p in files if p.suffix == ".gguf" or "models" in p.parts]


def test_the_readme_settings_table_is_the_one_generated_from_the_settings():
    from qa.config import PROJECT_ROOT, settings_table

    assert settings_table() in (PROJECT_ROOT / "README.md").read_text(), (
        "README's settings table is stale: paste `python scripts/settings_table.py`")


@pytest.mark.parametrize(("name", "value", "message"), [
    ("QA_TOP_K", "0", "QA_TOP_K must be at least 1, got '0'"),
    ("QA_RETRIEVAL", "fuzzy", "QA_RETRIEVAL must be one of dense, keyword, hybrid, rerank"),
    ("QA_SEED_CORPUS", "maybe", "QA_SEED_CORPUS must be 1 or 0"),
    ("QA_LLM", "gpt4", "QA_LLM must be embedded, embedded:0.5b, openai:MODEL"),
    ("QA_PORT", "70000", "QA_PORT must be a port number"),
    ("QA_AUTH", "nopassword", 'QA_AUTH must look like "user:password", got …'),
])
def test_every_setting_is_checked_at_start(monkeypatch, name, value, message):
    from qa.errors import ConfigError

    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        Settings.from_env()
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_no_module_but_the_configuration_reads_the_environment():
    from qa.config import PACKAGE_DIR

    readers = sorted(
        str(p.relative_to(PACKAGE_DIR)) for p in PACKAGE_DIR.rglob("*.py")
        if re.search(r"os\.environ|getenv", p.read_text()) and p.name != "config.py"
    )
    assert readers == []

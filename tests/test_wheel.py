"""`pip install .` as a user does it: the wheel, built from the tracked sources, installed into
a fresh virtualenv, works from another folder with no source tree in sight.

No network: the wheel is built with this environment's setuptools (--no-build-isolation) and
installed with --no-deps --no-index; the fresh virtualenv then borrows this environment's
dependencies through a .pth file (never its editable newsqa, whose own .pth is not read).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import scaled
from testdata import ROOT, SEED

# the build and install steps may each take up to 600 s before they count as hung, so the
# module's own limit is larger than pytest-timeout's 900 s (conftest.py scales both)
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

SOURCES = ["pyproject.toml", "README.md", "qa", "prompts", "corpus"]


def _run(cmd, **kw):
    out = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=scaled(600),
                         **kw)
    assert out.returncode == 0, f"{cmd}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:  # what a clean clone has, without build leftovers
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_prompts",
                                                          "_corpus"))
        else:
            shutil.copy2(ROOT / name, src / name)
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "-w", tmp / "dist", src], env=env)
    (wheel,) = (tmp / "dist").glob("newsqa-*.whl")
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", wheel],
         env=env)
    # dependencies from this environment, added after the install so pip never saw them
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
                .stdout.strip())
    (site / "_newsqa_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


@pytest.fixture
def user_env(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("QA_", "GRADIO_")) and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, "QA_LLM": "fake", "XDG_CACHE_HOME": str(tmp_path / "cache")}


def test_the_installed_package_answers_from_another_folder(venv, tmp_path, user_env):
    where = tmp_path / "somewhere"
    where.mkdir()
    story = where / SEED.name
    shutil.copy(SEED, story)
    qa = venv / "bin" / "qa"

    def run(*args, cmd=(qa,)):
        return _run([*cmd, *args], cwd=where, env=user_env)

    out = run("-c", "import qa, qa.answer.prompts as p; print(qa.__file__); print(p.PROMPTS_DIR)",
              cmd=(venv / "bin" / "python",))
    module, prompts = out.stdout.split()
    assert module.startswith(str(venv)) and prompts.startswith(str(venv))

    # the learned calibration travels in the wheel when the source tree has one
    out = run("-c", "import qa.answer.calibration as c; print(c.SHIPPED, c.load() is not None)",
              cmd=(venv / "bin" / "python",))
    shipped, loaded = out.stdout.split()
    assert shipped.startswith(str(venv))
    assert loaded == str((ROOT / "qa" / "answer" / "calibration.json").is_file())

    assert "added 1, unchanged 0" in run("add", story.name).stdout
    assert (where / "data").is_dir()  # ./data of the current folder, not site-packages
    answer = json.loads(run("ask", "--json", "How much did South Korea spend to renovate "
                            "the building?").stdout)
    assert not answer["refused"] and "9.78 billion won" in answer["answer"], answer
    assert answer["citations"][0]["quote"] in story.read_text()

    listed = json.loads(run("-m", "qa", "list", "--json", cmd=(venv / "bin" / "python",)).stdout)
    assert [d["title"] for d in listed] == [answer["citations"][0]["title"]]

    out = run("--data-dir", "demo", "--with-sample", "list")  # the sample ships in the wheel
    assert "North Korea" in out.stdout and "also added the sample article" in out.stderr
    assert not list(venv.rglob("chroma.sqlite3"))  # nothing written inside the install


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_qa_serve_starts_the_web_app(venv, tmp_path, user_env):
    port = _free_port()
    where = tmp_path / "app"
    where.mkdir()
    log = open(tmp_path / "serve.log", "w+")
    proc = subprocess.Popen([venv / "bin" / "qa", "serve", "--port", str(port)], cwd=where,
                            env={**user_env, "GRADIO_SERVER_PORT": "9"}, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + scaled(180)
        page = None
        while time.monotonic() < deadline and page is None:
            if proc.poll() is not None:
                break
            with contextlib.suppress(OSError):
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
            time.sleep(0.5)
        log.seek(0)
        assert page is not None, log.read()[-3000:]
        assert b"gradio" in page.lower()
        assert (where / "data").is_dir()
    finally:
        proc.terminate()
        proc.wait(scaled(30))

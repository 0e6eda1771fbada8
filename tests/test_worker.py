"""The background worker of `qa ask` (qa/worker.py, qa/web/worker.py), for real: `qa`
commands in subprocesses start it, read through it, and give way to it; a write, an app that
starts, and idleness stop it. The fake answer model keeps the tests fast; the worker's own
process is the real one (uvicorn, the app's routes, the real store and embedder)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import scaled

from qa import app_link
from qa.index.store import FolderClaim, app_holding

QA = str(Path(sys.executable).with_name("qa"))
QUESTION = "How much did South Korea spend to renovate the liaison office?"
STARTED = "started a background worker"


@pytest.fixture
def store(seeded_dir: Path, tmp_path: Path):
    """A copy of the seeded store, the environment of its commands, and every worker that
    held it stopped at the end."""
    data = tmp_path / "data"
    shutil.copytree(seeded_dir, data)
    env = {k: v for k, v in os.environ.items()
           if k not in ("QA_CHROMA_URL", "QA_NO_SERVER", "QA_TOP_K")}
    env.update(QA_DATA_DIR=str(data), QA_LLM="fake", QA_SEED_CORPUS="0",
               QA_WORKER_IDLE_S="120")
    yield data, env
    pid = app_holding(data)
    if pid and pid.isdigit():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), 15)
        _wait(lambda: app_holding(data) is None, "the worker to stop")


def qa(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([QA, *args], env=env, capture_output=True, text=True,
                          timeout=scaled(180))
    if check:
        assert done.returncode == 0, done.stderr
    return done


def _wait(condition, what: str) -> None:
    deadline = time.monotonic() + scaled(60)
    while not condition():
        assert time.monotonic() < deadline, f"waited too long for {what}"
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(ChildProcessError):  # a zombie of this process counts as gone
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    return True


def worker_pid(data: Path) -> int:
    link = json.loads((data / app_link.LINK_FILE).read_text())
    assert link["kind"] == app_link.WORKER
    return int(link["pid"])


def test_ask_starts_a_worker_and_the_next_ask_reads_through_it(store):
    data, env = store
    first = qa(env, "ask", "--json", "-v", QUESTION)
    assert STARTED in first.stderr and "through the background worker at" in first.stderr
    pid = worker_pid(data)
    assert app_holding(data) == str(pid) and _alive(pid)
    assert (data / app_link.LINK_FILE).stat().st_mode & 0o777 == 0o600

    second = qa(env, "ask", "--json", "-v", QUESTION)
    assert STARTED not in second.stderr
    assert "through the background worker at http://127.0.0.1:" in second.stderr
    assert f"(pid {pid})" in second.stderr
    local = qa(env, "--local", "ask", "--json", QUESTION)
    assert json.loads(second.stdout) == json.loads(local.stdout) == json.loads(first.stdout)
    assert "9.78 billion won" in json.loads(second.stdout)["answer"]
    # a search reads through it too, and gives what a local search gives
    via = qa(env, "search", "--json", "-v", "-k", "3", QUESTION)
    assert "through the background worker" in via.stderr
    assert json.loads(via.stdout) == json.loads(qa(env, "--local", "search", "--json", "-k",
                                                    "3", QUESTION).stdout)


def test_a_write_stops_the_worker_and_the_next_ask_sees_it(store, tmp_path):
    data, env = store
    qa(env, "ask", "--json", QUESTION)
    pid = worker_pid(data)
    article = tmp_path / "lisbon.txt"
    article.write_text("Lisbon opens a light-rail line\n\nLisbon opened a light-rail line on "
                       "Monday. The line cost 312 million euros, the mayor said.\n")
    added = qa(env, "add", str(article))  # not refused: the worker gives way
    assert "added 1" in added.stdout
    assert app_holding(data) is None and not (data / app_link.LINK_FILE).exists()
    _wait(lambda: not _alive(pid), "the stopped worker to exit")
    after = qa(env, "ask", "--json", "How much did the Lisbon light-rail line cost?")
    assert STARTED in after.stderr and worker_pid(data) != pid
    found = qa(env, "search", "--json", "-v", "-k", "1", "Lisbon light-rail line cost")
    assert "through the background worker" in found.stderr  # the new one knows the article
    top = json.loads(found.stdout)[0]
    assert "312 million euros" in top["text"]
    assert "removed" in qa(env, "remove", top["doc_id"]).stdout.lower()
    assert app_holding(data) is None


def test_an_app_that_starts_stops_the_worker(store):
    data, env = store
    qa(env, "ask", "--json", QUESTION)
    pid = worker_pid(data)
    claim = FolderClaim.acquire(data)  # what `qa serve` does first
    try:
        assert claim is not None and app_holding(data) == str(os.getpid())
        _wait(lambda: not _alive(pid), "the stopped worker to exit")
        # and a command now reads through nothing it may use: the app has no link file yet
        assert app_link.read_link(app_link.Settings.from_env().with_(data_dir=data))[0] is None
    finally:
        claim.release()


def test_an_idle_worker_exits_and_cleans_up(store):
    data, env = store
    qa(env | {"QA_WORKER_IDLE_S": "1"}, "ask", "--json", QUESTION)
    pid = worker_pid(data)
    _wait(lambda: not _alive(pid), "the idle worker to exit")
    assert app_holding(data) is None and not (data / app_link.LINK_FILE).exists()
    assert "stopped" in (data / ".worker.log").read_text()


@pytest.mark.parametrize("how", ["off", "local", "search"])
def test_no_worker_when_told_or_for_a_search(store, how):
    data, env = store
    args = {"off": ("ask", "--json", "-v", QUESTION),
            "local": ("--local", "ask", "--json", QUESTION),
            "search": ("search", "--json", "-v", QUESTION)}[how]
    done = qa(env | {"QA_WORKER_IDLE_S": "0"} if how == "off" else env, *args)
    assert STARTED not in done.stderr and json.loads(done.stdout)
    assert app_holding(data) is None and not (data / app_link.LINK_FILE).exists()

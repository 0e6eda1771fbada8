"""Shared fixtures and helpers: a fresh store folder per test, the real embedder, the real
Chroma; the web app in a subprocess, headless Chromium, a read-only store folder; the limits of
the hang detectors, scaled by QA_TEST_TIMEOUT_FACTOR. Test modules import the helpers from
here, never from each other."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from testdata import SEED

from qa.config import Settings

# No test starts a background worker (qa/worker.py) unless it asks for one: a `qa ask` run by
# a test would otherwise leave a process behind that keeps the models loaded for minutes.
os.environ["QA_WORKER_IDLE_S"] = "0"

# -- hang detectors: limits, never speed checks ---------------------------------------------
# Speed is measured in bench/, never asserted here. Every time limit in the tests (pytest-timeout's
# per-test limit, subprocess timeouts, waits for a server, Playwright and gradio_client waits)
# only catches a hang: it sits well above (5x or more) what the step takes on a quiet machine,
# and QA_TEST_TIMEOUT_FACTOR multiplies all of them on a busy one.
FACTOR_ENV = "QA_TEST_TIMEOUT_FACTOR"


def timeout_factor() -> float:
    """QA_TEST_TIMEOUT_FACTOR (default 1): a positive number."""
    raw = os.environ.get(FACTOR_ENV, "").strip()
    try:
        factor = float(raw) if raw else 1.0
    except ValueError:
        factor = float("nan")
    if not factor > 0 or factor == float("inf"):
        raise ValueError(f"{FACTOR_ENV}={raw!r}: expected a positive number such as 4")
    return factor


def scaled(seconds: float) -> float:
    """A hang detector's limit on this machine: ``seconds`` (or milliseconds) times
    QA_TEST_TIMEOUT_FACTOR."""
    return seconds * timeout_factor()


def no_hang(fn, *args, limit: float = 30.0, **kwargs):
    """Call fn(*args, **kwargs) in a thread and return (or raise) what it does; fail as a hang
    if it has not finished after ``scaled(limit)`` seconds."""
    from concurrent.futures import ThreadPoolExecutor
    from concurrent.futures import TimeoutError as FutureTimeout

    pool = ThreadPoolExecutor(1)
    seconds = scaled(limit)
    try:
        return pool.submit(fn, *args, **kwargs).result(timeout=seconds)
    except FutureTimeout as exc:
        raise AssertionError(f"{getattr(fn, '__name__', fn)} hung for over {seconds:g} s "
                             f"(a hang detector; {FACTOR_ENV} scales it)") from exc
    finally:
        pool.shutdown(wait=False)


def default_timeout(config) -> float | None:
    """pytest-timeout's limit for a test without a marker, found as pytest-timeout finds it:
    --timeout, else PYTEST_TIMEOUT, else the ini's ``timeout``."""
    value = config.getoption("timeout", None)
    if value is None:
        value = os.environ.get("PYTEST_TIMEOUT") or config.getini("timeout") or None
    return None if value is None else float(value)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: browser or real-model tests (deselect with -m 'not slow')"
    )
    try:
        timeout_factor()
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_collection_modifyitems(config, items):
    """Scale every test's pytest-timeout limit (its own marker's, else the default) by
    QA_TEST_TIMEOUT_FACTOR: a marker put first is the one pytest-timeout reads."""
    factor = timeout_factor()
    if factor == 1 or not config.pluginmanager.hasplugin("timeout"):
        return
    default = default_timeout(config)
    for item in items:
        marker = item.get_closest_marker("timeout")
        args, kwargs = (), {}
        base = default
        if marker is not None:
            kwargs = {k: v for k, v in marker.kwargs.items() if k != "timeout"}
            if "timeout" in marker.kwargs:
                base, args = marker.kwargs["timeout"], marker.args
            elif marker.args:
                base, args = marker.args[0], marker.args[1:]
        if base is None or float(base) <= 0:  # no limit: nothing to scale
            continue
        item.add_marker(pytest.mark.timeout(float(base) * factor, *args, **kwargs),
                        append=False)


@pytest.fixture(autouse=True)
def _fresh_chroma_cache():
    """Chroma caches clients per path; a reused tmp path must not see a stale one."""
    yield
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env().with_(
        data_dir=tmp_path / "data", seed_corpus=False, chroma_url=None
    )


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """One real `chroma run` server on 127.0.0.1 for the whole session."""
    from chroma_server import ChromaServer

    server = ChromaServer(tmp_path_factory.mktemp("chroma-server")).start()
    yield server
    server.stop()


@pytest.fixture(params=["embedded", pytest.param("server", marks=pytest.mark.slow)])
def kb(request, settings: Settings):
    """An empty knowledge base, once in a folder and once on a real Chroma server."""
    import uuid

    from qa.kb import KnowledgeBase

    if request.param == "server":
        server = request.getfixturevalue("chroma_server")
        settings = settings.with_(chroma_url=server.url, collection=f"t-{uuid.uuid4().hex[:12]}")
    return KnowledgeBase(settings)


def build_seeded(base: Path) -> Path:
    """Build a store holding the seed article in ``base`` (also used by bench/attack_cost.py)."""
    from chromadb.api.client import SharedSystemClient

    from qa.kb import KnowledgeBase

    settings = Settings.from_env().with_(data_dir=base, seed_corpus=False, chroma_url=None)
    report = KnowledgeBase(settings).add(SEED)
    assert report.summary() == "added 1, unchanged 0, replaced 0, failed 0"
    SharedSystemClient.clear_system_cache()
    return base


@pytest.fixture(scope="session")
def seeded_dir(tmp_path_factory) -> Path:
    """A store holding the seed article, built once and copied per test that needs it."""
    return build_seeded(tmp_path_factory.mktemp("seeded") / "data")


@pytest.fixture
def seeded_kb(seeded_dir: Path, tmp_path: Path):
    from qa.kb import KnowledgeBase

    data = tmp_path / "data"
    shutil.copytree(seeded_dir, data)
    return KnowledgeBase(
        Settings.from_env().with_(data_dir=data, seed_corpus=False, chroma_url=None)
    )


# -- the web app in a subprocess, and a browser for it --------------------------------------
ROOT = Path(__file__).resolve().parent.parent
RENOVATION_Q = "How much did South Korea spend to renovate the liaison office?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(data_dir: Path, script: str = "app.py", start_s: float = 120, **env: str):
    """Start app.py (or another launcher) on a free port; yield its URL; stop it. It must
    listen within ``scaled(start_s)`` seconds."""
    port = free_port()
    full_env = {
        **os.environ, "QA_DATA_DIR": str(data_dir), "QA_SEED_CORPUS": "1", "QA_LLM": "fake",
        "QA_HOST": "127.0.0.1", "QA_PORT": str(port), "QA_CHROMA_URL": "", **env,
    }
    full_env.pop("QA_AUTH", None) if "QA_AUTH" not in env else None
    log = open(data_dir.parent / f"app-{port}.log", "w+")
    proc = subprocess.Popen([sys.executable, script], cwd=ROOT, env=full_env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        start_s = scaled(start_s)
        deadline = time.monotonic() + start_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"app.py exited {proc.returncode}:\n{log.read()[-3000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"{script} did not start listening within {start_s:g} s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(scaled(20))
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def check_citations(answer: dict, article: str | None = None) -> None:
    """Every citation's quote sits inside its passage, at the offsets it claims."""
    assert answer["citations"], answer
    for c in answer["citations"]:
        assert f"[{c['n']}]" in answer["answer"]
        assert c["quote"] and c["quote"] in c["text"]
        assert c["end"] - c["start"] == len(c["quote"])
        if article is not None:
            assert article[c["start"]:c["end"]] == c["quote"]


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
DESKTOP = {"viewport": {"width": 1360, "height": 900}}


def open_browser(playwright, profile: Path, device: dict | None = None):
    """A fresh Chromium profile, never a downloaded browser."""
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
        **(device or DESKTOP),
    )


# -- a read-only store folder ---------------------------------------------------------------
QA_COMMAND = str(Path(sys.executable).with_name("qa"))


def read_only_qa(data: Path, *argv: str) -> subprocess.CompletedProcess:
    """Run `qa` with ``data`` mounted read-only (a private mount namespace: works as root)."""
    script = f'mount --bind -o ro "{data}" "{data}" && exec "$@"'
    return subprocess.run(
        ["unshare", "-rm", "sh", "-c", script, "sh", QA_COMMAND, "--data-dir", str(data), *argv],
        capture_output=True, text=True, timeout=scaled(300),
        env={**os.environ, "QA_SEED_CORPUS": "1", "QA_LLM": "fake", "QA_CHROMA_URL": ""},
    )


def can_mount_read_only(tmp_path: Path) -> bool:
    probe = tmp_path / "probe"
    probe.mkdir()
    done = subprocess.run(["unshare", "-rm", "sh", "-c",
                           f'mount --bind -o ro "{probe}" "{probe}" && ! touch "{probe}/x"'],
                          capture_output=True)
    return done.returncode == 0


BROWSER_APP_START_S = 400
"""Seconds the browser tests' app may take to start (running_app scales it): minutes on a
machine busy with other test runs."""


@pytest.fixture(scope="module")
def app(tmp_path_factory, request):
    """The real app on a fresh store, one per browser test module."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    with running_app(tmp_path_factory.mktemp(name) / "data",
                     start_s=BROWSER_APP_START_S) as url:
        yield url


@pytest.fixture(scope="module")
def playwright():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        yield p

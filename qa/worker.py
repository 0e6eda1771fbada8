"""The background worker: the models of `qa ask` kept loaded between shell commands.

A cold `qa ask` spends most of its time starting the model: importing the answer chain and
llama.cpp, mapping the 1.5B model and reading the fixed system prompt. A running app
(qa/app_link.py) has all of that done. So when no app serves the store folder, `qa ask` and
`qa chat` start ``python -m qa.web.worker``: the app's command-line routes
(qa/web/cli_routes.py) without the page, on 127.0.0.1 and a port of its own, announced by the
same private link file with ``"kind": "worker"``. The command that started it and every later
one read through it as they would through the app, so a second `qa ask` pays only for its own
question. ollama's command line works the same way with its server.

It gives way to everything else:

* it exits after ``QA_WORKER_IDLE_S`` seconds (default 300) without a command, and when its
  store folder is gone;
* it claims the folder as the app does (Chroma's in-memory index goes stale under another
  process's writes), with its kind in the lock file: a write to the folder (`qa add`,
  `qa remove`, `qa reindex`, ``kb.add``) or an app that starts stops it, waits for it to let
  go, and goes on (``qa.index.store``);
* a worker whose settings differ from the command's is stopped and a new one started.

`--local`, ``QA_NO_SERVER=1`` and ``QA_WORKER_IDLE_S=0`` never start one; nor does a Chroma
server (QA_CHROMA_URL), a store folder that does not exist yet or one this user cannot write.
Its output goes to ``<data_dir>/.worker.log``.

Standard library only, as qa/app_link.py: a command that reads through a worker imports no
model library.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from qa.app_link import NO_APP, WORKER, Link, link_file, read_link
from qa.config import Settings, environment_for

LOG_FILE = ".worker.log"
START_WAIT_S = 180.0
"""Longest wait for a new worker to listen: it opens the store, and may first wait for a
`qa add` in progress to finish (up to 60 s, ``FolderClaim.acquire``)."""
POLL_S = 0.05


def start(settings: Settings, note: Callable[[str], None]) -> tuple[Link | None, str]:
    """Start a worker for ``settings``' store folder and wait until it listens: its link, or
    (None, why) when none may start or it did not. Says on stderr (``note``) that it started."""
    from qa.index.store import app_holding

    data_dir = settings.data_dir
    if settings.worker_idle_s <= 0:
        return None, f"{NO_APP} (QA_WORKER_IDLE_S=0: no background worker)"
    if settings.chroma_url or not data_dir.is_dir():
        return None, NO_APP
    if not os.access(data_dir, os.W_OK):
        return None, f"{NO_APP} (the folder is read-only: no background worker)"
    holder = app_holding(data_dir)
    if holder is not None:  # the app, or a worker with other settings (read_link said)
        data, _ = link_file(data_dir)
        if not (data and data.get("kind") == WORKER and holder.isdigit()
                and stop(data_dir, int(holder))):
            _, why = read_link(settings)
            return None, why
    try:
        fd = os.open(data_dir / LOG_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC
                     | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError as exc:
        return None, f"{NO_APP} (no background worker: {exc.strerror})"
    try:
        proc = subprocess.Popen([sys.executable, "-m", "qa.web.worker"],
                                env=environment_for(settings),
                                stdin=subprocess.DEVNULL, stdout=fd, stderr=fd,
                                start_new_session=True)  # Ctrl-C in the shell spares it
    finally:
        os.close(fd)
    deadline = time.monotonic() + START_WAIT_S
    while True:
        link, why = read_link(settings)
        if link is not None:  # this worker, or one a command beside this one started
            note(f"newsqa: started a background worker (pid {link.pid}) that keeps the models "
                 f"loaded for the next command; it exits after {settings.worker_idle_s:g} s "
                 "without one (QA_WORKER_IDLE_S; 0: never start one)")
            return link, ""
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.returncode is None:
                stop(data_dir, proc.pid)
            return None, (f"{NO_APP}, and the background worker did not start "
                          f"({_last_line(data_dir / LOG_FILE)})")
        time.sleep(POLL_S)


def stop(data_dir: Path, pid: int, wait_s: float = 30.0) -> bool:
    """Ask the worker ``pid`` to exit (SIGTERM: it finishes an answer in progress within its
    graceful limit) and wait until it no longer holds ``data_dir``. True when it let go."""
    from qa.index.store import app_holding

    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    except PermissionError:  # another user's process: not ours to stop
        return False
    deadline = time.monotonic() + wait_s
    while app_holding(data_dir) == str(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_S)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # reap it when this process started it
    return True


def _last_line(log: Path) -> str:
    try:
        lines = [x for x in log.read_text(errors="replace").splitlines() if x.strip()]
    except OSError:
        lines = []
    return lines[-1].strip()[:300] if lines else f"see {log}"

"""The background worker's process: ``python -m qa.web.worker``, started by `qa ask` and
`qa chat` (qa/worker.py says when and why).

It is the web app without its page: the same ``Service`` claims the store folder (as the
worker's kind), the same command-line routes (qa/web/cli_routes.py) answer on 127.0.0.1 and a
port the system picks, the same link file announces them. It imports neither Gradio nor the
page, and warms only the short answers' prompt (an open answer's article read at start would
make a `qa ask` that comes meanwhile wait). Configured by the environment, as the command that
started it was.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time

from qa.config import Settings, offline_environment

GRACEFUL_S = 10
"""How long an answer in progress may go on once the worker is told to stop (a write waits)."""


class Activity:
    """ASGI middleware that knows when the last request ended and how many are running
    (each answer streams for seconds: it counts until its last line is sent)."""

    def __init__(self, app):
        self.app = app
        self.running = 0
        self.last = time.monotonic()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        self.running += 1
        try:
            return await self.app(scope, receive, send)
        finally:
            self.running -= 1
            self.last = time.monotonic()

    def idle_for(self) -> float:
        return 0.0 if self.running else time.monotonic() - self.last


def _exit_when_idle(server, activity: Activity, idle_s: float, data_dir) -> None:
    while not server.should_exit:
        time.sleep(min(1.0, max(0.05, idle_s / 4)))
        if activity.idle_for() > idle_s or not os.path.isdir(data_dir):
            server.should_exit = True


def main() -> int:
    offline_environment()
    settings = Settings.from_env()
    import uvicorn
    from fastapi import FastAPI

    from qa.errors import QAError
    from qa.index.store import WORKER, app_holding
    from qa.web.cli_routes import CliRoutes
    from qa.web.service import Service

    try:
        service = Service.from_env(settings, holder=WORKER)
    except QAError as exc:  # another app holds the folder, a write went on too long, ...
        print(f"newsqa worker: {exc}", file=sys.stderr, flush=True)
        return 1
    try:
        if app_holding(settings.data_dir) != str(os.getpid()):
            print("newsqa worker: the store folder could not be claimed (read-only?)",
                  file=sys.stderr, flush=True)
            return 1
        service.start_warm_up(open_answers=False)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)  # a command may connect before uvicorn runs: it waits in the backlog
        port = sock.getsockname()[1]
        routes = CliRoutes(service)
        activity = Activity(FastAPI(routes=routes.routes()))
        server = uvicorn.Server(uvicorn.Config(activity, log_level="warning",
                                               timeout_graceful_shutdown=GRACEFUL_S))
        threading.Thread(target=_exit_when_idle, daemon=True, name="newsqa-idle",
                         args=(server, activity, settings.worker_idle_s,
                               settings.data_dir)).start()
        # uvicorn answers SIGTERM by shutting down and then raising the signal again under the
        # handler it found: with this one, that ends in the clean-up below, not in death
        signal.signal(signal.SIGTERM, lambda *_: setattr(server, "should_exit", True))
        if not routes.publish("127.0.0.1", port, kind="worker"):
            return 1
        print(f"newsqa worker: pid {os.getpid()} serves {settings.data_dir} on 127.0.0.1:"
              f"{port}; exits after {settings.worker_idle_s:g} s idle", flush=True)
        try:
            server.run(sockets=[sock])  # SIGTERM and SIGINT stop it (uvicorn's handlers)
        finally:
            routes.withdraw()
    finally:
        service.close()
    print("newsqa worker: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

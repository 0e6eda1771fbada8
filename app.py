"""newsqa's web chat: ``python app.py`` serves the knowledge base on QA_HOST:QA_PORT.

Configured by the QA_* variables in qa/config.py, among them QA_HOST (default 127.0.0.1),
QA_PORT (default 7860) and QA_AUTH (optional "user:password").
"""

from __future__ import annotations

import sys

from qa.config import Settings  # sets the offline/analytics environment first


def main() -> None:
    from newsqa_web import Service, build_ui, launch_options
    from newsqa_web.ui import CONCURRENCY, QUEUE_SIZE

    settings = Settings.from_env()
    print(f"newsqa: opening the knowledge base in {settings.chroma_url or settings.data_dir} …",
          flush=True)
    service = Service.from_env(settings)
    service.start_warm_up()  # load the answer model in the background while the page opens
    demo = build_ui(service)
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    options = launch_options(service)
    host, port = options["server_name"], options["server_port"]
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    print(f"newsqa: open http://{shown}:{port}/ in your browser"
          + (" (basic auth on)" if options["auth"] else ""), flush=True)
    demo.launch(**options, quiet=True)


if __name__ == "__main__":
    sys.exit(main())

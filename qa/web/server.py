"""Start the web chat: ``qa serve``, or ``python app.py`` in a checkout.

Configured by the QA_* variables in qa/config.py, among them QA_HOST (else Gradio's
GRADIO_SERVER_NAME, else 127.0.0.1), QA_PORT (else GRADIO_SERVER_PORT, else 7860) and QA_AUTH
(optional "user:password").
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from qa.config import Settings, offline_environment

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel


def serve(settings: Settings | None = None, *, llm: BaseChatModel | None = None) -> None:
    """Open the knowledge base and serve the app until interrupted; ``llm`` answers instead
    of the model ``settings.llm`` names (a test's slow model, for one)."""
    offline_environment()  # for callers that did not come through an entry point
    settings = settings or Settings.from_env()
    from qa.web import Service, build_ui, launch_options
    from qa.web.cli_routes import CliRoutes
    from qa.web.ui import CONCURRENCY, QUEUE_SIZE

    print(f"newsqa: opening the knowledge base in {settings.chroma_url or settings.data_dir} …",
          flush=True)
    service = Service.from_env(settings, llm=llm)
    seeded = service.kb.seed_report
    if seeded and seeded.count("added"):
        print("newsqa: also added the sample article (QA_SEED_CORPUS=0 to skip)", flush=True)
    options = launch_options(service)
    host, port = options["server_name"], options["server_port"]
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    # said before the model starts loading in another thread, and flushed: nothing may
    # swallow it (qa.llm.backends._NoRedirect)
    print(f"newsqa: open http://{shown}:{port}/ in your browser"
          + (" (basic auth on)" if options["auth"] else ""), flush=True)
    service.start_warm_up()  # load the answer model in the background while the page opens
    demo = build_ui(service)
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    cli = CliRoutes(service)  # `qa search/ask/chat` in a shell use this app (qa/app_link.py)
    options["app_kwargs"] = {"routes": cli.routes()}
    demo.launch(**options, quiet=True, prevent_thread_lock=True)
    cli.publish(host, demo.server_port or port)
    try:
        demo.block_thread()
    finally:
        cli.withdraw()


def main() -> int:
    serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())

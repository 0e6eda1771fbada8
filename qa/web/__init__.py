"""newsqa's web chat (Gradio), a shell over ``KnowledgeBase`` like the CLI. Only this
subpackage imports Gradio: the core never does.

    from qa.web import Service, build_ui
    demo = build_ui(Service.from_env())
    demo.queue().launch()

``qa serve`` (qa.web.server; ``app.py`` in a checkout) is the launcher: host, port and
basic auth from the env.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["Service", "build_ui", "launch_options"]

if TYPE_CHECKING:
    from .service import Service
    from .ui import build_ui, launch_options


def __getattr__(name: str):
    # Imported on first use (PEP 562): the background worker (qa.web.worker) serves the app's
    # command-line routes from qa.web.service and qa.web.cli_routes without a page, and should
    # not pay for importing Gradio, which ``ui`` does.
    if name == "Service":
        from .service import Service

        return Service
    if name in ("build_ui", "launch_options"):
        from . import ui

        return getattr(ui, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

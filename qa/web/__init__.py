"""newsqa's web chat (Gradio), a shell over ``KnowledgeBase`` like the CLI. Only this
subpackage imports Gradio: the core never does.

    from qa.web import Service, build_ui
    demo = build_ui(Service.from_env())
    demo.queue().launch()

``qa serve`` (qa.web.server; ``app.py`` in a checkout) is the launcher: host, port and
basic auth from the env.
"""

from .service import Service
from .ui import build_ui, launch_options

__all__ = ["Service", "build_ui", "launch_options"]

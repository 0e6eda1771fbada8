"""newsqa's web chat: ``python app.py`` serves the knowledge base on QA_HOST:QA_PORT.

The same as ``qa serve`` (see qa/web/server.py for the settings it reads).
"""

from __future__ import annotations

import sys

from qa.config import offline_environment

if __name__ == "__main__":
    offline_environment()  # before gradio (and huggingface_hub under it) is imported
    from qa.web.server import main

    sys.exit(main())

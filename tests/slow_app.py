"""The app (``qa.web.server``) with the test model writing slowly, for the Stop test.

The model writes one word every QA_TEST_TOKEN_DELAY seconds (default 0.4) and then keeps
rambling; every word it produces is appended to QA_TEST_TOKEN_LOG, so a test can see that
the model stopped computing when Stop was pressed, not only that the page stopped showing it.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.llm.fake import FakeChatModel, grounded_reply  # noqa: E402


class SlowFake(FakeChatModel):
    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        delay = float(os.environ.get("QA_TEST_TOKEN_DELAY", "0.4"))
        log = os.environ.get("QA_TEST_TOKEN_LOG")
        chunk = None
        for chunk in super()._stream(messages, stop, run_manager, **kwargs):
            time.sleep(delay)
            if log:
                with open(log, "a") as fh:
                    fh.write(chunk.text + "\n")
            yield chunk
        for _ in range(200):
            time.sleep(delay)
            if log:
                with open(log, "a") as fh:
                    fh.write("and\n")
            yield type(chunk)(message=type(chunk.message)(content=" and"))


if __name__ == "__main__":
    from qa.config import offline_environment

    offline_environment()  # as app.py does, before gradio is imported
    from qa.web.server import serve

    serve(llm=SlowFake(function=grounded_reply))

"""The web chat in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright; no
browser download): ask, see a cited answer, open a citation's highlighted span, upload a file
and ask about it, reload and find the chat (and its citations) still there.

Screenshots go to the test's temp folder (``scripts/screenshots.py`` makes the README ones).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from test_app_api import RENOVATION_Q, running_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)",
    ),
]


def open_browser(playwright, profile: Path):
    """A fresh Chromium profile, never a downloaded browser."""
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
        viewport={"width": 1360, "height": 900},
    )


def ask(page, question: str, timeout: int = 60_000):
    """Type a question, send it, wait for the final (non-pending) answer; return its element."""
    before = page.locator("#nqa-chat .nqa-meta").count()
    page.locator("#nqa-question textarea").fill(question)
    page.locator("#nqa-send").click()
    page.wait_for_function(
        """(n) => {
            const metas = document.querySelectorAll('#nqa-chat .nqa-meta');
            if (metas.length <= n) return false;
            const last = metas[metas.length - 1].textContent;
            return /confidence|refused/.test(last);
        }""", arg=before, timeout=timeout,
    )
    return page.locator("#nqa-chat .nqa-answer").last


def open_citation(page, answer, expect: str, n: int = 1) -> str:
    """Click the [n] footnote of an answer, wait until the source panel highlights a span
    containing ``expect``; return the highlighted text."""
    answer.locator("a.nqa-cite", has_text=f"[{n}]").first.click()
    page.wait_for_function(
        """(want) => {
            const m = document.querySelector('#nqa-source-panel mark.nqa-hl');
            return m && m.textContent.includes(want);
        }""", arg=expect, timeout=15_000,
    )
    return page.locator("#nqa-source-panel mark.nqa-hl").inner_text()


def test_chat_citation_upload_reload(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    shots = tmp_path / "shots"
    shots.mkdir()
    with running_app(tmp_path / "data") as url, sync_api.sync_playwright() as p:
        browser = open_browser(p, tmp_path / "profile")
        page = browser.new_page()
        page.goto(url)
        page.locator("#nqa-question textarea").wait_for(timeout=30_000)
        # examples fit the shipped corpus
        assert "liaison office" in page.locator("#nqa-chat").inner_text()

        answer = ask(page, RENOVATION_Q)
        assert "9.78 billion won" in answer.inner_text()
        assert answer.locator("a.nqa-cite").count() >= 1
        page.screenshot(path=str(shots / "chat.png"))

        highlighted = open_citation(page, answer, "9.78 billion won")
        panel = page.locator("#nqa-source-panel").inner_text()
        assert "9.78 billion won" in highlighted
        assert "North Korea Blows up Liaison Office" in panel
        # the span is shown inside its paragraph, not alone
        para = page.locator("#nqa-source-panel .nqa-para").inner_text()
        assert len(para) >= len(highlighted) and highlighted in para
        page.screenshot(path=str(shots / "source.png"))

        # a follow-up, then a refusal
        follow = ask(page, "In which year was it established?")
        assert follow.locator("a.nqa-cite").count() >= 1
        refusal = ask(page, "Who won the 2018 World Cup?")
        assert "Not in the articles" in refusal.inner_text()
        assert page.locator("#nqa-chat .nqa-near").last.is_visible()

        # upload a file in the Documents tab and ask about it
        doc = tmp_path / "ostrava-plant.md"
        doc.write_text(
            "# Zorblax Opens Solar Plant\n\nZorblax Corp opened a solar panel factory in "
            "Ostrava on Monday, creating 800 jobs.\n\nThe plant cost 90 million euros.\n",
            encoding="utf-8",
        )
        page.get_by_role("tab", name="Documents").click()
        page.locator("#nqa-files input[type=file]").set_input_files(str(doc))
        page.locator("#nqa-upload").click()
        page.wait_for_function(
            "() => /added 1/.test(document.querySelector('#nqa-add-status').textContent)",
            timeout=60_000,
        )
        page.wait_for_function(
            "() => /Zorblax/.test(document.querySelector('#nqa-docs').textContent)",
            timeout=15_000,
        )
        page.screenshot(path=str(shots / "documents.png"))
        page.get_by_role("tab", name="Chat").click()
        answer = ask(page, "Where did Zorblax open its solar panel factory?")
        assert "Ostrava" in answer.inner_text()
        assert "Ostrava" in open_citation(page, answer, "Ostrava")

        # after a reload the chat is restored and its citations still open their sources
        page.reload()
        page.locator("#nqa-chat .nqa-answer").first.wait_for(timeout=30_000)
        first = page.locator("#nqa-chat .nqa-answer").first
        assert "9.78 billion won" in open_citation(page, first, "9.78 billion won")

        page.locator("#nqa-clear").click()
        page.wait_for_function(
            "() => document.querySelectorAll('#nqa-chat .nqa-answer').length === 0",
            timeout=15_000,
        )
        browser.close()
    assert re.search(r"chat\.png", " ".join(os.listdir(shots)))

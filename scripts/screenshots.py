"""Regenerate the README screenshots (docs/img/progress.png, chat.png, source.png, open.png,
documents.png, and the phone's phone-source.png, phone-documents.png).

    .venv/bin/python scripts/screenshots.py            # the real default model (QA_LLM)
    .venv/bin/python scripts/screenshots.py --llm fake # fast, for a quick look

Starts app.py on a free port with a fresh store seeded with the shipped article, drives
Debian's headless Chromium (/usr/bin/chromium) with Playwright, and saves the pictures.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from test_app_api import RENOVATION_Q, running_app  # noqa: E402
from test_app_browser import CHROMIUM, PHONE, ask, open_browser, open_citation  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm", default=os.environ.get("QA_LLM", "embedded"),
                        help="answer model (QA_LLM spec); default: QA_LLM or embedded")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        raise SystemExit("needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = {"QA_LLM": args.llm}
        if (ROOT / "data" / "models").is_dir():  # the model scripts/setup.sh prepared
            env["QA_MODELS_DIR"] = str(ROOT / "data" / "models")
        with running_app(tmp / "data", start_s=600, **env) as url, sync_playwright() as p:
            browser = open_browser(p, tmp / "profile")
            page = browser.new_page()
            page.goto(url)
            page.locator("#nqa-question textarea").wait_for(timeout=60_000)
            page.locator("#nqa-question textarea").fill(RENOVATION_Q)
            page.locator("#nqa-send").click()
            page.locator("#nqa-chat .nqa-preview").wait_for(timeout=300_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(args.out / "progress.png"))  # stages, preview, Stop
            page.locator("#nqa-chat .nqa-final").wait_for(timeout=600_000)
            answer = page.locator("#nqa-chat .nqa-answer").last
            page.screenshot(path=str(args.out / "chat.png"))
            open_citation(page, answer, "9.78")
            page.mouse.move(5, 5)  # no hover card over the panel
            page.screenshot(path=str(args.out / "source.png"))
            # an open answer: several checked sentences, each footnote its own sentence
            answer = ask(page, "Summarize the article.", timeout=600_000)
            open_citation(page, answer, "", n=2)
            page.mouse.move(5, 5)
            page.screenshot(path=str(args.out / "open.png"))
            page.get_by_role("tab", name="Documents").click()
            page.locator("#nqa-docs table").wait_for()
            page.screenshot(path=str(args.out / "documents.png"))
            browser.close()

            phone = open_browser(p, tmp / "phone-profile", PHONE)
            page = phone.new_page()
            page.goto(url)
            page.locator("#nqa-question textarea").wait_for(timeout=60_000)
            answer = ask(page, RENOVATION_Q, timeout=600_000)
            open_citation(page, answer, "9.78", tap=True)
            page.wait_for_timeout(500)
            page.screenshot(path=str(args.out / "phone-source.png"))
            page.get_by_role("tab", name="Documents").click()
            page.locator("#nqa-docs table").scroll_into_view_if_needed()
            page.wait_for_timeout(300)
            page.screenshot(path=str(args.out / "phone-documents.png"))
            phone.close()
    for name in ("progress.png", "chat.png", "source.png", "open.png", "documents.png",
                 "phone-source.png", "phone-documents.png"):
        print(args.out / name)


if __name__ == "__main__":
    main()

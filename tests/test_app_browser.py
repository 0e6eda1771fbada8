"""The web chat in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright; no
browser download), on a 1360x900 desktop and a 390x844 phone, with the fake answer model:

* citations are numbered from 1, tapping one brings the highlighted span into view, and the
  highlight is exactly the quote shown under the answer;
* HTML typed in a question shows as text, and a rejected question never enters the chat;
* Stop ends an answer and the model stops writing;
* the phone's Documents table scrolls sideways instead of squeezing its columns;
* documents: filter, view, paste (form cleared, title from the first sentence), remove
  several with confirmation, undo.

Screenshots go to the test's temp folder (``scripts/screenshots.py`` makes the README ones).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import (
    BROWSER_APP_START_S,
    CHROMIUM,
    RENOVATION_Q,
    open_browser,
    running_app,
    scaled,
)

PAGE_MS = scaled(120_000)
"""Milliseconds the page may take to render (the same busy machine)."""
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)",
    ),
]


def ask(page, question: str, timeout: float = 180_000):
    """Type a question, send it, wait for the final answer (up to ``scaled(timeout)`` ms);
    return its element."""
    before = page.locator("#nqa-chat .nqa-final").count()
    page.locator("#nqa-question textarea").fill(question)
    page.locator("#nqa-send").click()
    page.wait_for_function(
        "(n) => document.querySelectorAll('#nqa-chat .nqa-final').length > n",
        arg=before, timeout=scaled(timeout),
    )
    return page.locator("#nqa-chat .nqa-answer").last


def open_citation(page, answer, expect: str = "", n: int = 1, tap: bool = False) -> str:
    """Click (or tap) the [n] footnote of an answer, wait until the source panel highlights
    a span containing ``expect``; return the highlighted text."""
    link = answer.locator("a.nqa-cite", has_text=f"[{n}]").first
    link.tap() if tap else link.click()
    page.wait_for_function(
        """(want) => {
            const m = document.querySelector('#nqa-source-panel mark.nqa-hl');
            return m && m.textContent.includes(want);
        }""", arg=expect, timeout=scaled(30_000),
    )
    return page.locator("#nqa-source-panel mark.nqa-hl").first.inner_text()


def in_viewport(page, selector: str, timeout: float = 10_000) -> bool:
    """True once the element is inside the visible screen (it may be scrolling there; up to
    ``scaled(timeout)`` ms)."""
    try:
        page.wait_for_function(
            """(sel) => {
                const el = document.querySelector(sel);
                if (!el) return false;
                const r = el.getBoundingClientRect();
                return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight
                    && r.left >= 0 && r.right <= window.innerWidth;
            }""", arg=selector, timeout=scaled(timeout),
        )
    except Exception:
        return False
    return True


def cite_numbers(answer) -> list[int]:
    return [int(t.strip("[]")) for t in answer.locator("a.nqa-cite").all_inner_texts()]


def first_quote(page) -> str:
    item = page.locator("#nqa-chat .nqa-sources").last.locator("li").first
    # the exact quote, marked inside its supporting sentence: what the source panel highlights
    return " ".join(item.locator("q.nqa-quote .nqa-quote-span").inner_text().split())


def test_desktop_chat_citations_safety_reload(app, playwright, tmp_path):
    browser = open_browser(playwright, tmp_path / "profile")
    page = browser.new_page()
    page.goto(app)
    page.locator("#nqa-question textarea").wait_for(timeout=PAGE_MS)
    assert "liaison office" in page.locator("#nqa-chat").inner_text()  # examples fit

    # HTML typed in a question is shown as typed
    typed = "<img src=x> <b>bold</b> " + RENOVATION_Q
    answer = ask(page, typed)
    bubble = page.locator("#nqa-chat .nqa-q").last
    assert bubble.inner_text().strip() == typed
    assert bubble.locator("img, b").count() == 0
    assert page.locator("#nqa-chat img[src='x']").count() == 0

    # numbered 1..n in order of first appearance
    numbers = cite_numbers(answer)
    assert numbers and numbers[0] == 1
    assert all(n <= max(numbers[:i] or [0]) + 1 for i, n in enumerate(numbers))
    assert "9.78 billion won" in answer.inner_text()
    assert "confidence" not in page.locator("#nqa-chat .nqa-final").last.inner_text()
    page.screenshot(path=str(tmp_path / "chat.png"))

    # Copy gives the answer and its sources as text, not HTML
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.locator("#nqa-chat a.nqa-copy").last.click()
    page.wait_for_function("() => /Copied/.test(document.querySelector('#nqa-chat').textContent)",
                           timeout=scaled(5_000))
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied.startswith("South Korea") and "9.78 billion won" in copied
    assert "Sources:" in copied and "<" not in copied

    # hovering a footnote previews its source and quote
    quote = first_quote(page)
    answer.locator("a.nqa-cite").first.hover()
    page.locator(".nqa-pop").wait_for(state="visible", timeout=scaled(5_000))
    assert quote in " ".join(page.locator(".nqa-pop").inner_text().split())

    # the highlight is exactly the quote shown, and it is on screen
    highlighted = open_citation(page, answer, "9.78 billion won")
    assert " ".join(highlighted.split()) == quote
    assert in_viewport(page, "#nqa-source-panel mark.nqa-hl")
    meta = page.locator("#nqa-source-panel .nqa-source-meta").inner_text()
    assert "/" not in meta and "pasted:" not in meta  # a file name, never a server path
    # the whole article, scrolled to the same span
    page.locator("#nqa-source-panel details.nqa-full summary").click()
    assert in_viewport(page, "#nqa-hl-full")
    assert " ".join(page.locator("#nqa-hl-full").inner_text().split()) == quote
    page.screenshot(path=str(tmp_path / "source.png"))

    # a follow-up (rewritten with the history), then a refusal with the nearest passages
    follow = ask(page, "In which year was it established?")
    assert cite_numbers(follow)[0] == 1
    refusal = ask(page, "Who won the 2018 World Cup?")
    assert "Not in the articles" in refusal.inner_text()
    assert page.locator("#nqa-chat .nqa-near").last.is_visible()

    # a rejected question never enters the chat
    count = page.locator("#nqa-chat .nqa-q").count()
    page.locator("#nqa-question textarea").fill("why " * 700)
    page.locator("#nqa-send").click()
    page.get_by_text("the limit is 2000").first.wait_for(timeout=scaled(15_000))
    time.sleep(0.5)
    assert page.locator("#nqa-chat .nqa-q").count() == count

    # after a reload the chat is restored and its citations still open their sources
    page.reload()
    page.locator("#nqa-chat .nqa-answer").first.wait_for(timeout=scaled(30_000))
    first = page.locator("#nqa-chat .nqa-answer").first
    assert "9.78 billion won" in open_citation(page, first, "9.78 billion won")
    browser.close()


def test_open_answer_sentences_each_highlight_their_own_sentence(app, playwright, tmp_path):
    """"Summarize the article": several sentences, each with its own footnote, and clicking
    each footnote highlights that footnote's supporting sentence (the fake model cites the
    first sentence of each passage; the system adds the most central ones it left out)."""
    browser = open_browser(playwright, tmp_path / "profile")
    page = browser.new_page()
    page.goto(app)
    page.locator("#nqa-question textarea").wait_for(timeout=PAGE_MS)
    answer = ask(page, "Summarize the article.")
    assert "nqa-open" in (answer.get_attribute("class") or ""), answer.inner_text()
    numbers = sorted(set(cite_numbers(answer)))
    assert len(numbers) >= 3 and numbers == list(range(1, len(numbers) + 1))
    quotes = [" ".join(q.split()) for q in page.locator("#nqa-chat .nqa-sources").last
              .locator("q.nqa-quote .nqa-quote-span").all_inner_texts()]
    assert len(quotes) == len(numbers) and len(set(quotes)) == len(quotes)
    for n, quote in zip(numbers, quotes, strict=True):
        highlighted = open_citation(page, answer, quote[:40], n=n)
        assert " ".join(highlighted.split()) == quote
    page.screenshot(path=str(tmp_path / "open.png"))
    # the picker lists the article; with it picked, a summary reads that article
    assert page.locator("#nqa-about").count() == 1
    browser.close()


def test_phone_citation_tap_and_documents_table(app, playwright, tmp_path):
    browser = open_browser(playwright, tmp_path / "profile", PHONE)
    page = browser.new_page()
    page.goto(app)
    page.locator("#nqa-question textarea").wait_for(timeout=PAGE_MS)
    answer = ask(page, RENOVATION_Q)
    assert cite_numbers(answer)[0] == 1
    quote = first_quote(page)
    highlighted = open_citation(page, answer, "9.78 billion won", tap=True)
    assert " ".join(highlighted.split()) == quote
    assert in_viewport(page, "#nqa-source-panel mark.nqa-hl"), "the span is below the fold"
    page.screenshot(path=str(tmp_path / "phone-source.png"))

    page.get_by_role("tab", name="Documents").click()
    page.locator("#nqa-docs table").wait_for(timeout=scaled(15_000))
    narrow = page.evaluate(
        """() => [...document.querySelectorAll('#nqa-docs th')].filter((th) => {
            const range = document.createRange();
            range.selectNodeContents(th);
            const text = range.getBoundingClientRect();
            return th.scrollWidth > th.clientWidth + 1 || text.height > 1.6 *
                parseFloat(getComputedStyle(th).lineHeight || 20) ||
                th.getBoundingClientRect().width < text.width;
        }).map((th) => th.textContent)""")
    assert narrow == [], f"headers squeezed on a phone: {narrow}"
    # the page itself does not scroll sideways: the table does, inside its box
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 392
    page.screenshot(path=str(tmp_path / "phone-documents.png"), full_page=True)
    browser.close()


def test_documents_filter_view_paste_remove_undo(app, playwright, tmp_path):
    browser = open_browser(playwright, tmp_path / "profile")
    page = browser.new_page()
    page.goto(app)
    page.get_by_role("tab", name="Documents").click()
    page.locator("#nqa-docs table").wait_for(timeout=PAGE_MS)

    # paste without a title: titled from its first sentence, the form cleared
    text = ("The Quillmoor ferry <b>resumed</b> service on Friday after the U.S. Coast Guard "
            "approved repairs to its hull and engines in the shipyard. It carries 300 cars.")
    page.locator("#nqa-paste-text textarea").fill(text)
    page.locator("#nqa-paste-date input, #nqa-paste-date textarea").first.fill("2024-05-01")
    page.locator("#nqa-paste-add").click()
    page.wait_for_function(
        "() => /added 1/.test(document.querySelector('#nqa-add-status').textContent)",
        timeout=scaled(60_000))
    assert page.locator("#nqa-paste-text textarea").input_value() == ""
    assert page.locator("#nqa-paste-date input, #nqa-paste-date textarea").first \
        .input_value() == ""
    page.wait_for_function(
        "() => /Quillmoor ferry/.test(document.querySelector('#nqa-docs').textContent)",
        timeout=scaled(15_000))
    title = page.locator("#nqa-docs a.nqa-doc-open", has_text="Quillmoor").inner_text()
    assert title.startswith("The Quillmoor ferry <b>resumed</b> service")
    assert title.endswith("…") and text.startswith(title[:-1].rstrip())
    assert page.locator("#nqa-docs b").count() == 0

    page.locator("#nqa-paste-text textarea").fill("Glimmer river flood displaced 300 families.")
    page.locator("#nqa-paste-title input, #nqa-paste-title textarea").first.fill(
        "Glimmer <i>flood</i> <img src=y> ${2+2} {{value}}")
    page.locator("#nqa-paste-add").click()
    page.wait_for_function(
        "() => /Glimmer <i>flood/.test(document.querySelector('#nqa-docs').textContent)",
        timeout=scaled(60_000))
    # titles are text everywhere: the table, the status line, the remove list, the examples
    for where in ("#nqa-docs", "#nqa-add-status", "#nqa-pick"):
        assert page.locator(f"{where} i, {where} img").count() == 0, where
    page.get_by_role("tab", name="Chat").click()
    page.wait_for_function(
        "() => /Glimmer <i>flood/.test(document.querySelector('#nqa-chat').textContent)",
        timeout=scaled(15_000))  # the example questions follow the documents the user has
    assert page.locator("#nqa-chat i, #nqa-chat img").count() == 0
    # nor are they templates: Gradio's HTML component fills ${value}; the title must not be
    assert "${2+2} {{value}}" in page.locator("#nqa-chat").inner_text()
    page.get_by_role("tab", name="Documents").click()

    # filter, then view a document
    page.locator("#nqa-doc-search textarea, #nqa-doc-search input").first.fill("quillmoor")
    page.wait_for_function(
        "() => document.querySelectorAll('#nqa-docs tbody tr').length === 1",
        timeout=scaled(15_000))
    page.locator("#nqa-docs a.nqa-doc-open").first.click()
    page.wait_for_function(
        "() => /300 cars/.test(document.querySelector('#nqa-doc-view').textContent)",
        timeout=scaled(15_000))
    page.locator("#nqa-doc-search textarea, #nqa-doc-search input").first.fill("")
    page.wait_for_function(
        "() => document.querySelectorAll('#nqa-docs tbody tr').length === 3",
        timeout=scaled(15_000))

    # remove two at once: confirm first, then undo
    page.locator("#nqa-remove-box").get_by_text("Remove documents").click()
    page.locator("#nqa-pick label", has_text="Quillmoor").click()
    page.locator("#nqa-pick label", has_text="Glimmer").click()
    page.locator("#nqa-remove").click()
    page.locator("#nqa-remove-yes").wait_for(state="visible", timeout=scaled(15_000))
    assert "Remove 2 documents" in page.locator("#nqa-confirm-msg").inner_text()
    assert page.locator("#nqa-docs tbody tr").count() == 3  # nothing removed yet
    page.locator("#nqa-remove-yes").click()
    page.wait_for_function(
        "() => document.querySelectorAll('#nqa-docs tbody tr').length === 1",
        timeout=scaled(30_000))
    page.locator("#nqa-undo").click()
    page.wait_for_function(
        "() => document.querySelectorAll('#nqa-docs tbody tr').length === 3",
        timeout=scaled(60_000))
    assert "Restored 2 documents" in page.locator("#nqa-add-status").inner_text()
    page.screenshot(path=str(tmp_path / "documents.png"), full_page=True)
    browser.close()


def _models_dir() -> Path:
    from qa.config import Settings

    return Settings.from_env().models_dir


@pytest.mark.skipif(not (_models_dir() / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf").is_file(),
                    reason="the packaged 1.5B model is not joined yet (python -m qa.llm.setup)")
@pytest.mark.timeout(1800)  # its own waits (the app's start, a 600 s answer) add up past 900 s
def test_real_model_answer_cited_and_highlighted(playwright, tmp_path):
    """The same checks with the packaged 1.5B model (minutes on 2 CPU cores), through the
    app's staged model wrapper: the JSON-constrained short answer, its quote highlighted."""
    with running_app(tmp_path / "data", start_s=BROWSER_APP_START_S, QA_LLM="embedded",
                     QA_MODELS_DIR=str(_models_dir())) as url:
        browser = open_browser(playwright, tmp_path / "profile")
        page = browser.new_page()
        page.goto(url)
        page.locator("#nqa-question textarea").wait_for(timeout=scaled(60_000))
        answer = ask(page, RENOVATION_Q, timeout=600_000)
        assert "9.78 billion won" in answer.inner_text()
        numbers = cite_numbers(answer)
        assert numbers and numbers[0] == 1
        quote = first_quote(page)
        highlighted = open_citation(page, answer)
        assert " ".join(highlighted.split()) == quote
        assert in_viewport(page, "#nqa-source-panel mark.nqa-hl")
        page.locator("#nqa-settings").get_by_text("Settings").click()
        assert "fake" not in page.locator("#nqa-settings").inner_text()
        page.screenshot(path=str(tmp_path / "real-model.png"))
        browser.close()


def test_stop_ends_an_answer_and_the_model(playwright, tmp_path):
    log = tmp_path / "tokens.log"
    with running_app(tmp_path / "data", script="tests/slow_app.py", start_s=BROWSER_APP_START_S,
                     QA_TEST_TOKEN_LOG=str(log), QA_TEST_TOKEN_DELAY="0.3") as url:
        browser = open_browser(playwright, tmp_path / "profile")
        page = browser.new_page()
        page.goto(url)
        page.locator("#nqa-question textarea").wait_for(timeout=PAGE_MS)
        page.locator("#nqa-question textarea").fill(RENOVATION_Q)
        page.locator("#nqa-send").click()
        # progress with stages and the preview, clearly not the answer
        page.wait_for_function(
            "() => /Writing the answer/.test(document.querySelector('#nqa-chat').textContent)",
            timeout=scaled(30_000))
        assert "Best matching sentences" in page.locator("#nqa-chat .nqa-preview").text_content()
        assert page.locator("#nqa-chat .nqa-answer").count() == 0
        page.locator("#nqa-stop").click()
        page.locator("#nqa-chat .nqa-stopped").wait_for(timeout=scaled(5_000))
        assert page.locator("#nqa-send").is_visible()
        time.sleep(scaled(1.0))  # the Stop reaches the model
        produced = len(log.read_text().splitlines())
        time.sleep(1.5)
        assert len(log.read_text().splitlines()) == produced, "the model kept writing"
        assert page.locator("#nqa-chat .nqa-answer").count() == 0

        # a reload during an answer keeps the question and says the answer was interrupted
        page.locator("#nqa-question textarea").fill("When was the liaison office established?")
        page.locator("#nqa-send").click()
        page.wait_for_function(
            "() => document.querySelectorAll('#nqa-chat .nqa-progress').length === 1",
            timeout=scaled(30_000))
        page.reload()
        page.get_by_text("Interrupted").first.wait_for(timeout=scaled(30_000))
        assert "When was the liaison office established?" in page.locator(
            "#nqa-chat").inner_text()
        browser.close()

"""The rough edges a new user met in the web chat (issue 25), in headless Chromium with the fake
answer model, on a 1280x800 desktop and a 390x844 phone:

* a reload restores every question as its bubble, never as markup;
* on a phone, asking after a footnote opened the source panel brings the chat and the new
  answer back into view;
* on a phone, the result of "Add files" and "Add text" is on screen;
* at 1280 pixels, "Clear chat" (and Ask) fit on one line.
"""

from __future__ import annotations

import pytest
from conftest import CHROMIUM, RENOVATION_Q, open_browser, scaled

PAGE_MS = scaled(120_000)
DESKTOP_1280 = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)",
    ),
]


def _open(playwright, tmp_path, device):
    browser = open_browser(playwright, tmp_path / "profile", device)
    page = browser.new_page()
    return browser, page


def ask(page, question: str, tap: bool = False):
    before = page.locator("#nqa-chat .nqa-final").count()
    page.locator("#nqa-question textarea").fill(question)
    send = page.locator("#nqa-send")
    send.tap() if tap else send.click()
    page.wait_for_function(
        "(n) => document.querySelectorAll('#nqa-chat .nqa-final').length > n",
        arg=before, timeout=scaled(180_000))
    return page.locator("#nqa-chat .nqa-answer").last


SEEN = """(sel) => {
    // the last element matching sel is (partly) on screen: inside the window and inside every
    // scrolling box around it
    const all = document.querySelectorAll(sel);
    const el = all[all.length - 1];
    if (!el) return false;
    const r = el.getBoundingClientRect();
    if (r.height <= 0 || r.bottom <= 0 || r.top >= window.innerHeight) return false;
    for (let p = el.parentElement; p; p = p.parentElement) {
        const oy = getComputedStyle(p).overflowY;
        if (oy !== 'auto' && oy !== 'scroll') continue;
        const b = p.getBoundingClientRect();
        if (r.bottom <= b.top || r.top >= b.bottom) return false;
    }
    return true;
}"""


def seen(page, selector: str, timeout: float = 10_000) -> bool:
    """True once the last element matching ``selector`` is on screen (up to
    ``scaled(timeout)`` ms: it may be scrolling there)."""
    try:
        page.wait_for_function(SEEN, arg=selector, timeout=scaled(timeout))
    except Exception:
        return False
    return True


def test_reload_restores_every_question_as_a_bubble(app, playwright, tmp_path):
    browser, page = _open(playwright, tmp_path, DESKTOP_1280)
    page.goto(app)
    page.locator("#nqa-question textarea").wait_for(timeout=PAGE_MS)
    ask(page, RENOVATION_Q)
    ask(page, "When was the liaison office established?")
    ask(page, "What did North Korea blow up?")
    page.reload()
    page.locator("#nqa-chat .nqa-answer").nth(2).wait_for(timeout=scaled(30_000))
    shown = page.locator("#nqa-chat").inner_text()
    assert "nqa-q" not in shown and "<div" not in shown, shown
    bubbles = [" ".join(t.split()) for t in page.locator("#nqa-chat .nqa-q").all_inner_texts()]
    assert bubbles == [RENOVATION_Q, "When was the liaison office established?",
                       "What did North Korea blow up?"]
    browser.close()


def test_phone_asking_brings_the_chat_back_into_view(app, playwright, tmp_path):
    browser, page = _open(playwright, tmp_path, PHONE)
    page.goto(app)
    page.locator("#nqa-question textarea").wait_for(timeout=PAGE_MS)
    answer = ask(page, RENOVATION_Q, tap=True)
    answer.locator("a.nqa-cite").first.tap()
    page.locator("#nqa-source-panel mark.nqa-hl").first.wait_for(timeout=scaled(30_000))
    assert seen(page, "#nqa-source-panel mark.nqa-hl:not(#nqa-hl-full)")  # down at the source
    ask(page, "When was the liaison office established?", tap=True)
    assert seen(page, "#nqa-chat .nqa-final"), "the new answer is off screen"
    assert seen(page, "#nqa-chat .nqa-q"), "the new question is off screen"
    page.screenshot(path=str(tmp_path / "phone-second-answer.png"))
    browser.close()


def test_phone_add_results_are_on_screen(app, playwright, tmp_path):
    browser, page = _open(playwright, tmp_path, PHONE)
    page.goto(app)
    page.get_by_role("tab", name="Documents").tap()
    page.locator("#nqa-docs table").wait_for(timeout=PAGE_MS)
    story = tmp_path / "harbour-bridge.txt"
    story.write_text("Harbour bridge reopens\n\nThe Tallow harbour bridge reopened on Monday "
                     "after two years of repairs costing 40 million euros.\n")
    page.locator("#nqa-files input[type=file]").set_input_files(str(story))
    page.locator("#nqa-upload").tap()
    page.wait_for_function(
        "() => /added 1/.test(document.querySelector('#nqa-add-status').textContent)",
        timeout=scaled(60_000))
    assert seen(page, "#nqa-add-status"), "the upload's result is below the fold"
    page.screenshot(path=str(tmp_path / "phone-upload.png"))

    page.locator("#nqa-paste-text textarea").fill(
        "The Quillmoor ferry resumed service on Friday after its hull was repaired.")
    page.evaluate("() => window.scrollTo(0, 0)")
    page.locator("#nqa-paste-add").tap()
    page.wait_for_function(
        "() => /Quillmoor/.test(document.querySelector('#nqa-add-status').textContent)",
        timeout=scaled(60_000))
    assert seen(page, "#nqa-add-status"), "the paste's result is below the fold"
    browser.close()


def test_desktop_1280_buttons_keep_their_labels_on_one_line(app, playwright, tmp_path):
    browser, page = _open(playwright, tmp_path, DESKTOP_1280)
    page.goto(app)
    page.locator("#nqa-question textarea").wait_for(timeout=PAGE_MS)
    wrapped = page.evaluate(
        """() => ['#nqa-send', '#nqa-clear'].filter((sel) => {
            let b = document.querySelector(sel);
            if (b && b.tagName !== 'BUTTON') b = b.querySelector('button') || b;
            const range = document.createRange();
            range.selectNodeContents(b);
            const lines = range.getClientRects();
            const tops = new Set([...lines].map((r) => Math.round(r.top)));
            return tops.size > 1 || b.scrollWidth > b.clientWidth + 1;
        })""")
    assert wrapped == [], f"labels wrap at 1280 px: {wrapped}"
    browser.close()

"""Regression tests for issue 14's eight findings: each failed before its fix.

1 app wedged by a CLI add to its folder · 2 malformed JSONL fields · 3 uncapped chunks ·
4 symlinks out of the added folder · 5 terminal injection · 6 read-only store · 7 removal by a
one-character prefix · 8 unreadable dates dropped silently.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import (
    CHROMIUM,
    RENOVATION_Q,
    can_mount_read_only,
    open_browser,
    read_only_qa,
    running_app,
    scaled,
)

from qa.cli import main
from qa.config import Settings
from qa.errors import NotFoundError, QAError, StoreError

QA = str(Path(sys.executable).with_name("qa"))


@pytest.fixture
def kb(settings: Settings):
    """An empty embedded knowledge base (these attacks do not depend on the store kind)."""
    from qa.kb import KnowledgeBase

    return KnowledgeBase(settings)


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QA_SEED_CORPUS", "0")
    data = tmp_path / "cli-data"

    def run(*argv, data_dir=None):
        code = main(["--data-dir", str(data_dir or data), *map(str, argv)])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _one_line_errors(err: str) -> list[str]:
    lines = err.strip().splitlines()
    assert "Traceback" not in err
    assert all(ln.startswith(("error: ", "warning: ")) for ln in lines), lines
    return lines


# -- 1: the web app and the CLI on one embedded folder ------------------------------------------

def test_cli_writes_are_refused_while_an_app_holds_the_folder(seeded_kb, cli, tmp_path):
    """In one process for speed; the same flock refuses another process (next test)."""
    from qa.kb import KnowledgeBase

    data = seeded_kb.settings.data_dir
    app_kb = KnowledgeBase(seeded_kb.settings, exclusive=True)  # what the app opens
    story = tmp_path / "story.txt"
    story.write_text("Ferry resumes\n\nThe island ferry resumed service on Friday.")
    try:
        code, out, err = cli("add", story, data_dir=data)
        assert code == 1
        (line,) = _one_line_errors(err)
        assert f"web app (pid {os.getpid()})" in line and "Documents tab" in line
        doc_id = app_kb.documents()[0].doc_id
        code, _, err = cli("remove", doc_id, data_dir=data)
        assert code == 1 and "web app" in err
        code, out, _ = cli("list", data_dir=data)  # reading beside the app is fine
        assert code == 0 and "North Korea" in out
        # the app itself still writes
        assert app_kb.add(story).count("added") == 1
    finally:
        app_kb.close()
    code, out, _ = cli("add", story, data_dir=data)  # the app is gone: the CLI may write
    assert code == 0 and "unchanged 1" in out
    second = KnowledgeBase(seeded_kb.settings, exclusive=True)  # the first app is gone
    try:
        with pytest.raises(StoreError, match="another newsqa web app"):
            KnowledgeBase(seeded_kb.settings, exclusive=True)
    finally:
        second.close()


def test_app_keeps_answering_when_qa_add_runs_beside_it(seeded_dir, tmp_path):
    """The attack as filed: app.py serving a folder, `qa add` on the same QA_DATA_DIR from
    another shell, then ask in the app. Before: every /ask failed with Chroma's "Error
    finding id". Now `qa add` is refused with one line, and the app answers."""
    gradio_client = pytest.importorskip("gradio_client")

    data = tmp_path / "data"
    shutil.copytree(seeded_dir, data)
    story = tmp_path / "story.jsonl"
    story.write_text(json.dumps({"title": "Ferry", "text": "The island ferry resumed."}) + "\n")
    env = {**os.environ, "QA_DATA_DIR": str(data), "QA_SEED_CORPUS": "0", "QA_CHROMA_URL": ""}
    with running_app(data) as url:
        client = gradio_client.Client(url, verbose=False)
        assert client.predict(RENOVATION_Q, [], 0, api_name="/ask")["citations"]
        out = subprocess.run([QA, "add", str(story)], capture_output=True, text=True, env=env,
                             timeout=scaled(300))
        assert out.returncode == 1, out.stdout + out.stderr
        assert out.stderr.count("\n") == 1 and "web app (pid" in out.stderr
        listed = subprocess.run([QA, "list"], capture_output=True, text=True, env=env,
                                timeout=scaled(300))
        assert listed.returncode == 0 and "North Korea" in listed.stdout
        for _ in range(3):
            answer = client.predict(RENOVATION_Q, [], 0, api_name="/ask")
            assert answer["citations"] and "9.78 billion won" in answer["answer"]
        added = client.predict(None, "The island ferry resumed on Friday.", "Ferry", "", "",
                               api_name="/add")
        assert added["text"]["summary"].startswith("added 1")


def test_a_store_failure_in_the_app_names_cause_and_remedy(seeded_kb):
    """Chroma's internal error text never reaches the user: a StoreError that says what to
    do, and the web app's message for anything unexpected hides its internals."""
    from chromadb.errors import InternalError

    from qa.web.service import Service
    from qa.web.ui import user_message

    service = Service(seeded_kb)

    def broken(*args, **kwargs):
        raise InternalError("Error executing plan: Internal error: Error finding id")

    seeded_kb.store.catalog.get = broken
    with pytest.raises(StoreError) as info:
        service.documents()
    text = str(info.value)
    assert "changed by another process" in text and "restart" in text
    assert "Error finding id" not in text and "\n" not in text
    assert user_message(info.value) == text
    assert "KeyError" not in user_message(KeyError("x")) and "log" in user_message(KeyError("x"))


# -- 2: malformed JSONL fields --------------------------------------------------------------------

BAD_FIELDS = [
    ({"title": 42, "text": "The harbour reopened after the storm."}, "'title' is a number"),
    ({"url": {"a": 1}, "text": "The harbour reopened after the storm."}, "'url' is an object"),
    ({"source": ["x"], "text": "The harbour reopened after the storm."}, "'source' is a list"),
    ({"id": {"n": 1}, "text": "The harbour reopened after the storm."}, "'id' is an object"),
    ({"title": True, "text": "The harbour reopened after the storm."}, "'title' is true/false"),
]


def test_a_malformed_jsonl_field_fails_its_line_only(kb, cli, tmp_path):
    path = tmp_path / "mixed.jsonl"
    good = {"title": "Bridge opens", "text": "The new bridge opened on Monday.", "id": 7}
    path.write_text("\n".join(json.dumps(row) for row, _ in BAD_FIELDS) + "\n"
                    + json.dumps(good) + "\n")
    report = kb.add(path)
    assert report.count("added") == 1 and report.count("failed") == len(BAD_FIELDS)
    for n, (_, reason) in enumerate(BAD_FIELDS, start=1):
        (o,) = [o for o in report.failed if o.origin.endswith(f":{n}")]
        assert reason in o.error and "must be a string" in o.error
    assert [d.title for d in kb.documents()] == ["Bridge opens"]
    # the CLI: one line per bad line, exit 1, the good line added
    code, out, err = cli("add", path)
    assert code == 1 and "added 1, unchanged 0, replaced 0, failed 5" in out
    assert len(_one_line_errors(err)) == len(BAD_FIELDS)


def test_pasted_text_with_wrong_types_is_an_input_error(kb):
    report = kb.add_text("Some text.", title=42)  # type: ignore[arg-type]
    assert report.count("failed") == 1 and "title is a number" in report.failed[0].error


# -- 3: chunks are capped (see also test_chunking.py) ----------------------------------------------

def test_a_huge_line_without_full_stops_gives_capped_passages(kb, cli, tmp_path):
    line = " ".join(f"item{i} lorem ipsum dolor sit amet" for i in range(2500))  # ~80 kB
    path = tmp_path / "dump.jsonl"
    path.write_text(json.dumps({"title": "Dump", "text": line}) + "\n")
    report = kb.add(path)
    assert report.count("added") == 1
    (doc,) = kb.documents()
    assert doc.chunks >= len(line) // kb.settings.chunk_size
    for p in kb.retrieve("item1234 lorem", k=5):
        assert len(p.text) <= kb.settings.chunk_size
        assert kb.article_text(p.doc_id)[p.start:p.end] == p.text


# -- 4: symbolic links -----------------------------------------------------------------------------

def test_links_leaving_the_added_folder_are_not_followed(kb, tmp_path):
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "real.txt").write_text("Ferry resumes\n\nThe island ferry resumed on Friday.")
    (folder / "passwd.txt").symlink_to("/etc/passwd")
    (folder / "alias.txt").symlink_to(folder / "real.txt")  # inside: fine
    (folder / "loop.txt").symlink_to(folder / "loop.txt")
    (folder / "etc").symlink_to("/etc")
    report = kb.add(folder)
    assert report.count("added") == 1  # real.txt (alias.txt is the same source)
    warned = {Path(origin).name: w for origin, w in report.warnings}
    assert "symbolic link to /etc/passwd" in warned["passwd.txt"]
    assert "not followed" in warned["passwd.txt"]
    assert "loops" in warned["loop.txt"]
    assert "/etc" in warned["etc"]
    assert "warnings 3" in report.summary()
    # named directly: refused, naming the target
    direct = tmp_path / "passwd.txt"
    direct.symlink_to("/etc/passwd")
    report = kb.add(direct)
    assert report.count("failed") == 1
    assert "symbolic link to /etc/passwd" in report.failed[0].error
    assert all("root:" not in p.text for p in kb.retrieve("root bin daemon nologin", k=5))


# -- 5: terminal injection -------------------------------------------------------------------------

HOSTILE_TITLE = "\x1b]0;pwned\x07\x1b[31mRed\x1b[0m\nf00dfeed  999 chunks  2020-01-01  Forged"


def test_nothing_the_cli_prints_carries_control_characters(cli, tmp_path):
    assert cli("add", "--text", "The council met on Tuesday.\x1b[2J", "--title",
               HOSTILE_TITLE)[0] == 0
    for argv in (["list"], ["list", "--json"], ["search", "council met"],
                 ["search", "--json", "council met"], ["add", "-v", "--text", "x y z",
                                                       "--title", HOSTILE_TITLE]):
        code, out, err = cli(*argv)
        for stream in (out, err):
            assert not any(ord(c) < 32 and c != "\n" or 0x7f <= ord(c) <= 0x9f for c in stream)
    code, out, _ = cli("list")
    assert len(out.strip().splitlines()) == 2  # one document, one total: no forged row
    assert "\\x1b]0;pwned\\x07" in out and "\\n" in out
    code, out, _ = cli("list", "--json")
    assert json.loads(out)[0]["title"] == HOSTILE_TITLE  # machines still get the exact text
    # a file name with a newline cannot forge a second error line
    bad = tmp_path / "a\nerror: forged.txt"
    bad.write_bytes(b"")
    code, _, err = cli("add", bad)
    assert code == 1 and len(err.strip().splitlines()) == 1 and "\\nerror: forged" in err


# -- 6: a read-only store --------------------------------------------------------------------------

def test_a_read_only_store_can_be_read_and_says_read_only(seeded_dir, tmp_path):
    if shutil.which("unshare") is None or not can_mount_read_only(tmp_path):
        pytest.skip("needs unshare and a private read-only bind mount")
    data = tmp_path / "data"
    shutil.copytree(seeded_dir, data)
    before = sorted(p.name for p in data.rglob("*"))
    out = read_only_qa(data, "list")
    assert out.returncode == 0, out.stderr
    assert "North Korea" in out.stdout
    out = read_only_qa(data, "search", "--json", "-k", "1", "How much did Seoul spend?")
    assert out.returncode == 0, out.stderr
    assert "9.78 billion won" in json.loads(out.stdout)[0]["text"]
    out = read_only_qa(data, "ask", "--json", "How much did South Korea spend on the office?")
    assert out.returncode == 0, out.stderr
    out = read_only_qa(data, "add", "--text", "Some new text.", "--title", "New")
    assert out.returncode == 1
    assert out.stderr.strip().count("\n") == 0 and "read-only" in out.stderr
    assert "rebuild" not in out.stderr and "move it away" not in out.stderr
    assert sorted(p.name for p in data.rglob("*")) == before


def test_the_web_app_says_read_only_when_asked_to_add(seeded_kb):
    from qa.web.service import Service

    service = Service(seeded_kb)
    seeded_kb.store.read_only = True
    for add in (lambda: service.add_text("New text.", "New"),
                lambda: service.add_uploads([(__file__, "x.txt")])):
        with pytest.raises(StoreError, match="is read-only; reading works"):
            add()
    with pytest.raises(StoreError, match="read-only"):
        seeded_kb.remove(seeded_kb.documents()[0].doc_id)
    with pytest.raises(StoreError, match="read-only"):
        service.remove_many([seeded_kb.documents()[0].doc_id])
    assert service.documents()


# -- 7: removal needs 6+ characters of the id ------------------------------------------------------

def test_a_short_prefix_never_removes_a_document(seeded_kb, cli):
    from qa.web.service import Service
    from qa.web.ui import removal_prompt

    data = seeded_kb.settings.data_dir
    (doc,) = seeded_kb.documents()
    for ref in (doc.doc_id[:1], doc.doc_id[:5]):
        with pytest.raises(NotFoundError, match="at least 6 characters"):
            seeded_kb.remove(ref)
        with pytest.raises(QAError, match="at least 6 characters"):
            Service(seeded_kb).remove(ref)
    seeded_kb.close()
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
    code, _, err = cli("remove", doc.doc_id[:1], data_dir=data)
    assert code == 1 and "at least 6 characters" in err
    code, out, _ = cli("list", data_dir=data)
    assert doc.doc_id in out
    # the web app asks first, naming the document, and removes nothing until confirmed
    from qa.kb import KnowledgeBase

    kb = KnowledgeBase(seeded_kb.settings)
    service = Service(kb)
    prompt = removal_prompt(service, doc.doc_id)
    assert doc.title in prompt and "Yes, remove" in prompt and "undo" in prompt
    assert [d["doc_id"] for d in service.documents()] == [doc.doc_id]
    assert service.remove(doc.doc_id[:6])["doc_id"] == doc.doc_id


def test_the_web_remove_button_only_asks(seeded_kb):
    """The Remove button's event is the confirmation question; only "Yes, remove" removes."""
    from qa.web.service import Service
    from qa.web.ui import build_ui

    demo = build_ui(Service(seeded_kb))
    by_button = {}
    for fn in demo.fns.values():
        for block_id, _event in fn.targets:
            block = demo.blocks.get(block_id)
            elem = getattr(block, "elem_id", None)
            if elem in ("nqa-remove", "nqa-remove-yes", "nqa-remove-no"):
                by_button.setdefault(elem, []).append(fn.fn.__name__)
    assert by_button["nqa-remove"] == ["ui_remove_ask"]
    assert by_button["nqa-remove-yes"] == ["ui_remove_confirm"]
    assert by_button["nqa-remove-no"] == ["ui_remove_cancel"]
    assert len(seeded_kb.documents()) == 1


# -- 8: unreadable dates are warnings --------------------------------------------------------------

def test_unreadable_dates_are_reported_as_warnings(kb, cli, tmp_path):
    path = tmp_path / "dated.jsonl"
    rows = [
        {"title": "A", "text": "The mayor opened the market.", "date": "yesterday"},
        {"title": "B", "text": "The river flooded the valley.", "date": ["2023", "01"]},
        {"title": "C", "text": "The school reopened in spring.", "date": "2023-03-04"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    memo = tmp_path / "memo.txt"
    memo.write_text("Memo\n\nDate: last Tuesday-ish\n\nThe board approved the budget.")
    report = kb.add(path, memo)
    assert report.count("added") == 4 and report.ok
    assert report.summary().endswith(", warnings 3")
    warned = {Path(o).name: w for o, w in report.warnings}
    assert "cannot read the date 'yesterday'" in warned["dated.jsonl:1"]
    assert "the date is a list" in warned["dated.jsonl:2"]
    assert "last Tuesday-ish" in warned["memo.txt"]
    assert {d.title: d.published for d in kb.documents()}["C"] == "2023-03-04"
    # on the CLI: a warning line each, and the summary says so
    code, out, err = cli("add", path, memo)
    assert code == 0 and "warnings 3" in out
    assert sum(ln.startswith("warning: ") for ln in _one_line_errors(err)) == 3
    # an explicit --date replaces the unreadable one: no warning
    code, out, err = cli("add", "--date", "2023-01-02", memo)
    assert "warnings" not in out and "warning:" not in err



# -- every error a user can cause is one line -------------------------------------------------

def test_a_bad_setting_is_one_line_not_a_traceback(cli, monkeypatch):
    monkeypatch.setenv("QA_CHUNK_SIZE", "lots")
    code, _, err = cli("list")
    assert code == 1 and _one_line_errors(err) == [
        "error: QA_CHUNK_SIZE must be an integer, got 'lots'"]
    monkeypatch.setenv("QA_CHUNK_SIZE", "0")
    code, _, err = cli("add", "--text", "Some text.", "--title", "T")
    assert code == 1 and "QA_CHUNK_SIZE" in err and len(_one_line_errors(err)) == 1


def test_removing_in_the_browser_asks_first(tmp_path):
    """Finding 7 in the Documents tab: Remove only asks; Cancel keeps; Yes, remove removes."""
    sync_api = pytest.importorskip("playwright.sync_api")

    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium")
    status = "() => document.querySelector('#nqa-add-status').textContent"
    with running_app(tmp_path / "data") as url, sync_api.sync_playwright() as p:
        browser = open_browser(p, tmp_path / "profile")
        page = browser.new_page()
        page.goto(url)
        page.get_by_role("tab", name="Documents").click()

        def choose():
            box = page.locator("#nqa-pick label", has_text=re.compile("North Korea"))
            if not box.locator("input").is_checked():
                box.click()

        def rows() -> int:
            return page.locator("#nqa-docs tbody tr").count()

        page.wait_for_function("() => /North Korea/.test(document.querySelector("
                               "'#nqa-docs').textContent)", timeout=scaled(30_000))
        page.locator("#nqa-remove-box").get_by_text("Remove documents").click()
        choose()
        page.locator("#nqa-remove").click()
        page.locator("#nqa-remove-yes").wait_for(state="visible", timeout=scaled(30_000))
        assert "North Korea" in page.locator("#nqa-confirm-msg").inner_text()
        assert "North Korea" in page.locator("#nqa-docs").inner_text()
        page.locator("#nqa-remove-no").click()
        page.wait_for_function(f"() => /Nothing was removed/.test(({status})())",
                               timeout=scaled(30_000))
        assert not page.locator("#nqa-remove-yes").is_visible()
        assert "North Korea" in page.locator("#nqa-docs").inner_text() and rows() >= 1
        choose()
        page.locator("#nqa-remove").click()
        page.locator("#nqa-remove-yes").wait_for(state="visible", timeout=scaled(30_000))
        page.locator("#nqa-remove-yes").click()
        page.wait_for_function(f"() => /Removed/.test(({status})())", timeout=scaled(30_000))
        page.wait_for_function("() => !/North Korea/.test(document.querySelector("
                               "'#nqa-docs').textContent)", timeout=scaled(30_000))
        browser.close()


def test_python_add_of_something_that_is_not_a_path_is_reported(kb):
    report = kb.add(42, "")  # type: ignore[arg-type]
    assert [o.error for o in report.failed] == ["not a file or folder path"] * 2

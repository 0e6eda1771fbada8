"""Issue 14's attack list, all 21, as functions that tests/test_attacks.py runs and
bench/attack_cost.py times (one list, two users).

Each attack is a function that raises AssertionError when newsqa does not hold. They run
against the web app's service layer (what ``/ask``, ``/add``, ``/remove`` call) and the ``qa``
command in this process, on one store; the read-only attack needs a second process (a
read-only mount). The caller sets QA_LLM=fake and QA_SEED_CORPUS=0 in the environment (the
``qa`` command reads them).
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import can_mount_read_only, read_only_qa

from qa.cli import main
from qa.errors import NotFoundError, QAError, StoreError

RENOVATION_Q = "How much did South Korea spend to renovate the liaison office?"


class Env:
    """The app's service on a seeded store, and a way to run `qa` beside it."""

    def __init__(self, data: Path, work: Path):
        from qa.config import Settings
        from qa.web.service import Service

        self.data, self.work = data, work
        self.settings = Settings.from_env().with_(data_dir=data, seed_corpus=False,
                                                  chroma_url=None, llm="fake")
        self.service = Service.from_env(self.settings)  # claims the folder, as app.py does

    def qa(self, *argv) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["--data-dir", str(self.data), *map(str, argv)])
        assert "Traceback" not in err.getvalue()
        return code, out.getvalue(), err.getvalue()

    def file(self, name: str, text: str) -> Path:
        path = self.work / name
        path.write_text(text, encoding="utf-8")
        return path

    def titles(self) -> set[str]:
        return {d["title"] for d in self.service.documents()}


# -- held before the fixes -------------------------------------------------------------------

def concurrent_adds(env: Env):
    """two writers adding into one folder at once (threads here; each takes the write lock)"""
    files = [env.file(f"c{i}.txt", f"Story {i}\n\nCouncil item {i} was approved on Monday.")
             for i in range(4)]
    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(lambda f: env.service.kb.add(f), files))
    assert all(r.count("added") == 1 for r in reports)
    assert {f"Story {i}" for i in range(4)} <= env.titles()


def kill_during_add(env: Env):
    """a writer killed mid-add: its half-written version is invisible, then cleaned up"""
    import socket

    from qa.index.store import PreparedDoc, doc_id_for, version_for
    from qa.ingest.chunking import chunk_text
    from qa.types import Article

    kb = env.service.kb
    art = Article("A half written story about the harbour.", "Half", "killed:1", None, "x")
    doc = PreparedDoc(art, doc_id_for(art.source), version_for(art, "v"),
                      chunk_text(art.text, 1000))
    # steps 1 and 2 of the commit protocol, as a process (pid 999999) that then died
    kb.store.catalog.upsert(
        ids=[f"pending:{doc.doc_id}"], embeddings=[[0.0]], documents=[""],
        metadatas=[{"kind": "pending", "doc_id": doc.doc_id, "version": doc.version,
                    "owner": f"{socket.gethostname()}:999999", "started": time.time()}])
    kb.store.vectorstore.add_texts([c.text for c in doc.chunks],
                                   metadatas=doc.chunk_metadatas(), ids=doc.chunk_ids())
    assert "Half" not in env.titles()
    assert all(p.title != "Half" for p in kb.retrieve("half written story harbour", k=5))
    assert kb.store.recover() == 1 and kb.store.count_chunks(doc.doc_id) == 0


def interrupted_reindex(env: Env):
    """an interrupted `qa reindex`: opening says to finish it, in one line"""
    from qa.kb import open_kb

    other = env.work / "reindex-data"
    shutil.copytree(env.data, other, ignore=shutil.ignore_patterns(".app.lock"))
    settings = env.settings.with_(data_dir=other)
    from qa.kb import KnowledgeBase

    kb = KnowledgeBase(settings)
    kb.store.set_meta("reindexing", True)
    with pytest.raises(QAError, match="run `qa reindex` to finish it"):
        open_kb(settings=settings)


def upload_names_with_dot_dot(env: Env):
    """upload names with ../ land in <data>/uploads under a safe name"""
    tmp = env.file("up.txt", "Upload\n\nThe upload arrived safely on Monday.")
    result = env.service.add_uploads([(tmp, "../../etc/cron.d/evil.txt")])
    assert result.report.count("added") == 1
    assert (env.data / "uploads" / "evil.txt").exists()
    assert not (env.work / "etc").exists()


def symlink_loop(env: Env):
    """a symlink loop inside an added folder: reported, the add finishes"""
    folder = env.work / "loopy"
    folder.mkdir()
    (folder / "ok.txt").write_text("Loop test\n\nThe ferry ran on time.")
    (folder / "self.txt").symlink_to(folder / "self.txt")
    (folder / "up").symlink_to(folder)
    report = env.service.kb.add(folder)
    assert report.count("added") == 1
    assert any("loops" in w for _, w in report.warnings)


def history_500_turns(env: Env):
    """500 history turns with a question"""
    history = [("user" if i % 2 == 0 else "assistant", f"turn {i} about the office")
               for i in range(500)]
    answer = env.service.ask(RENOVATION_Q, history)
    assert answer.text


def parallel_long_questions(env: Env):
    """20 questions near the 2000-character limit at once"""
    long_q = (RENOVATION_Q + " ") * 30
    long_q = long_q[:1990]
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: env.service.ask(long_q), range(20)))
    assert len(answers) == 20 and all(a.text for a in answers)


def pdf_that_is_a_zip(env: Env):
    """a .pdf that is really a ZIP: one clear reason"""
    path = env.work / "report.pdf"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    (o,) = env.service.kb.add(path).failed
    assert "not a PDF file" in o.error


def right_to_left(env: Env):
    """right-to-left text (Arabic, Hebrew, an RTL override) in questions and documents"""
    env.service.add_text("فريق كرة القدم فاز بالبطولة بعد مباراة طويلة.", "بطولة", "", "")
    for q in ("ما هي تكلفة تجديد المبنى؟", "כמה עלה השיפוץ?", "\u202eevil override\u202c"):
        answer = env.service.ask(q)
        assert answer.refused or answer.citations


def zero_width(env: Env):
    """zero-width characters in questions and titles"""
    report = env.service.add_text("The\u200b team\u200d won in Zürich.", "Zero\u200bwidth", "",
                                  "")
    assert report.ok
    answer = env.service.ask("How\u200b much\u200d did\u2060 Seoul spend?")
    assert answer.refused or answer.citations


# -- broken or degraded before the fixes -----------------------------------------------------

def cli_add_beside_the_app(env: Env):
    """1: `qa add` on the folder the app serves: refused in one line; the app answers"""
    path = env.file("beside.txt", "Beside\n\nA story added from the shell.")
    code, _, err = env.qa("add", path)
    assert code == 1 and err.count("\n") == 1 and "web app (pid" in err
    assert "Documents tab" in err
    code, out, _ = env.qa("list")
    assert code == 0
    assert env.service.ask(RENOVATION_Q).citations


def jsonl_title_number(env: Env):
    """2: a JSONL line whose title is 42: that line fails, the others are added"""
    path = env.file("t42.jsonl", json.dumps({"title": 42, "text": "Number title."}) + "\n"
                    + json.dumps({"title": "Fine one", "text": "The fine line."}) + "\n")
    report = env.service.kb.add(path)
    assert report.count("added") == 1
    assert "'title' is a number" in report.failed[0].error


def jsonl_url_object(env: Env):
    """2: a JSONL line whose url is an object: that line fails, the others are added"""
    path = env.file("url.jsonl", json.dumps({"url": {"a": 1}, "text": "Object url."}) + "\n"
                    + json.dumps({"title": "Fine two", "text": "Another fine line."}) + "\n")
    result = env.service.add_uploads([(path, "url.jsonl")])
    assert result.report.count("added") == 1
    assert any("'url' is an object" in ln for ln in result.lines())


def huge_line_without_full_stops(env: Env):
    """3: one long line with no full stop (35 kB here; 15 MB in the issue): capped chunks"""
    line = " ".join(f"entry{i} alpha beta gamma delta" for i in range(1200))
    path = env.file("dump.jsonl", json.dumps({"title": "Dump", "text": line}) + "\n")
    assert env.service.kb.add(path).count("added") == 1
    code, out, _ = env.qa("search", "--json", "-k", "5", "entry1100 alpha")
    assert code == 0
    assert all(len(p["text"]) <= env.settings.chunk_size for p in json.loads(out))


def symlink_to_system_file(env: Env):
    """4: `qa add passwd.txt`, a link to /etc/passwd: refused, naming the target"""
    link = env.work / "passwd.txt"
    link.symlink_to("/etc/passwd")
    report = env.service.kb.add(link)
    assert report.count("failed") == 1
    assert "symbolic link to /etc/passwd" in report.failed[0].error


def symlink_inside_folder(env: Env):
    """4: a link to /etc/passwd inside an added folder: not followed, a warning names it"""
    folder = env.work / "withlink"
    folder.mkdir()
    (folder / "news.txt").write_text("Link test\n\nThe market opened late.")
    (folder / "passwd.txt").symlink_to("/etc/passwd")
    report = env.service.kb.add(folder)
    assert report.count("added") == 1
    assert any("/etc/passwd" in w and "not followed" in w for _, w in report.warnings)
    assert all("root:" not in p.text for p in env.service.kb.retrieve("root nologin bash", 5))


def escape_sequences_in_a_title(env: Env):
    """5: a title with ANSI/OSC escapes and a newline, printed by `qa list`"""
    env.service.add_text("The board met on Friday.", "\x1b]0;owned\x07\x1b[31mRed\nforged row",
                         "", "")
    code, out, _ = env.qa("list")
    assert code == 0 and "\x1b" not in out and "\x07" not in out
    docs = len(env.service.documents())
    assert len(out.strip().splitlines()) == docs + 1


def newline_in_a_file_name(env: Env):
    """5: a file name with a newline cannot forge a second `error:` line"""
    bad = env.work / "x\nerror: all your base.txt"
    bad.write_bytes(b"")
    code, _, err = env.qa("add", bad)
    assert code == 1 and len(err.strip().splitlines()) == 1


def read_only_store(env: Env):
    """6: a read-only store: `qa list` and `qa search` work; `qa add` says read-only"""
    if shutil.which("unshare") is None or not can_mount_read_only(env.work):
        pytest.skip("needs unshare and a private read-only bind mount")
    data = env.work / "ro-data"
    shutil.copytree(env.data, data, ignore=shutil.ignore_patterns(".app.lock", "uploads"))
    out = read_only_qa(data, "list")
    assert out.returncode == 0 and "North Korea" in out.stdout, out.stderr
    out = read_only_qa(data, "add", "--text", "New.", "--title", "New")
    assert out.returncode == 1 and "read-only" in out.stderr and "rebuild" not in out.stderr


def remove_by_one_character(env: Env):
    """7: remove "5" (a unique one-character prefix): refused, nothing removed"""
    doc = env.service.documents()[-1]
    before = len(env.service.documents())
    with pytest.raises(NotFoundError, match="at least 6 characters"):
        env.service.remove(doc["doc_id"][:1])
    with pytest.raises(NotFoundError):
        env.service.kb.remove(doc["doc_id"][:5])
    assert len(env.service.documents()) == before


def unreadable_dates(env: Env):
    """8: dates "yesterday" and a list: added without a date, a warning each"""
    path = env.file("dates.jsonl", json.dumps({"title": "D1", "text": "One.", "date": "yesterday"})
                    + "\n" + json.dumps({"title": "D2", "text": "Two.", "date": [2023, 1]}) + "\n")
    report = env.service.kb.add(path)
    assert report.count("added") == 2 and "warnings 2" in report.summary()


ATTACKS = [
    concurrent_adds, kill_during_add, interrupted_reindex, upload_names_with_dot_dot,
    symlink_loop, history_500_turns, parallel_long_questions, pdf_that_is_a_zip,
    right_to_left, zero_width,
    cli_add_beside_the_app, jsonl_title_number, jsonl_url_object, huge_line_without_full_stops,
    symlink_to_system_file, symlink_inside_folder, escape_sequences_in_a_title,
    newline_in_a_file_name, read_only_store, remove_by_one_character, unreadable_dates,
]


def run_attacks(data: Path, work: Path) -> list[tuple[str, str, float]]:
    """Run every attack, in order, on one service over the store in ``data`` (``work``: a
    scratch folder); then check that the service still answers and lists what it did before
    the last attack. Returns (attack, outcome, wall seconds) per attack; the outcome is
    "held", "skipped (why)" or "FAILED: ..."."""
    env = Env(data, work)
    results = []
    try:
        for attack in ATTACKS:
            t0 = time.monotonic()
            try:
                attack(env)
                outcome = "held"
            except pytest.skip.Exception as exc:
                outcome = f"skipped ({exc})"
            except (AssertionError, QAError, StoreError) as exc:
                outcome = f"FAILED: {type(exc).__name__}: {exc}"
            results.append((attack.__doc__.strip(), outcome, time.monotonic() - t0))
        before = env.service.documents()
        assert env.service.ask(RENOVATION_Q).citations  # still answering at the end
        assert env.service.documents() == before
    finally:
        env.service.close()
    return results

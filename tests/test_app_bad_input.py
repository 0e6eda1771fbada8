"""Bad input through the web app's doors (the named API, as gradio_client or a raw HTTP
client would send it): each gets a clear message, and nothing already indexed is lost.

One app.py on 127.0.0.1 with the fake answer model and a 1 MB file limit (so that "over the
limit" needs no 20 MB upload). Path traversal is tried with raw multipart uploads, because
gradio_client only sends names of files that exist on the client.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import RENOVATION_Q, check_citations, running_app, scaled

from qa.web import uploads

pytestmark = pytest.mark.slow

gradio_client = pytest.importorskip("gradio_client")
httpx = pytest.importorskip("httpx")
handle_file = gradio_client.handle_file

MAX_MB = 1


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("badinput")
    data = root / "data"
    with running_app(data, QA_MAX_FILE_MB=str(MAX_MB)) as url:
        yield url, data


@pytest.fixture(scope="module")
def client(app):
    return gradio_client.Client(app[0], verbose=False)


@pytest.fixture
def unchanged(client):
    """Asserts that the documents listed before the test are all still listed after it,
    and still answerable."""
    before = {d["doc_id"]: d for d in client.predict(api_name="/list")}
    assert before
    yield before
    after = {d["doc_id"]: d for d in client.predict(api_name="/list")}
    for doc_id, d in before.items():
        assert after.get(doc_id) == d, f"lost or changed: {d['title']}"
    answer = client.predict(RENOVATION_Q, None, 0, api_name="/ask")
    assert "9.78 billion won" in answer["answer"]


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()}


# -- questions (the chat box's endpoint) ---------------------------------------------------------
@pytest.mark.parametrize("question", ["", "   ", "\n\t "])
def test_empty_question(client, unchanged, question):
    with pytest.raises(Exception, match="the question is empty"):
        client.predict(question, None, 0, api_name="/ask")


def test_100_kb_question_is_refused_with_its_length(client, unchanged):
    question = "Why did the office " + "really " * 14_400 + "explode?"
    assert len(question) > 100_000
    n = len(" ".join(question.split()))
    for history in (None, [{"role": "user", "content": RENOVATION_Q},
                           {"role": "assistant", "content": "9.78 billion won."}]):
        # with history too: the question is checked before the follow-up rewrite sees it
        with pytest.raises(Exception, match=f"the question is {n} characters; the limit is 2000"):
            client.predict(question, history, 0, api_name="/ask")


@pytest.mark.parametrize("question", [
    "كم أنفقت كوريا الجنوبية على تجديد مكتب الاتصال؟",                 # Arabic (RTL)
    "כמה הוציאה דרום קוריאה על שיפוץ משרד הקישור?",                   # Hebrew (RTL)
    "How much did South Korea spend 💸🇰🇷 to renovate the liaison office? 👨‍👩‍👧",
    "How\u200b much did South\u200d Korea spend to re\u200cnovate the liaison office?",
    "\u202eeciffo nosiail eht etavoner ot dneps aeroK htuoS did hcum woH\u202c",  # RTL override
    "\u200b\u200d\u2060",                                             # only invisible characters
    "🙂" * 500,
])
def test_unusual_unicode_questions_get_an_answer_or_a_refusal(client, unchanged, question):
    answer = client.predict(question, None, 0, api_name="/ask")
    assert answer["question"] == question or answer["question"] == " ".join(question.split())
    if answer["refused"]:
        assert answer["citations"] == []
    else:
        check_citations(answer)


def test_unicode_document_is_stored_intact_and_searchable(client, unchanged, tmp_path):
    title = "مهرجان الرياض للكتاب 📚 يجذب الزوار"
    body = (
        "افتتح مهرجان الرياض للكتاب أبوابه يوم الخميس بمشاركة ثلاثمئة دار نشر من عشرين دولة.\n\n"
        "בפסטיבל השתתפו גם הוצאות ספרים מירושלים ומחיפה, כך מסרו המארגנים.\n\n"
        "Organisers said the Quillmoor pavilion 🏛️ drew 45,000 visitors 👨‍👩‍👧 on its first "
        "day, and the\u200b closing ceremony is on Sunday 🎉."
    )
    doc = tmp_path / "riyadh-book-fair.md"
    doc.write_text(f"# {title}\n\n{body}", encoding="utf-8")
    out = client.predict([handle_file(str(doc))], "", "", "", "", api_name="/add")
    outcome = out["files"]["outcomes"][0]
    assert outcome["status"] == "added", out
    listed = {d["doc_id"]: d for d in client.predict(api_name="/list")}
    assert listed[outcome["doc_id"]]["title"] == title  # RTL text and emoji kept as they were

    # found by an Arabic question, an English one with emoji, and a Hebrew one
    for question, expect in [
        ("كم عدد دور النشر في مهرجان الرياض للكتاب؟", "ثلاثمئة دار نشر"),
        ("How many visitors 🏛️ did the Quillmoor pavilion draw?", "45,000 visitors"),
        ("מאיזה ערים הגיעו הוצאות הספרים לפסטיבל?", "מירושלים"),
    ]:
        answer = client.predict(question, None, 0, api_name="/ask")
        assert any(p["doc_id"] == outcome["doc_id"] for p in answer["passages"]), question
        if not answer["refused"]:
            check_citations(answer)
        if expect.isascii():
            assert not answer["refused"] and expect in answer["answer"], answer
    # the same text pasted is added too (title with RTL and emoji)
    pasted = client.predict(None, body, title + " (pasted)", "", "", api_name="/add")
    assert pasted["text"]["outcomes"][0]["status"] == "added", pasted
    for doc_id in (outcome["doc_id"], pasted["text"]["outcomes"][0]["doc_id"]):
        client.predict(doc_id, api_name="/remove")


# -- files ---------------------------------------------------------------------------------------
def test_bad_files_each_get_a_reason_and_good_ones_still_go_in(client, unchanged, tmp_path, app):
    files = {
        "empty.txt": b"",
        "whitespace.txt": b"   \n\n  \t ",
        "binary.txt": bytes(range(256)) * 40,
        "latin1.txt": "Café owner says prices will rise.".encode("latin-1"),
        "utf16.txt": "Ferry news\n\nThe ferry resumed.".encode("utf-16"),
        "over-limit.txt": b"word " * (MAX_MB * 300_000),
        "fake.pdf": b"this is not a pdf at all",
        "program.exe": b"MZ\x90\x00",
        "noextension": b"Title\n\nSome text.",
        "table.xlsx": b"PK\x03\x04 not really",
        "good.txt": b"Ferry service resumes\n\nThe island ferry resumed service on Friday.",
    }
    expected = {
        "empty.txt": "the file is empty",
        "whitespace.txt": "empty file",
        "binary.txt": "binary file",
        "latin1.txt": "not valid UTF-8",
        "utf16.txt": "binary file",
        "over-limit.txt": f"over the {MAX_MB} MB limit",
        "fake.pdf": "not a PDF",
        "program.exe": "file type 'exe' is not supported",
        "noextension": "file type 'no extension' is not supported",
        "table.xlsx": "file type 'xlsx' is not supported",
    }
    paths = []
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
        paths.append(handle_file(str(tmp_path / name)))
    out = client.predict(paths, "", "", "", "", api_name="/add")
    got = {o["origin"]: o for o in out["files"]["outcomes"]}
    assert set(got) == set(files), got
    for name, reason in expected.items():
        assert got[name]["status"] in ("failed", "rejected"), got[name]
        assert reason in got[name]["error"], (name, got[name]["error"])
        assert "\n" not in got[name]["error"]
    assert got["good.txt"]["status"] == "added"
    # refused types never reach the uploads folder
    stored = {p.name for p in (app[1] / "uploads").iterdir()}
    assert not {"program.exe", "noextension", "table.xlsx", "empty.txt",
                "over-limit.txt"} & stored
    client.predict(got["good.txt"]["doc_id"], api_name="/remove")


def test_a_file_far_over_the_limit_is_turned_away_at_the_door(client, unchanged, tmp_path):
    big = tmp_path / "huge.txt"
    with open(big, "wb") as fh:
        fh.truncate((2 * MAX_MB + 2) * 1_000_000)  # over Gradio's own cap (2x the limit + 1)
    with pytest.raises(Exception, match="(?i)(too large|exceeds|maximum|size)"):
        client.predict([handle_file(str(big))], "", "", "", "", api_name="/add")


def test_nothing_to_add(client, unchanged):
    with pytest.raises(Exception, match="nothing to add"):
        client.predict(None, "   ", "", "", "", api_name="/add")
    out = client.predict(None, "\u200b\u200d\ufeff", "Invisible", "", "", api_name="/add")
    assert out["text"]["outcomes"][0]["status"] == "failed", out


# -- file names ----------------------------------------------------------------------------------
TRAVERSAL_NAMES = [
    "../../etc/passwd.txt",
    "../../../../../../tmp/newsqa-escape.txt",
    "/etc/newsqa-abs.txt",
    "/tmp/newsqa-abs.md",
    "..\\..\\windows\\win.ini.txt",
    "C:\\Windows\\System32\\evil.txt",
    "nul\x00byte.txt",
    "....//....//dots.txt",
    "%2e%2e%2fencoded.txt",
    ".hidden.txt",
]


def _raw_add(url: str, names: list[str]) -> dict:
    """Upload files under the given names with a raw multipart request, then call /add on the
    server paths Gradio gave back, passing the hostile name as orig_name too."""
    with httpx.Client(base_url=url, timeout=scaled(60)) as http:
        files = [("files", (name, f"Escape attempt {i}\n\nThe file number {i} tried to "
                            f"escape with the name {name!r}.".encode(), "text/plain"))
                 for i, name in enumerate(names)]
        r = http.post("gradio_api/upload", files=files)
        r.raise_for_status()
        server_paths = r.json()
        data = [[{"path": p, "orig_name": n, "meta": {"_type": "gradio.FileData"}}
                 for p, n in zip(server_paths, names, strict=True)], "", "", "", ""]
        return _raw_call(http, "add", data)


def _raw_call(http, api: str, data: list) -> dict:
    r = http.post(f"gradio_api/call/{api}", json={"data": data})
    r.raise_for_status()
    event_id = r.json()["event_id"]
    r = http.get(f"gradio_api/call/{api}/{event_id}")
    event = data_line = None
    for line in r.text.splitlines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data_line = line.split(":", 1)[1].strip()
    return {"event": event, "data": json.loads(data_line) if data_line else None}


def test_path_traversal_names_land_only_in_the_uploads_folder(app, client, unchanged):
    url, data = app
    root = data.parent
    outside_before = {k: v for k, v in _tree(root).items() if not k.startswith("data/")}
    data_before = {k for k in _tree(data) if not k.startswith(("chroma/", "uploads/"))}
    assert not Path("/tmp/newsqa-escape.txt").exists()

    result = _raw_add(url, TRAVERSAL_NAMES)
    assert result["event"] == "complete", result
    outcomes = result["data"][0]["files"]["outcomes"]
    assert len(outcomes) == len(TRAVERSAL_NAMES)
    uploads_dir = data / "uploads"
    for o in outcomes:
        assert o["status"] in ("added", "rejected"), o
        assert "/" not in o["origin"] and "\\" not in o["origin"] and "\x00" not in o["origin"]
        assert not o["origin"].startswith(".")
    for d in client.predict(api_name="/list"):  # every upload's source is inside uploads/
        if d["source"].startswith("/") and "Liaison" not in d["title"]:
            assert Path(d["source"]).parent == uploads_dir.resolve(), d

    # nothing was written anywhere else: not next to the data folder, not in it, not in /etc
    outside_after = {k: v for k, v in _tree(root).items() if not k.startswith("data/")}
    changed = {k for k in outside_after if outside_before.get(k) != outside_after[k]}
    assert changed <= {k for k in outside_after if k.startswith("app-")}, changed  # our app log
    assert {k for k in _tree(data) if not k.startswith(("chroma/", "uploads/"))} == data_before
    for p in uploads_dir.iterdir():
        assert p.resolve().parent == uploads_dir.resolve() and not p.is_symlink()
    for escaped in ("/etc/passwd.txt", "/etc/newsqa-abs.txt", "/tmp/newsqa-abs.md",
                    "/tmp/newsqa-escape.txt", str(root / "passwd.txt"), str(root / "etc")):
        assert not os.path.exists(escaped), escaped
    for o in outcomes:
        if o["doc_id"]:
            client.predict(o["doc_id"], api_name="/remove")


def test_a_server_path_that_was_not_uploaded_is_refused(app, unchanged):
    """A client naming a file on the server (/etc/passwd, a file beside the data folder) gets
    an error, not the file's contents indexed."""
    url, data = app
    secret = data.parent / "secret.txt"
    secret.write_text("Secret plans\n\nThe secret is 1234.", encoding="utf-8")
    with httpx.Client(base_url=url, timeout=scaled(60)) as http:
        for path in ("/etc/passwd", str(secret), str(data / "chroma" / "chroma.sqlite3")):
            result = _raw_call(http, "add", [[{"path": path, "orig_name": "x.txt",
                                                "meta": {"_type": "gradio.FileData"}}],
                                              "", "", "", ""])
            assert result["event"] == "error", (path, result)
            assert "not uploaded by a user" in json.dumps(result["data"]), result


def test_names_gradio_turns_away_at_the_door(app, unchanged):
    """'..' and an empty name never reach the app; the server keeps serving (the fixture
    checks the corpus and an answer afterwards)."""
    with httpx.Client(base_url=app[0], timeout=scaled(60)) as http:
        r = http.post("gradio_api/upload", files=[("files", ("..", b"x\n\ny", "text/plain"))])
        assert r.status_code == 400 and "Invalid file name" in r.text
        r = http.post("gradio_api/upload", files=[("files", ("", b"x\n\ny", "text/plain"))])
        assert r.status_code >= 400  # Gradio answers 500 here; nothing is stored


@pytest.mark.parametrize("name", [*TRAVERSAL_NAMES, "..", "", "/", "a/b/../../..\\"])
def test_store_confines_any_client_name_to_the_folder(tmp_path, name):
    """The second line of defence, without Gradio's own sanitizing in front of it."""
    src = tmp_path / "src.txt"
    src.write_text("x", encoding="utf-8")
    folder = tmp_path / "box" / "uploads"
    target = uploads.store(src, name, folder)
    assert target.parent == folder and target.is_file()
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == sorted(
        ["src.txt", target.name])


def test_a_url_for_a_loopback_or_private_address_is_not_fetched(app, unchanged):
    """Gradio's file inputs download an http(s) URL given as a file's path, but only from
    public addresses (its SSRF guard): the app's own port, another local service or a private
    address is refused. (A public URL would be fetched: see docs/reliability.md.)"""
    url, _ = app
    with httpx.Client(base_url=url, timeout=scaled(60)) as http:
        for target in (f"{url}gradio_api/info", "http://localhost:9/x.txt",
                       "http://169.254.169.254/latest/meta-data.txt", "http://10.0.0.1/a.txt"):
            result = _raw_call(http, "add", [[{"path": target, "orig_name": "x.txt",
                                                "meta": {"_type": "gradio.FileData"}}],
                                              "", "", "", ""])
            assert result["event"] == "error", (target, result)

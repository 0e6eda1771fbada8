"""Every kind of bad input: one-line error naming the file, non-zero exit, nothing lost."""

import json

import pytest
from pdfs import pdf_without_text
from testdata import SEED

from qa.cli import main


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QA_SEED_CORPUS", "0")
    data = tmp_path / "data"

    def run(*argv):
        code = main(["--data-dir", str(data), *map(str, argv)])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def bad_files(folder):
    folder.mkdir()
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 40)
    (folder / "table.xlsx").write_bytes(b"PK\x03\x04 not really")
    (folder / "latin1.txt").write_bytes("Caf\xe9 owner says prices will rise.".encode("latin-1"))
    with open(folder / "huge.txt", "wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    (folder / "nav-only.html").write_text(
        "<html><head><title>Menu</title></head><body><nav><a href='/'>Home</a></nav></body></html>"
    )
    (folder / "scan.pdf").write_bytes(pdf_without_text())
    (folder / "fake.pdf").write_text("this is not a pdf at all")
    (folder / "bad.jsonl").write_text('{"title": "no text"}\nnot json\n')
    return {
        "empty.txt": "empty file",
        "binary.txt": "binary file",
        "table.xlsx": "unsupported file type",
        "latin1.txt": "not valid UTF-8",
        "huge.txt": "over the 20 MB limit",
        "nav-only.html": "no article text",
        "scan.pdf": "no text layer",
        "fake.pdf": "not a PDF",
        "bad.jsonl:1": "no 'text'",
        "bad.jsonl:2": "not valid JSON",
        "missing.txt": "no such file",
    }


def test_each_bad_input_gets_a_clear_error_and_good_files_still_go_in(cli, tmp_path):
    assert cli("add", SEED)[0] == 0
    bad = tmp_path / "bad"
    expected = bad_files(bad)
    good = tmp_path / "good.txt"
    good.write_text("Ferry service resumes\n\nThe island ferry resumed service on Friday.")
    files = [
        bad / name.split(":")[0] for name in expected if ":" not in name or name.endswith(":1")
    ]
    code, out, err = cli("add", *files, good)
    assert code == 1
    lines = err.strip().splitlines()
    for name, reason in expected.items():
        matching = [line for line in lines if f"{name}: " in line and reason in line]
        assert len(matching) == 1, (name, reason, lines)
        assert matching[0].startswith("error: ")
    assert len(lines) == len(expected)
    assert "added 1, unchanged 0, replaced 0, failed 11" in out
    code, out, _ = cli("list", "--json")
    titles = sorted(d["title"] for d in json.loads(out))
    assert titles == ["Ferry service resumes",
                      "North Korea Blows up Liaison Office on Its Side of Border With South"]


def test_a_folder_adds_only_supported_files_and_reports_the_bad_ones(cli, tmp_path):
    bad = tmp_path / "bad"
    bad_files(bad)
    code, out, err = cli("add", bad)
    assert code == 1
    assert "unsupported" not in err  # folders skip unsupported types silently
    assert "failed 9" in out


def test_explicit_encoding_reads_legacy_text(cli, tmp_path):
    p = tmp_path / "latin1.txt"
    p.write_bytes("Café prices\n\nThe café owner says prices will rise.".encode("latin-1"))
    code, out, _ = cli("add", "--encoding", "latin-1", p)
    assert code == 0 and "added 1" in out
    code, out, _ = cli("search", "--json", "-k", "1", "cafe prices")
    assert json.loads(out)[0]["title"] == "Café prices"


def test_bad_date_and_empty_paste_are_refused(cli, tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("Title\n\nBody.")
    code, _, err = cli("add", "--date", "yesterday-ish", p)
    assert code == 1 and "cannot read 'yesterday-ish' as a date" in err
    code, _, err = cli("add", "--text", "   ")
    assert code == 1 and "empty text" in err
    code, out, _ = cli("list")
    assert "no documents" in out


def test_remove_unknown_id_fails_cleanly(cli):
    code, _, err = cli("remove", "nope")
    assert code == 1 and err.startswith("error: no document with id or source 'nope'")


def test_corrupt_store_gets_a_clear_message(cli, tmp_path):
    store = tmp_path / "data" / "chroma"
    store.mkdir(parents=True)
    (store / "chroma.sqlite3").write_bytes(b"garbage" * 100)
    code, _, err = cli("list")
    assert code == 1
    assert "corrupt" in err and "rebuild" in err


def test_store_missing_its_database_is_not_silently_empty(cli, tmp_path):
    assert cli("add", SEED)[0] == 0
    (tmp_path / "data" / "chroma" / "chroma.sqlite3").unlink()
    code, _, err = cli("list")
    assert code == 1 and "corrupt" in err


def test_chunks_without_catalog_are_reported(tmp_path, monkeypatch, capsys):
    from chromadb.api.client import SharedSystemClient

    from qa.config import Settings
    from qa.errors import StoreError
    from qa.kb import KnowledgeBase

    settings = Settings.from_env().with_(data_dir=tmp_path / "d", seed_corpus=False)
    kb = KnowledgeBase(settings)
    kb.add(SEED)
    kb.store.client.delete_collection(kb.store.catalog_name)
    SharedSystemClient.clear_system_cache()
    with pytest.raises(StoreError, match="no document catalog"):
        KnowledgeBase(settings)


UNUSUAL = [
    "ما هي تكلفة تجديد المبنى؟",                       # Arabic, right to left
    "כמה עלה השיפוץ?",                                # Hebrew
    "How\u200b much\u200d did\u2060 Seoul spend?",    # zero-width characters
    "🏢💥 what was blown up? 🇰🇷",                      # emoji and flags
    "\u202eevil bidi override\u202c office",          # bidi control characters
]


@pytest.mark.parametrize("question", UNUSUAL)
def test_unusual_unicode_questions_are_answered_or_refused_never_crash(seeded_kb, question):
    from qa.llm.fake import FakeChatModel, grounded_reply

    passages = seeded_kb.retrieve(question, k=3)
    assert len(passages) == 3
    answer = seeded_kb.ask(question, llm=FakeChatModel(function=grounded_reply))
    assert isinstance(answer.text, str) and answer.text
    assert answer.refused or answer.citations


def test_unusual_unicode_in_documents_is_kept_and_searchable(kb):
    text = ("فريق كرة القدم فاز بالبطولة 🏆 بعد مباراة طويلة.\n\n"
            "The\u200b team\u200d celebrated in Zürich with 10\u00a0000 fans 🎉.")
    assert kb.add_text(text, title="Champions 🏆", date="2023-01-08").count("added") == 1
    (doc,) = kb.documents()
    stored = kb.article_text(doc.doc_id)
    assert "🏆" in stored and "فريق" in stored and "\u200b" not in stored
    assert kb.retrieve("Zürich fans celebrated", k=1)[0].title == "Champions 🏆"


def test_questions_through_the_cli(cli):
    code, _, err = cli("ask", "   ")
    assert code == 1 and "the question is empty" in err
    code, _, err = cli("search", "x" * 100_000)
    assert code == 1 and "limit is 2000" in err

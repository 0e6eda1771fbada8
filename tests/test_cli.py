"""The installed `qa` command, as a user runs it: one process per command, so each pays for
loading the embedder (slow; the same commands run in-process in test_bad_input.py and
test_install.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import scaled
from testdata import SEED

pytestmark = pytest.mark.slow

QA = str(Path(sys.executable).with_name("qa"))


def run(*args, data, env=None, input=None):
    return subprocess.run(
        [QA, "--data-dir", str(data), *map(str, args)],
        capture_output=True, text=True, input=input, timeout=scaled(300),
        env={**{k: v for k, v in os.environ.items() if k != "QA_SEED_CORPUS"}, **(env or {})},
    )


def test_add_list_search_remove_round_trip(tmp_path):
    data = tmp_path / "data"
    # asked for, the first run seeds the shipped sample article, and says so
    out = run("list", "--json", data=data, env={"QA_SEED_CORPUS": "1"})
    assert out.returncode == 0, out.stderr
    assert "also added the sample article" in out.stderr
    (seed,) = json.loads(out.stdout)
    assert seed["title"].startswith("North Korea Blows up") and seed["chunks"] > 0
    assert set(seed) >= {"doc_id", "title", "source", "published", "chunks"}

    story = tmp_path / "ferry.md"
    story.write_text("# Ferry resumes\n\nDate: 2023-01-06\n\nThe island ferry resumed on Friday.")
    out = run("add", story, SEED, data=data)
    assert out.returncode == 0, out.stderr
    assert "added 1, unchanged 1, replaced 0, failed 0" in out.stdout

    out = run("search", "--json", "-k", "2", "How much did Seoul spend on the building?", data=data)
    passages = json.loads(out.stdout)
    assert len(passages) == 2
    assert set(passages[0]) >= {"doc_id", "title", "source", "published", "text", "start",
                                "end", "score"}
    assert "9.78 billion won" in passages[0]["text"]

    out = run("search", data=data, input="When did the ferry resume?\n\n")
    assert out.returncode == 0 and "Ferry resumes" in out.stdout and "(2023-01-06)" in out.stdout

    out = run("remove", seed["doc_id"][:8], data=data)
    assert out.returncode == 0 and "removed" in out.stdout
    out = run("list", data=data)
    assert "Ferry resumes" in out.stdout and "North Korea" not in out.stdout


def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path):
    """`qa list | head -1`: the command stops quietly when the pipe's reader has gone."""
    data = tmp_path / "data"
    rows = [{"title": f"Story {i} " + "x" * 60, "text": f"Story number {i} happened today.",
             "date": "2023-01-06"} for i in range(400)]
    feed = tmp_path / "many.jsonl"
    feed.write_text("\n".join(json.dumps(r) for r in rows))
    assert run("add", feed, data=data).returncode == 0
    proc = subprocess.Popen([QA, "--data-dir", str(data), "list"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=scaled(120)) in (0, 141)
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_missing_file_exits_non_zero_with_one_line(tmp_path):
    out = run("add", tmp_path / "nope.txt", data=tmp_path / "data")
    assert out.returncode == 1
    assert out.stderr.strip() == f"error: {tmp_path / 'nope.txt'}: no such file or folder"


def test_ask_and_chat_with_the_fake_model(tmp_path):
    data = tmp_path / "data"
    env = {"QA_LLM": "fake", "QA_SEED_CORPUS": "1"}
    out = run("ask", "--json", "How much did South Korea spend to renovate the building?",
              data=data, env=env)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert not answer["refused"] and "9.78 billion won" in answer["answer"]
    assert answer["citations"][0]["quote"] and answer["citations"][0]["n"] == 1
    out = run("ask", "--json", "What is the capital of France?", data=data, env=env)
    assert json.loads(out.stdout)["refused"] is True
    out = run("chat", data=data, env=env,
              input="What did North Korea blow up?\nHow much did South Korea spend to renovate "
                    "it?\n\n")
    assert out.returncode == 0, out.stderr
    answers = out.stdout.split("you> ")[1:-1]  # one chunk of output per question asked
    assert len(answers) == 2 and all("[1]" in a for a in answers), out.stdout


def test_streaming_ask_says_when_the_model_reads_on(monkeypatch, capsys):
    """On a terminal, `qa ask` shows the preview, then the draft; when the first passages
    did not answer, it says the model reads the others instead of printing the preview twice."""
    from qa import cli
    from qa.types import Answer, ExtractiveEvent, FinalEvent, TokenEvent

    preview = Answer(text="Best sentence.", sentences=(), refused=False, confidence=0.5,
                     question="q", kind="extractive")
    final = Answer(text="Kaesong [1]", sentences=(), refused=False, confidence=0.5,
                   question="q", kind="generated")

    class Kb:
        def stream(self, question, history, as_of=None, about=None):
            yield from (ExtractiveEvent(preview), TokenEvent("Seo"), ExtractiveEvent(preview),
                        TokenEvent("Kaesong"), FinalEvent(final))

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert cli._answer_streaming(Kb(), "q", None) is final
    err = capsys.readouterr().err
    assert err.count("Best sentence.") == 1 and cli.NOT_IN_FIRST in err
    assert err.index("Seo") < err.index(cli.NOT_IN_FIRST) < err.index("Kaesong")

    # a number that did not check out: the model is asked again, and `qa ask` says so
    again = Answer(text="Best sentence.", sentences=(), refused=False, confidence=0.5,
                   question="q", kind="extractive", timings={"retry": 1.0})

    class Retrying:
        def stream(self, question, history, as_of=None, about=None):
            yield from (ExtractiveEvent(preview), TokenEvent("8.6%"), ExtractiveEvent(again),
                        TokenEvent("0.7%"), FinalEvent(final))

    assert cli._answer_streaming(Retrying(), "q", None) is final
    err = capsys.readouterr().err
    assert cli.NOT_IN_FIRST not in err
    assert err.index("8.6%") < err.index(cli.NUMBER_AGAIN) < err.index("0.7%")


def _passage(text: str, index: int = 0, start: int = 0):
    from qa.types import Passage

    return Passage(doc_id="d1", title="Liaison office", source="s", published="2020-06-16",
                   text=text, start=start, end=start + len(text), score=0.5,
                   chunk_index=index, chunk_id=f"d1:{index}")


def _fact(text: str, cited, n: int, passages):
    """A checked short answer citing ``cited`` as passage [n] of ``passages``."""
    from qa.types import Answer, AnswerSentence, Citation

    c = Citation(n=n, passage=cited, start=cited.start, end=cited.end, quote=cited.text,
                 support=0.5, sentence=cited.text)
    s = AnswerSentence(text=f"{text} [{n}]", citations=(c,), supported=True)
    return Answer(text=s.text, sentences=(s,), refused=False, confidence=0.5, question="q",
                  passages=tuple(passages))


def test_chat_numbers_footnotes_from_1_in_every_turn(monkeypatch, capsys):
    """A fact answer cites a passage by its rank ([2]); the reader sees footnotes from [1],
    in the second turn of `qa chat` as in the first."""
    from qa import cli
    from qa.types import FinalEvent

    p1 = _passage("North Korea blew up the office on Tuesday.")
    p2 = _passage("South Korea spent at least 9.78 billion won.", 1, 100)
    answers = iter([_fact("Tuesday", p1, 1, [p1, p2]),
                    _fact("9.78 billion won", p2, 2, [p1, p2])])

    class Kb:
        def stream(self, question, history, as_of=None, about=None):
            yield FinalEvent(next(answers))

    monkeypatch.setattr(cli, "_reader", lambda args, answers=True: Kb())
    typed = iter(["When was it blown up?", "How much did the South spend on it?", ""])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(typed))
    assert cli.cmd_chat(cli.build_parser().parse_args(["chat"])) == 0
    out = capsys.readouterr().out
    assert "Tuesday [1]" in out and "9.78 billion won [1]" in out
    assert "[2]" not in out, out
    assert "  [1] Liaison office (2020-06-16): “South Korea spent at least 9.78" in out


def test_search_and_refusals_show_passages_with_whitespace_collapsed(capsys):
    """A passage of several paragraphs reads as one line: no literal \\n, no blank lines."""
    from qa import cli
    from qa.types import Answer

    p = _passage("First paragraph ends here.\n\nSecond   paragraph\tfollows.")
    cli._print_passages([p], False)
    out = capsys.readouterr().out
    assert "    First paragraph ends here. Second paragraph follows.\n" in out
    assert "\\n" not in out and "\\t" not in out
    refusal = Answer(text="The articles don't say.", sentences=(), refused=True,
                     confidence=None, question="q", passages=(p,), kind="refusal")
    cli._print_answer(refusal, False)
    out = capsys.readouterr().out
    assert "First paragraph ends here. Second paragraph follows." in out
    assert "\\n" not in out, out


def _serve_output(tmp_path, env: dict, wait_for: str = "open http://") -> str:
    """Start `qa serve` on a free port, read its stdout until ``wait_for`` appears or it
    has been quiet past the hang detector's limit; stop it; return what it printed."""
    import selectors
    import time

    from conftest import free_port

    proc = subprocess.Popen(
        [QA, "--data-dir", str(tmp_path / "data"), "serve", "--port", str(free_port())],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "QA_SEED_CORPUS": "0", "QA_CHROMA_URL": "", **env},
    )
    out = ""
    try:
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + scaled(240)
        while wait_for not in out and time.monotonic() < deadline and proc.poll() is None:
            if sel.select(timeout=1):
                out += proc.stdout.readline()
        # the warm-up goes on loading the model: what is printed meanwhile must not be lost
        settle = time.monotonic() + scaled(5)
        while time.monotonic() < settle and sel.select(timeout=0.5):
            chunk = proc.stdout.readline()
            if not chunk:
                break
            out += chunk
    finally:
        proc.terminate()
        try:
            proc.wait(scaled(30))
        except subprocess.TimeoutExpired:
            proc.kill()
    return out


def _models_dir() -> Path:
    from qa.config import Settings

    return Settings.from_env().models_dir


@pytest.mark.parametrize("llm", ["fake", "embedded"])
def test_serve_always_says_where_it_listens(tmp_path, llm):
    """A real start of `qa serve`: the "open http://…" line is on its stdout, also while the
    embedded model loads in the background (the packaged 1.5B when it is joined, else the
    94 MB SmolLM2)."""
    env = {"QA_LLM": llm}
    if llm == "embedded":
        packaged = _models_dir() / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
        env.update({"QA_MODELS_DIR": str(_models_dir())} if packaged.is_file() else
                   {"QA_LLM": "embedded:smollm2", "QA_MODELS_DIR": str(tmp_path / "models")})
    out = _serve_output(tmp_path, env)
    assert "newsqa: opening the knowledge base" in out, out
    assert "newsqa: open http://127.0.0.1:" in out, out


def test_loading_the_model_keeps_what_other_threads_print(tmp_path):
    """llama-cpp-python points the process's stdout and stderr at /dev/null while a model
    loads (verbose=False); newsqa loads it with that redirect switched off, so a line printed
    by another thread meanwhile (qa serve's address, during the warm-up) always arrives, and
    llama.cpp itself still prints nothing."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import sys, threading, time\n"
        "from pathlib import Path\n"
        "from qa.llm import model_files\n"
        "from qa.llm.backends import load_llama\n"
        "path = sys.argv[2] or model_files.ensure_model('smollm2', Path(sys.argv[1]))\n"
        "done = threading.Event()\n"
        "threading.Thread(target=lambda: (load_llama(str(path), 2, 512), done.set())).start()\n"
        "n = 0\n"
        "while not done.is_set():\n"
        "    n += 1\n"
        "    print(f'line {n}', flush=True)\n"
        "    time.sleep(0.001)\n"
        "print(f'printed {n}', flush=True)\n"
    )
    # the packaged 1.5B when it is joined (its load logs notes that must not show either)
    packaged = _models_dir() / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    out = subprocess.run([sys.executable, str(probe), str(tmp_path / "models"),
                          str(packaged) if packaged.is_file() else ""],
                         capture_output=True, text=True, timeout=scaled(300))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    printed = int(lines[-1].split()[1])
    assert printed > 0 and len(lines) == printed + 1, f"{printed + 1 - len(lines)} lines lost"
    assert out.stderr == ""

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
        def stream(self, question, history, as_of=None):
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
        def stream(self, question, history, as_of=None):
            yield from (ExtractiveEvent(preview), TokenEvent("8.6%"), ExtractiveEvent(again),
                        TokenEvent("0.7%"), FinalEvent(final))

    assert cli._answer_streaming(Retrying(), "q", None) is final
    err = capsys.readouterr().err
    assert cli.NOT_IN_FIRST not in err
    assert err.index("8.6%") < err.index(cli.NUMBER_AGAIN) < err.index("0.7%")

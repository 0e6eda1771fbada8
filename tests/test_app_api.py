"""The web app through its named API (gradio_client), against a real server on 127.0.0.1.

The app runs as ``python app.py`` in a subprocess, on a free port, with its store in a temp
folder seeded with the shipped article and the fake answer model (QA_LLM=fake): answers are
checked end to end (retrieval, citation checking, refusal) without waiting for an LLM.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import RENOVATION_Q, check_citations, running_app, scaled

pytestmark = pytest.mark.slow

gradio_client = pytest.importorskip("gradio_client")

ROOT = Path(__file__).resolve().parent.parent
OFF_TOPIC_Q = "Who won the 2018 World Cup?"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("webapp") / "data") as url:
        yield url


@pytest.fixture(scope="module")
def client(app_url):
    return gradio_client.Client(app_url, verbose=False)


def test_named_endpoints_are_listed(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/ask", "/add", "/list", "/remove"} <= names


def test_ask_answers_with_a_correct_citation(client):
    answer = client.predict(RENOVATION_Q, None, 0, api_name="/ask")
    assert not answer["refused"]
    assert "9.78 billion won" in answer["answer"]
    check_citations(answer)
    seed = (ROOT / "corpus" / "north-korea-liaison-office.txt").read_text(encoding="utf-8")
    assert answer["citations"][0]["quote"] in seed
    assert answer["citations"][0]["title"].startswith("North Korea Blows up Liaison Office")


def test_follow_up_uses_the_history(client):
    first = client.predict(RENOVATION_Q, None, 0, api_name="/ask")
    history = [{"role": "user", "content": RENOVATION_Q},
               {"role": "assistant", "content": first["answer"]}]
    follow = client.predict("In which year was it established?", history, 0, api_name="/ask")
    assert "liaison office" in follow["standalone_question"].lower()
    assert not follow["refused"]
    check_citations(follow)


def test_off_topic_question_is_refused_with_nearest_passages(client):
    answer = client.predict(OFF_TOPIC_Q, None, 0, api_name="/ask")
    assert answer["refused"]
    assert answer["citations"] == []
    assert answer["passages"], "a refusal lists the nearest passages"


def test_an_open_question_gets_checked_sentences_about_the_picked_article(client):
    listed = client.predict(api_name="/list")
    doc = listed[0]["doc_id"]
    answer = client.predict("Summarize the article.", None, 0, doc[:8], api_name="/ask")
    assert answer["shape"] == "open" and not answer["refused"]
    shown = [s for s in answer["sentences"] if s["shown"]]
    assert len(shown) >= 3 and all(s["citations"] for s in shown)
    assert {c["doc_id"] for s in shown for c in s["citations"]} == {doc}
    assert all(s["verdict"] == "supported" for s in shown)


def test_empty_question_is_a_clear_error(client):
    with pytest.raises(Exception, match="empty"):
        client.predict("   ", None, 0, api_name="/ask")


def test_add_list_ask_remove(client, tmp_path):
    doc = tmp_path / "zorblax report.txt"
    doc.write_text(
        "Zorblax Corp Posts Record Profit\n\n"
        "Zorblax Corp reported a record quarterly profit of 42 million dollars on Monday.\n\n"
        "Chief executive Mira Tan said the gains came from its new solar panel factory in Ostrava.",
        encoding="utf-8",
    )
    bad = tmp_path / "notes.exe"
    bad.write_bytes(b"MZ....")
    out = client.predict(
        [gradio_client.handle_file(str(doc)), gradio_client.handle_file(str(bad))],
        "The Glimmer river flood displaced 300 families in the valley, officials said.",
        "Glimmer flood", "2024-05-01", "", api_name="/add",
    )
    statuses = {o["origin"]: (o["status"], o["error"]) for o in out["files"]["outcomes"]}
    assert statuses["zorblax-report.txt"][0] == "added"
    assert statuses["notes.exe"][0] == "rejected"
    assert "not supported" in statuses["notes.exe"][1]
    assert out["text"]["summary"].startswith("added 1")

    docs = client.predict(api_name="/list")
    by_title = {d["title"]: d for d in docs}
    assert {"Zorblax Corp Posts Record Profit", "Glimmer flood"} <= set(by_title)
    assert by_title["Glimmer flood"]["published"] == "2024-05-01"
    assert all(d["chunks"] >= 1 for d in docs)
    zorblax = by_title["Zorblax Corp Posts Record Profit"]
    # the upload was copied into the app's own folder under a sanitized name
    assert zorblax["source"].endswith("/uploads/zorblax-report.txt")

    answer = client.predict("Where is the Zorblax solar panel factory?", None, 0,
                            api_name="/ask")
    assert "Ostrava" in answer["answer"]
    check_citations(answer)
    assert answer["citations"][0]["doc_id"] == zorblax["doc_id"]

    removed = client.predict(zorblax["doc_id"], api_name="/remove")
    assert removed["doc_id"] == zorblax["doc_id"]
    titles = {d["title"] for d in client.predict(api_name="/list")}
    assert "Zorblax Corp Posts Record Profit" not in titles
    with pytest.raises(Exception, match="no document"):
        client.predict(zorblax["doc_id"], api_name="/remove")
    client.predict(by_title["Glimmer flood"]["doc_id"], api_name="/remove")


def test_twenty_concurrent_asks_all_cited(app_url):
    questions = [RENOVATION_Q, "What did KCNA say happened to the liaison office?",
                 "When was the inter-Korean liaison office established?",
                 "How much did the won weaken against the dollar?"]
    expect = ["9.78 billion", "terrific explosion", "2018", "0.7%"]
    client = gradio_client.Client(app_url, verbose=False)
    with ThreadPoolExecutor(20) as pool:
        jobs = [pool.submit(client.predict, questions[i % 4], None, 0, api_name="/ask")
                for i in range(20)]
        answers = [j.result(timeout=scaled(120)) for j in jobs]  # a hang detector
    for i, answer in enumerate(answers):
        assert not answer["refused"], answer
        assert expect[i % 4] in answer["answer"], (questions[i % 4], answer["answer"])
        check_citations(answer)

"""The web app's pure parts: safe upload names, footnote references, the source panel."""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.types import (  # noqa: E402
    Answer,
    AnswerSentence,
    Citation,
    Passage,  # noqa: E402
)
from qa.web.render import (  # noqa: E402
    SourceRef,
    answer_html,
    date_label,
    documents_html,
    history_pairs,
    message_text,
    paragraph_bounds,
    pending_html,
    question_html,
    source_html,
    source_label,
    status_html,
)
from qa.web.uploads import check, safe_name  # noqa: E402


def test_safe_name_drops_paths_and_odd_characters():
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("C:\\Users\\me\\Report 2024 (final).PDF") == "Report-2024-final.pdf"
    assert not safe_name(".bashrc").startswith(".")
    assert safe_name("Ünïcödé ñews.md") == "Unicode-news.md"
    assert safe_name("") == "upload"
    assert len(safe_name("a" * 500 + ".txt")) <= 100


def test_check_refuses_type_size_and_empty(tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 2000)
    assert "limit" in check(big, "big.txt", 1000).reason
    assert "not supported" in check(big, "evil.exe", 10**6).reason
    empty = tmp_path / "e.md"
    empty.write_bytes(b"")
    assert "empty" in check(empty, "e.md", 10**6).reason
    assert check(big, "ok.jsonl", 10**6) is None


def test_source_ref_round_trip_and_rejects_junk():
    ref = SourceRef("c81d4f623583cf5f", 10, 42, 2)
    assert SourceRef.parse("#nqa-src-" + ref.encode()) == ref
    assert SourceRef.parse("c81d4f623583cf5f-9-3") is None
    assert SourceRef.parse("<script>") is None


def test_source_panel_highlights_the_span_inside_its_paragraph():
    article = "First paragraph.\n\nSecond <b> one. The cited span here. Tail.\n\nThird."
    start = article.index("The cited")
    end = start + len("The cited span here.")
    assert article[slice(*paragraph_bounds(article, start, end))].startswith("Second")
    out = source_html(SourceRef("ab12", start, end, 1), title="T & co", source="https://x.y/a",
                      published="2020-06-16", article=article)
    assert '<mark class="nqa-hl">The cited span here.</mark>' in out
    context, whole = out.split("<details", 1)
    assert "Second &lt;b&gt; one." in context and "Third" not in context
    # the whole article is there too (folded), the same span marked, paragraphs kept
    assert "Open the whole article" in whole and "<p class=\"nqa-para\">Third.</p>" in whole
    assert '<mark class="nqa-hl" id="nqa-hl-full">The cited span here.</mark>' in whole
    assert 'href="https://x.y/a"' in out and "T &amp; co" in out and "2020-06-16" in out
    assert ">x.y<" in out  # the domain is shown, the link goes to the URL


def test_history_pairs_reads_gradio_messages():
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "How much?"}]},
        {"role": "assistant", "content": '<div class="nqa-answer" data-kind="generated">'
         '9.78 billion won <a class="nqa-cite" href="#nqa-src-ab-1-2-1">[1]</a>.</div>'
         '<ol class="nqa-sources"><li>junk</li></ol>'},
    ]
    assert history_pairs(messages) == [
        ("user", "How much?"), ("assistant", "9.78 billion won [1].")
    ]


# -- citations numbered by first appearance, quotes, metadata, escaping ------------------------
ARTICLE = ("Seoul said on Sept. 5 that it spent 9.78 billion won. The office opened in 2018.\n\n"
           "It was blown up on Tuesday.")


def _passage(i: int, doc: str = "ab12cd34", source: str = "https://www.example.com/a") -> Passage:
    return Passage(doc_id=doc, title=f"Title <{i}>", source=source, published=None,
                   text=ARTICLE, start=0, end=len(ARTICLE), score=0.5, chunk_index=i)


def _cite(n: int, p: Passage, quote: str) -> Citation:
    start = ARTICLE.index(quote)
    return Citation(n=n, passage=p, start=start, end=start + len(quote), quote=quote, support=0.9)


def _answer() -> Answer:
    passages = tuple(_passage(i) for i in range(3))
    q1 = "Seoul said on Sept. 5 that it spent 9.78 billion won."
    q2 = "It was blown up on Tuesday."
    s1 = AnswerSentence("It spent 9.78 billion won [3].", (_cite(3, passages[2], q1),), True)
    s2 = AnswerSentence("It was destroyed on Tuesday [1].", (_cite(1, passages[0], q2),), True)
    s3 = AnswerSentence("Again 9.78 billion won [3].", (_cite(3, passages[2], q1),), True)
    return Answer(text="", sentences=(s1, s2, s3), refused=False, confidence=0.26,
                  passages=passages, kind="generated")


def test_citations_are_numbered_by_first_appearance_with_their_quote():
    out = answer_html(_answer())
    body = out.split('<ol class="nqa-sources">')[0]
    assert re.findall(r">\[(\d+)\]</a>", body) == ["1", "2", "1"]  # rank 3 shows as [1]
    sources = out.split('<ol class="nqa-sources">')[1]
    assert re.findall(r">\[(\d+)\]</a>", sources) == ["1", "2"]
    # the quote shown is the whole supporting sentence, and the link points at its span
    assert "Seoul said on Sept. 5 that it spent 9.78 billion won." in sources
    start = ARTICLE.index("Seoul")
    assert f"#nqa-src-ab12cd34-{start}-{start + 53}-1" in out
    # metadata: domain, one way of saying "no date", no raw confidence number
    assert "example.com" in sources and "www." not in sources.split("href")[0]
    assert "no date" in sources and "0.26" not in out
    assert "Title &lt;2&gt;" in out and "<2>" not in out
    assert "backed by 2 quoted sentences from 1 article" in out


def test_a_short_answer_shows_its_supporting_sentence_and_links_the_exact_quote():
    """The new answer format: "Kaesong [1]", one citation whose quote is the verified span
    and whose sentence is the whole sentence around it."""
    p = _passage(0)
    sentence = "Seoul said on Sept. 5 that it spent 9.78 billion won."
    quote = "9.78 billion won"
    start = ARTICLE.index(quote)
    cite = Citation(n=1, passage=p, start=start, end=start + len(quote), quote=quote,
                    support=0.8, sentence=sentence)
    text = "A May 2024 article says: 9.78 billion won [1]"
    answer = Answer(text=text, sentences=(AnswerSentence(text, (cite,), True),), refused=False,
                    confidence=0.8, passages=(p,), kind="generated", as_of="2024-05-02")
    out = answer_html(answer)
    body, sources = out.split('<ol class="nqa-sources">')
    assert "A May 2024 article says: 9.78 billion won" in body and "As of" not in body
    assert re.findall(r">\[(\d+)\]</a>", body) == ["1"]
    # under the answer: the whole sentence, the quote marked inside it
    assert ("Seoul said on Sept. 5 that it spent <span class=\"nqa-quote-span\">9.78 billion "
            "won</span>.") in sources
    # the footnote opens exactly the quote's span, and the source panel highlights just that
    assert f"#nqa-src-ab12cd34-{start}-{start + len(quote)}-1" in out
    panel = source_html(SourceRef("ab12cd34", start, start + len(quote), 1), title="T",
                        source="", published=None, article=ARTICLE)
    assert re.search(r"<mark[^>]*>9\.78 billion won</mark>", panel)
    # with no sentence (an older answer), the quote alone is shown
    bare = answer_html(Answer(text="x [1]", sentences=(AnswerSentence(
        "x [1]", (Citation(n=1, passage=p, start=start, end=start + len(quote), quote=quote,
                           support=0.8),), True),), refused=False, confidence=0.8,
        passages=(p,), kind="generated"))
    assert '<span class="nqa-quote-span">9.78 billion won</span></q>' in bare


def test_source_labels_never_show_a_server_path_or_a_hash():
    assert source_label("https://www.reuters.com/world/x") == ("reuters.com",
                                                               "https://www.reuters.com/world/x")
    assert source_label("/srv/data/uploads/report.pdf") == ("report.pdf", None)
    assert source_label("/data/feed.jsonl#12") == ("feed.jsonl", None)
    assert source_label("pasted:3f2a9c0d") == ("pasted text", None)
    assert date_label(None) == date_label("") == "no date"
    assert date_label("2020-06-16") == "2020-06-16"


def test_user_text_is_escaped_everywhere():
    evil = '<img src=x onerror=alert(1)> <b>bold</b>'
    assert "<img" not in question_html(evil) and "&lt;b&gt;bold" in question_html(evil)
    docs = documents_html([{"doc_id": "ab12cd34ef", "title": evil, "source": "/x/<b>.txt",
                            "published": None, "chunks": 1, "added_at": ""}])
    assert "<img" not in docs and "<b>" not in docs
    assert "<img" not in status_html([evil], heading=evil)
    assert "<th>Title</th>" in docs


def test_preview_is_labelled_and_never_counts_as_an_answer():
    pending = pending_html([], 1.5, preview=_answer(), draft="It spent [3] 9.78")
    assert "Best matching sentences" in pending and "nqa-answer" not in pending
    assert "[3]" not in pending.split("nqa-draft")[1]
    assert message_text(pending) == ""
    stopped = pending_html([], 2.0, preview=_answer(), stopped=True)
    assert "nqa-stopped" in stopped and message_text(stopped) == ""
    assert message_text(question_html("a <b> & c")) == "a <b> & c"


def test_restored_chat_escapes_old_questions_and_marks_interrupted_answers():
    from qa.web.render import interrupted

    old = [{"role": "user", "content": "<img src=x> <b>bold</b>"},
           {"role": "user", "content": [{"type": "text", "text": "<i>parts</i>"}]},
           {"role": "assistant", "content": pending_html([], 1.0)},
           {"role": "user", "content": question_html("a < b")}]
    out = interrupted(old)
    assert out[0]["content"] == question_html("<img src=x> <b>bold</b>")
    assert out[1]["content"] == question_html("<i>parts</i>")
    assert "Interrupted" in out[2]["content"] and message_text(out[2]["content"]) == ""
    assert out[3] == old[3]


def test_restored_chat_keeps_every_question_a_bubble():
    """Gradio hands the chat's earlier turns back as lists of parts; saved so and restored
    after a reload, each question is still its bubble, never its markup shown as text."""
    from qa.web.render import interrupted

    q = "How much did South Korea spend to renovate the liaison office?"
    saved = [{"role": "user", "content": [{"type": "text", "text": question_html(q)}]},
             {"role": "assistant", "content": [{"type": "text", "text": "<b>answer</b>"}]},
             {"role": "user", "content": question_html("a < b")}]
    out = interrupted(saved)
    assert out[0]["content"] == question_html(q)
    assert message_text(out[0]["content"]) == q
    assert out[1]["content"] == "<b>answer</b>"
    assert out[2]["content"] == question_html("a < b")
    # a bubble cannot smuggle markup in: its text is escaped again
    forged = interrupted([{"role": "user", "content": '<div class="nqa-q"><img src=x></div>'}])
    assert forged[0]["content"] == question_html("<img src=x>")

"""Loaders: what each file type yields, with real trafilatura and pypdf."""

import json

from pdfs import pdf_with_text, pdf_without_text
from testdata import SEED

from qa.ingest.loaders import load_file, pasted

MB = 10**8


def one(path, **kw):
    (article,) = load_file(path, max_bytes=MB, **kw)
    assert not isinstance(article, Exception), article
    return article


def test_seed_article_title_and_comment_tail_dropped():
    a = one(SEED)
    assert a.title == "North Korea Blows up Liaison Office on Its Side of Border With South"
    assert a.text.startswith("North Korea blew up an office")
    assert "Leave a Reply" not in a.text
    assert "Be the first to comment" not in a.text
    assert "email address will not be published" not in a.text
    assert a.text.endswith("residential facilities in the building.")


def test_markdown_heading_and_metadata_lines(tmp_path):
    p = tmp_path / "story.md"
    p.write_text(
        "# Storm hits coast\n\nDate: 2023-01-05\nSource: https://news.example/storm\n\n"
        "The storm made landfall on Tuesday.\n\nAdvertisement\n\nThousands lost power.\n"
    )
    a = one(p)
    assert a.title == "Storm hits coast"
    assert a.published == "2023-01-05"
    assert a.source == "https://news.example/storm"
    assert a.text == "The storm made landfall on Tuesday.\n\nThousands lost power."


def test_markdown_front_matter(tmp_path):
    p = tmp_path / "fm.md"
    p.write_text("---\ntitle: Rates rise\ndate: 2023/01/06\n---\n\nThe bank raised rates.\n")
    a = one(p)
    assert (a.title, a.published, a.text) == ("Rates rise", "2023-01-06", "The bank raised rates.")


HTML = """<!doctype html><html><head><title>Bridge reopens | City News</title>
<meta property="og:title" content="Bridge reopens after two years">
<meta property="article:published_time" content="2023-01-04T08:00:00Z">
<link rel="canonical" href="https://citynews.example/bridge-reopens"></head>
<body><nav><a href="/">Home</a> <a href="/sport">Sport</a> <a href="/weather">Weather</a></nav>
<article><h1>Bridge reopens after two years</h1>
<p>The Old Mill bridge reopened to traffic on Wednesday after a two-year, 40 million dollar
repair that replaced its steel deck and strengthened the piers against floods.</p>
<p>The mayor said commuters would save about twenty minutes a day now that the crossing is open
again, and that cyclists get a separated lane for the first time.</p></article>
<section class="comments"><h3>Leave a Reply</h3><p>Great news!</p></section>
<footer>Copyright 2023 City News. All rights reserved.</footer></body></html>"""


def test_html_main_text_and_metadata(tmp_path):
    p = tmp_path / "bridge.html"
    p.write_text(HTML)
    a = one(p)
    assert a.title == "Bridge reopens after two years"
    assert a.source == "https://citynews.example/bridge-reopens"
    assert a.published == "2023-01-04"
    assert "40 million dollar" in a.text and "separated lane" in a.text
    for junk in ("Sport", "Weather", "Leave a Reply", "Great news", "Copyright"):
        assert junk not in a.text
    assert "\n\n" in a.text  # paragraphs kept apart


def test_pdf_text_layer(tmp_path):
    p = tmp_path / "report.pdf"
    p.write_bytes(pdf_with_text(["Harbour expansion approved", "The council approved the",
                                 "harbour expansion on Monday."]))
    a = one(p)
    assert "council approved the harbour expansion on Monday." in a.text


def test_jsonl_one_article_per_line(tmp_path):
    p = tmp_path / "a.jsonl"
    rows = [
        {"id": "x1", "url": "https://e.example/1", "title": "One", "date": "2023/01/05",
         "text": "First article text."},
        {"id": "x2", "url": "https://e.example/2", "title": "Two", "date": None,
         "text": "Second article text."},
    ]
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    a, b = load_file(p, max_bytes=MB)
    assert (a.title, a.source, a.published, a.text) == (
        "One", "https://e.example/1", "2023-01-05", "First article text.")
    assert (b.title, b.published) == ("Two", None)


def test_explicit_fields_override(tmp_path):
    p = tmp_path / "n.txt"
    p.write_text("Headline here\n\nBody text of the story.")
    a = one(p, title="Better title", source="https://x.example/n", date="5 January 2023")
    assert (a.title, a.source, a.published) == ("Better title", "https://x.example/n", "2023-01-05")


def test_pasted_text_source_follows_title():
    a = pasted("Some pasted body.", title="Memo")
    b = pasted("Some edited body.", title="Memo")
    assert a.source == b.source == "pasted:Memo"
    c = pasted("Untitled body one.")
    assert c.source.startswith("pasted:") and c.source != pasted("Untitled body two.").source


def test_pdf_helpers_are_real_pdfs(tmp_path):
    from pypdf import PdfReader

    p = tmp_path / "blank.pdf"
    p.write_bytes(pdf_without_text())
    assert len(PdfReader(p).pages) == 1

"""The web app's pure parts: safe upload names, footnote references, the source panel."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from newsqa_web.render import (  # noqa: E402
    SourceRef,
    history_pairs,
    paragraph_bounds,
    source_html,
)
from newsqa_web.uploads import check, safe_name  # noqa: E402


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
    assert "Second &lt;b&gt; one." in out and "Third" not in out
    assert 'href="https://x.y/a"' in out and "T &amp; co" in out and "2020-06-16" in out


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

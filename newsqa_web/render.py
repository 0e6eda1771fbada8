"""HTML for the chat: answers with clickable [n] footnotes, refusals, the source panel.

A citation link carries everything needed to show its source (document id and the span's
offsets in the stored article), so a citation opens the same way after a page reload or in a
replayed history: nothing is looked up in per-session state.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from qa.answer_types import Answer, Citation
from qa.models import Passage

REF_PREFIX = "nqa-src-"
_REF = re.compile(r"^([0-9a-f]{4,64})-(\d+)-(\d+)(?:-(\d+))?$")
_MARKS = re.compile(r"((?:\s*\[\d+\])+)")
_ONE_MARK = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class SourceRef:
    """Which span of which stored article a footnote points to."""

    doc_id: str
    start: int
    end: int
    n: int = 0

    def encode(self) -> str:
        return f"{self.doc_id}-{self.start}-{self.end}-{self.n}"

    @classmethod
    def parse(cls, ref: str) -> SourceRef | None:
        ref = (ref or "").strip()
        if ref.startswith("#"):
            ref = ref[1:]
        if ref.startswith(REF_PREFIX):
            ref = ref[len(REF_PREFIX):]
        m = _REF.match(ref)
        if not m:
            return None
        start, end = int(m.group(2)), int(m.group(3))
        if end < start:
            return None
        return cls(m.group(1), start, end, int(m.group(4) or 0))


def _link(ref: SourceRef, label: str, cls: str = "nqa-cite") -> str:
    title = f"Show source [{ref.n}]" if ref.n else "Show source"
    return (
        f'<a class="{cls}" href="#{REF_PREFIX}{ref.encode()}" title="{title}">'
        f"{html.escape(label)}</a>"
    )


def _cite_ref(c: Citation) -> SourceRef:
    return SourceRef(c.passage.doc_id, c.start, c.end, c.n)


def _passage_ref(p: Passage, n: int) -> SourceRef:
    return SourceRef(p.doc_id, p.start, p.end, n)


def _sentence_html(text: str, citations: tuple[Citation, ...], passages: tuple[Passage, ...]):
    """Escape a sentence and turn each [n] into a link to the span that backs it."""
    by_n = {c.n: c for c in citations}
    out = []
    pos = 0
    for m in _ONE_MARK.finditer(text):
        out.append(html.escape(text[pos:m.start()]))
        n = int(m.group(1))
        if n in by_n:
            ref = _cite_ref(by_n[n])
        elif 1 <= n <= len(passages):
            ref = _passage_ref(passages[n - 1], n)
        else:
            ref = None
        out.append(_link(ref, f"[{n}]") if ref else html.escape(m.group()))
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _date(published: str | None) -> str:
    return published or "date unknown"


def answer_html(answer: Answer, *, pending: bool = False, draft: str = "", note: str = "") -> str:
    """One assistant message: the answer with footnote links, then its sources."""
    if answer.refused:
        return refusal_html(answer, note=note)
    shown = [s for s in answer.sentences if s.supported]
    body = " ".join(_sentence_html(s.text, s.citations, answer.passages) for s in shown)
    if answer.as_of and not body.lower().startswith("as of"):
        body = f"As of {html.escape(answer.as_of)}: {body}"
    if not body:
        body = html.escape(answer.text)
    parts = [f'<div class="nqa-answer" data-kind="{answer.kind}">{body}</div>']
    cites = answer.citations
    if cites:
        items = []
        seen = set()
        for c in cites:
            if c.n in seen:
                continue
            seen.add(c.n)
            p = c.passage
            items.append(
                f"<li>{_link(_cite_ref(c), f'[{c.n}]')} {html.escape(p.title)}"
                f' <span class="nqa-date">({html.escape(_date(p.published))})</span>'
                f' — <q>{html.escape(_clip(c.quote, 160))}</q></li>'
            )
        parts.append(f'<ol class="nqa-sources">{"".join(items)}</ol>')
    status = "instant answer from the articles; the model is writing…" if pending else (
        f"{answer.kind} · confidence {answer.confidence:.2f}"
    )
    if note:
        status += f" · {note}"
    parts.append(f'<div class="nqa-meta">{html.escape(status)}</div>')
    if pending and draft:
        parts.append(f'<div class="nqa-draft">{html.escape(draft)}</div>')
    return "\n".join(parts)


def refusal_html(answer: Answer, *, note: str = "") -> str:
    """A refusal, shown as one, with the nearest passages to look at instead."""
    parts = [
        f'<div class="nqa-answer nqa-refusal" data-kind="refusal">'
        f"<strong>Not in the articles.</strong> {html.escape(answer.text)}</div>"
    ]
    if answer.passages:
        items = []
        for i, p in enumerate(answer.passages[:3], start=1):
            items.append(
                f"<li>{_link(_passage_ref(p, i), p.title or 'untitled')}"
                f' <span class="nqa-date">({html.escape(_date(p.published))})</span>'
                f" — {html.escape(_clip(p.text, 180))}</li>"
            )
        parts.append(f'<div class="nqa-near">Nearest passages:</div><ol class="nqa-sources">'
                     f'{"".join(items)}</ol>')
    meta = "refused: the articles do not support an answer"
    if note:
        meta += f" · {note}"
    parts.append(f'<div class="nqa-meta">{html.escape(meta)}</div>')
    return "\n".join(parts)


def passages_html(passages: list[Passage]) -> str:
    """Retrieved passages as a provisional answer (used before the answer model is ready)."""
    if not passages:
        return '<div class="nqa-answer">No passages found.</div>'
    items = [
        f"<li>{_link(_passage_ref(p, i), f'[{i}]')} {html.escape(p.title)}: "
        f"{html.escape(_clip(p.text, 240))}</li>"
        for i, p in enumerate(passages, start=1)
    ]
    return f'<ol class="nqa-sources">{"".join(items)}</ol>'


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def paragraph_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """The paragraph(s) around ``text[start:end]``: from the blank line (or line break)
    before it to the one after it."""
    start = max(0, min(start, len(text)))
    end = max(start, min(end, len(text)))
    a = text.rfind("\n", 0, start)
    b = text.find("\n", end)
    return (a + 1 if a != -1 else 0), (b if b != -1 else len(text))


def source_html(
    ref: SourceRef, *, title: str, source: str, published: str | None, article: str
) -> str:
    """The source panel: title, date, link, and the cited span highlighted in its paragraph."""
    a, b = paragraph_bounds(article, ref.start, ref.end)
    para = (
        html.escape(article[a:ref.start])
        + f'<mark class="nqa-hl">{html.escape(article[ref.start:ref.end])}</mark>'
        + html.escape(article[ref.end:b])
    )
    if source.startswith(("http://", "https://")):
        src = (f'<a href="{html.escape(source, quote=True)}" target="_blank" '
               f'rel="noopener noreferrer">{html.escape(source)}</a>')
    else:
        src = f"<code>{html.escape(source)}</code>"
    label = f"[{ref.n}] " if ref.n else ""
    return (
        f'<div class="nqa-source" data-doc="{ref.doc_id}">'
        f'<h3 class="nqa-source-title">{html.escape(label + (title or "untitled"))}</h3>'
        f'<div class="nqa-source-meta">Published: {html.escape(_date(published))}'
        f" · Source: {src}</div>"
        f'<p class="nqa-para">{para}</p></div>'
    )


def empty_source_html(message: str = "Click a [n] citation to see its source here.") -> str:
    return f'<div class="nqa-source nqa-empty">{html.escape(message)}</div>'


def message_text(content) -> str:
    """Plain text of a chat message's content (a string or Gradio's list of parts)."""
    if isinstance(content, list):
        content = " ".join(
            str(part.get("text", "")) if isinstance(part, dict) else str(part)
            for part in content
        )
    elif isinstance(content, dict):
        content = str(content.get("text", ""))
    content = str(content or "")
    m = re.search(r'<div class="nqa-answer[^"]*"[^>]*>(.*?)</div>', content, re.S)
    if m:
        content = m.group(1)
    return html.unescape(re.sub(r"<[^>]+>", "", content)).strip()


def history_pairs(messages: list[dict] | None) -> list[tuple[str, str]]:
    """(role, text) pairs of a chat, the shape ``qa.answer.stream`` takes as history."""
    out = []
    for m in messages or []:
        role = m.get("role") if isinstance(m, dict) else None
        if role not in ("user", "assistant"):
            continue
        text = message_text(m.get("content"))
        if text:
            out.append((role, text))
    return out

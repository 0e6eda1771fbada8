"""HTML for the chat: answers with clickable [n] footnotes, the preview while the model writes,
refusals, the source panel and the documents list.

Everything a user or a document supplied (questions, titles, file names, article text) goes
through ``html.escape`` here; nothing user-typed reaches the page as markup.

A citation link carries everything needed to show its source (document id and the span's
offsets in the stored article), so a citation opens the same way after a page reload or in a
replayed history: nothing is looked up in per-session state. Footnotes are numbered 1..n in
the order they first appear in the answer, whatever the passages' retrieval ranks were.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from urllib.parse import urlparse

from qa.types import Answer, AnswerSentence, Citation, Passage

REF_PREFIX = "nqa-src-"
DOC_PREFIX = "nqa-doc-"
_REF = re.compile(r"^([0-9a-f]{4,64})-(\d+)-(\d+)(?:-(\d+))?$")
_ONE_MARK = re.compile(r"\s*\[(\d+)\]")
NO_DATE = "no date"
COPY_LINK = '<a class="nqa-copy" href="#nqa-copy" title="Copy the answer and its sources">Copy</a>'
"""Copies the answer as text with its sources (Gradio's own copy button would copy HTML)."""


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


# -- source metadata, shown one way everywhere ---------------------------------------------------
def date_label(published: str | None) -> str:
    """A document's date as shown: ISO ``YYYY-MM-DD``, or "no date"."""
    return (published or "").strip() or NO_DATE


def source_label(source: str | None) -> tuple[str, str | None]:
    """(what to show, link) for a document's source: the domain and the URL for web pages,
    the file name for files, "pasted text" for pasted text; never a server path."""
    source = (source or "").strip()
    if source.startswith(("http://", "https://")):
        host = (urlparse(source).hostname or "").removeprefix("www.")
        return host or "web page", source
    if not source or source.startswith("pasted:"):
        return "pasted text", None
    return PurePosixPath(source.split("#", 1)[0].replace("\\", "/")).name or "file", None


def _source_meta(source: str | None, published: str | None) -> str:
    label, url = source_label(source)
    if url:
        shown = (f'<a class="nqa-src-link" href="{html.escape(url, quote=True)}" '
                 f'target="_blank" rel="noopener noreferrer">{html.escape(label)}</a>')
    else:
        shown = f'<span class="nqa-src-name">{html.escape(label)}</span>'
    return f'{shown} · <span class="nqa-date">{html.escape(date_label(published))}</span>'


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


# -- citations numbered by first appearance ------------------------------------------------------
@dataclass(frozen=True)
class Footnote:
    """One footnote as shown: its display number and the exact span it points to."""

    n: int
    passage: Passage
    start: int
    end: int
    quote: str
    """The exact span highlighted in the source panel (``article[start:end]``)."""
    sentence: str = ""
    """The whole sentence around the quote, shown under the answer (the quote when empty)."""

    @property
    def shown(self) -> str:
        """What is shown for this footnote under the answer and in its hover card."""
        return self.sentence or self.quote

    @property
    def ref(self) -> SourceRef:
        return SourceRef(self.passage.doc_id, self.start, self.end, self.n)


class _Numbering:
    """Display numbers 1..n by first appearance; the same span keeps its number."""

    def __init__(self, passages: tuple[Passage, ...]):
        self.passages = passages
        self.notes: dict[tuple[str, int, int], Footnote] = {}

    def number(self, passage: Passage, start: int, end: int, quote: str,
               sentence: str = "") -> Footnote:
        key = (passage.doc_id, start, end)
        if key not in self.notes:
            self.notes[key] = Footnote(len(self.notes) + 1, passage, start, end, quote,
                                       sentence)
        return self.notes[key]

    def for_citation(self, c: Citation) -> Footnote:
        return self.number(c.passage, c.start, c.end, c.quote, getattr(c, "sentence", ""))

    def for_marker(self, k: int, citations: tuple[Citation, ...]) -> Footnote | None:
        c = next((c for c in citations if c.n == k), None)
        if c is not None:
            return self.for_citation(c)
        if 1 <= k <= len(self.passages):  # a marker the checker left without a span
            p = self.passages[k - 1]
            return self.number(p, p.start, p.end, p.text)
        return None


def _link(note: Footnote) -> str:
    preview = f"{note.passage.title or 'untitled'} — “{_clip(note.shown, 220)}”"
    return (
        f'<a class="nqa-cite" href="#{REF_PREFIX}{note.ref.encode()}" '
        f'title="{html.escape(preview, quote=True)}">[{note.n}]</a>'
    )


def _sentence_html(s: AnswerSentence, numbering: _Numbering) -> str:
    """Escape a sentence and turn each [k] marker into a link numbered by first appearance."""
    out: list[str] = []
    shown: list[int] = []
    pos = 0
    text = s.text
    for m in _ONE_MARK.finditer(text):
        out.append(html.escape(text[pos:m.start()]))
        pos = m.end()
        note = numbering.for_marker(int(m.group(1)), s.citations)
        if note is None or note.n in shown:
            continue
        shown.append(note.n)
        out.append(_link(note))
    tail = text[pos:]
    # citations the checker attached without a marker in the text: shown at the end
    extra = []
    for c in s.citations:
        note = numbering.for_citation(c)
        if note.n not in shown:
            shown.append(note.n)
            extra.append(_link(note))
    if extra and tail.strip() in ("", ".", "!", "?"):
        out.append("".join(extra) + html.escape(tail))
    else:
        out.append(html.escape(tail) + "".join(extra))
    return "".join(out)


def _body(answer: Answer, numbering: _Numbering) -> str:
    shown = [s for s in answer.sentences if s.supported]
    if shown and all(s.text.startswith("- ") for s in shown):  # an open answer in points
        items = "".join(f"<li>{_sentence_html(replace(s, text=s.text[2:]), numbering)}</li>"
                        for s in shown)
        return f'<ul class="nqa-points">{items}</ul>'
    # a generated answer is one short answer with its footnote, prefixed by the core when it
    # comes from old news ("A May 2024 article says: …"); ``as_of`` is that article's date;
    # an open answer is its checked sentences, each with its own footnotes
    body = " ".join(_sentence_html(s, numbering) for s in shown)
    return body or html.escape(_ONE_MARK.sub("", answer.text))


def removed_note(answer: Answer) -> str:
    """What the check left out of an open answer, and what the articles never mention."""
    parts = []
    dropped = len(answer.removed)
    if dropped:
        parts.append(f"{_n(dropped, 'sentence')} removed: not in the articles.")
    if answer.missing:
        parts.append(f"The articles don't mention {' or '.join(answer.missing)}.")
    return " ".join(parts)


def _quote_html(note: Footnote) -> str:
    """The supporting sentence, with the exact quote (the span the source panel highlights)
    marked inside it; the quote alone when there is no sentence around it."""
    sentence, quote = note.sentence, note.quote
    at = sentence.find(quote) if sentence and quote else -1
    if at < 0 or sentence == quote:
        return f'<span class="nqa-quote-span">{html.escape(" ".join(quote.split()))}</span>'
    before, after = sentence[:at], sentence[at + len(quote):]
    return (f"{html.escape(' '.join(before.split()))}{' ' if before[-1:].isspace() else ''}"
            f'<span class="nqa-quote-span">{html.escape(" ".join(quote.split()))}</span>'
            f"{' ' if after[:1].isspace() else ''}{html.escape(' '.join(after.split()))}")


def _sources_list(notes: list[Footnote]) -> str:
    items = []
    for note in notes:
        p = note.passage
        items.append(
            f'<li class="nqa-source-item">{_link(note)} '
            f'<span class="nqa-source-title">{html.escape(p.title or "untitled")}</span>'
            f' <span class="nqa-meta-inline">({_source_meta(p.source, p.published)})</span>'
            f'<br><q class="nqa-quote">{_quote_html(note)}</q></li>'
        )
    return f'<ol class="nqa-sources">{"".join(items)}</ol>' if items else ""


def support_words(answer: Answer, notes: list[Footnote]) -> str:
    """How well the answer is backed, in words (the raw confidence score is not shown)."""
    articles = len({n.passage.doc_id for n in notes})
    where = f"{articles} article{'s' if articles != 1 else ''}"
    quotes = f"{len(notes)} quoted sentence{'s' if len(notes) != 1 else ''}"
    if answer.kind == "extractive":
        text = (f"Quoted directly from {where}: the model's own wording did not pass the "
                "citation check, so the best matching sentences are shown.")
    else:
        text = f"Every sentence is backed by {quotes} from {where}."
    if any(s.corrected for s in answer.sentences if s.supported):
        text += " Citation numbers were corrected by the checker."
    return text


def answer_html(answer: Answer, *, note: str = "", elapsed: float | None = None) -> str:
    """One final assistant message: the answer with footnote links, then its sources."""
    if answer.refused:
        return refusal_html(answer, note=note, elapsed=elapsed)
    numbering = _Numbering(answer.passages)
    body = _body(answer, numbering)
    notes = sorted(numbering.notes.values(), key=lambda n: n.n)
    removed = removed_note(answer)
    shape = " nqa-open" if answer.shape == "open" else ""
    parts = [f'<div class="nqa-answer{shape}" data-kind="{answer.kind}">{body}</div>',
             f'<div class="nqa-removed">{html.escape(removed)}</div>' if removed else "",
             _sources_list(notes)]
    meta = support_words(answer, notes)
    if elapsed is not None:
        meta += f" Answered in {elapsed:.1f} s."
    if note:
        meta += f" {note}"
    parts.append(f'<div class="nqa-meta nqa-final">{html.escape(meta)} {COPY_LINK}</div>')
    return "\n".join(p for p in parts if p)


def refusal_html(answer: Answer, *, note: str = "", elapsed: float | None = None) -> str:
    """A refusal, shown as one, with the nearest passages to look at instead."""
    parts = [
        f'<div class="nqa-answer nqa-refusal" data-kind="refusal">'
        f"<strong>Not in the articles.</strong> {html.escape(answer.text)}</div>"
    ]
    if answer.passages:
        numbering = _Numbering(answer.passages)
        items = []
        for p in answer.passages[:3]:
            fn = numbering.number(p, p.start, p.end, p.text)
            items.append(
                f"<li>{_link(fn)} <span class=\"nqa-source-title\">"
                f"{html.escape(p.title or 'untitled')}</span>"
                f' <span class="nqa-meta-inline">({_source_meta(p.source, p.published)})</span>'
                f" — {html.escape(_clip(p.text, 180))}</li>"
            )
        parts.append(f'<div class="nqa-near">Nearest passages:</div><ol class="nqa-sources">'
                     f'{"".join(items)}</ol>')
    why = why_not_html(answer)
    if why:
        parts.append(why)
    meta = "The articles do not support an answer to this question."
    if elapsed is not None:
        meta += f" Answered in {elapsed:.1f} s."
    if note:
        meta += f" {note}"
    parts.append(f'<div class="nqa-meta nqa-final">{html.escape(meta)}</div>')
    return "\n".join(parts)


_STATUS_MARK = {"passed": "✓", "failed": "✗", "not_checked": "–"}


def why_not_html(answer: Answer) -> str:
    """A refusal's reason in a collapsed "Why not answered?" detail: the check that refused and
    why, then the verdict of each check that ran. "" when no named check refused it."""
    if not answer.refusal_reason:
        return ""
    items = "".join(
        f'<li class="nqa-check nqa-check-{v.status}" data-check="{html.escape(v.check)}">'
        f"{_STATUS_MARK.get(v.status, '?')} <code>{html.escape(v.check)}</code>: "
        f"{html.escape(v.reason)}</li>"
        for v in answer.checks)
    listed = f'<ol class="nqa-checks">{items}</ol>' if items else ""
    return (f'<details class="nqa-why"><summary>Why not answered?</summary>'
            f'<p class="nqa-why-reason">{html.escape(answer.refusal_reason)}</p>{listed}'
            f"</details>")


# -- while the answer is being made --------------------------------------------------------------
@dataclass
class Stage:
    key: str
    label: str
    started: float
    ended: float | None = None


def _stages_html(stages: list[Stage], now: float) -> str:
    items = []
    for st in stages:
        done = st.ended is not None
        secs = (st.ended if done else now) - st.started
        mark = "✓" if done else "…"
        items.append(
            f'<li class="nqa-stage {"nqa-done" if done else "nqa-active"}" data-stage="{st.key}">'
            f"{mark} {html.escape(st.label)} <span class=\"nqa-secs\">{secs:.1f} s</span></li>"
        )
    return f'<ol class="nqa-stages">{"".join(items)}</ol>'


def pending_html(stages: list[Stage], now: float, *, preview: Answer | None = None,
                 draft: str = "", stopped: bool = False, note: str = "",
                 partial: Answer | None = None) -> str:
    """An answer in the making: the stages with elapsed time, the preview (best matching
    sentences, clearly not the answer) and the model's draft. With ``stopped``, what is left
    on screen after the user pressed Stop."""
    parts = []
    if stopped:
        parts.append(f'<div class="nqa-meta nqa-stopped">{html.escape(note or "Stopped.")}'
                     f" ({now:.1f} s)</div>")
    else:
        parts.append(f'<div class="nqa-progress nqa-pending">{_stages_html(stages, now)}'
                     f'<span class="nqa-elapsed">{now:.1f} s</span></div>')
    if partial is not None and partial.shown_sentences:
        # an open answer's sentences that passed the check, each with its footnotes
        numbering = _Numbering(partial.passages)
        removed = removed_note(partial)
        parts.append(f'<div class="nqa-answer nqa-partial nqa-open">'
                     f'{_body(partial, numbering)}</div>'
                     + (f'<div class="nqa-removed">{html.escape(removed)}</div>'
                        if removed else ""))
    elif preview is not None and not preview.refused:
        numbering = _Numbering(preview.passages)
        body = _body(preview, numbering)
        heading = ("Best matching sentences (not an answer)" if stopped else
                   "Best matching sentences — a preview while the model writes the answer")
        parts.append(f'<div class="nqa-preview"><div class="nqa-preview-h">{heading}</div>'
                     f'<div class="nqa-preview-body">{body}</div></div>')
    if draft.strip() and not stopped:
        shown = _ONE_MARK.sub("", draft).strip()
        if len(shown) > 400:
            shown = "…" + shown[-400:]
        parts.append(f'<div class="nqa-draft"><span class="nqa-draft-h">Model draft, checked '
                     f"before it is shown as the answer:</span> {html.escape(shown)}</div>")
    return "\n".join(parts)


def error_html(message: str) -> str:
    return f'<div class="nqa-meta nqa-final nqa-error">⚠️ {html.escape(message)}</div>'


def question_html(question: str) -> str:
    """The user's bubble: the question exactly as typed, as text (never markup)."""
    return f'<div class="nqa-q">{html.escape(question)}</div>'


# -- the source panel ----------------------------------------------------------------------------
def paragraph_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """The paragraph(s) around ``text[start:end]``: from the blank line (or line break)
    before it to the one after it."""
    start = max(0, min(start, len(text)))
    end = max(start, min(end, len(text)))
    a = text.rfind("\n", 0, start)
    b = text.find("\n", end)
    return (a + 1 if a != -1 else 0), (b if b != -1 else len(text))


def _marked(article: str, a: int, b: int, start: int, end: int, mark_id: str = "") -> str:
    attr = f' id="{mark_id}"' if mark_id else ""
    return (html.escape(article[a:start])
            + f'<mark class="nqa-hl"{attr}>{html.escape(article[start:end])}</mark>'
            + html.escape(article[end:b]))


def _paragraphs(text: str) -> str:
    """Escaped text with its paragraphs kept (blank lines) and line breaks shown."""
    return "".join(f'<p class="nqa-para">{p}</p>'
                   for p in re.split(r"\n\s*\n", text) if p.strip()).replace("\n", "<br>")


def source_html(
    ref: SourceRef, *, title: str, source: str, published: str | None, article: str
) -> str:
    """The source panel: title, domain or file name, date, link, the cited span highlighted
    in its paragraph, and the whole article (folded) scrolled to the same span."""
    start = max(0, min(ref.start, len(article)))
    end = max(start, min(ref.end, len(article)))
    a, b = paragraph_bounds(article, start, end)
    label = f"[{ref.n}] " if ref.n else ""
    # the whole article with the span marked; paragraphs kept
    full = _marked(article, 0, len(article), start, end, "nqa-hl-full")
    full_html = "".join(f'<p class="nqa-para">{p}</p>' for p in re.split(r"\n\s*\n", full)
                        if p.strip()).replace("\n", "<br>")
    return (
        f'<div class="nqa-source" data-ref="{ref.encode()}">'
        f'<h3 class="nqa-source-title">{html.escape(label + (title or "untitled"))}</h3>'
        f'<div class="nqa-source-meta">{_source_meta(source, published)}</div>'
        f'<p class="nqa-para nqa-context">{_marked(article, a, b, start, end)}</p>'
        f'<details class="nqa-full"><summary>Open the whole article</summary>'
        f'<div class="nqa-article">{full_html}</div></details>'
        f'<a class="nqa-back" href="#nqa-chat">↑ Back to the answer</a></div>'
    )


def empty_source_html(message: str = "Tap or click a [n] citation to see its source here.") -> str:
    return f'<div class="nqa-source nqa-empty">{html.escape(message)}</div>'


# -- documents -----------------------------------------------------------------------------------
DOC_COLUMNS = ["Title", "Source", "Published", "Chunks", "Added", "ID"]


def documents_html(docs: list[dict], *, query: str = "", total: int | None = None) -> str:
    """The documents as a table that scrolls sideways on a narrow screen (headers never wrap);
    each title opens the document."""
    total = len(docs) if total is None else total
    if not docs:
        msg = (f"No document matches “{query}”." if query else
               "No documents yet: upload files or paste an article above.")
        return f'<div class="nqa-docs-empty">{html.escape(msg)}</div>'
    rows = []
    for d in docs:
        label, url = source_label(d.get("source"))
        src = (f'<a href="{html.escape(url, quote=True)}" target="_blank" '
               f'rel="noopener noreferrer">{html.escape(label)}</a>' if url
               else html.escape(label))
        added = (d.get("added_at") or "")[:16].replace("T", " ")
        rows.append(
            "<tr>"
            f'<td class="nqa-col-title"><a class="nqa-doc-open" '
            f'href="#{DOC_PREFIX}{html.escape(d["doc_id"])}">'
            f'{html.escape(d.get("title") or "untitled")}</a></td>'
            f"<td>{src}</td><td>{html.escape(date_label(d.get('published')))}</td>"
            f'<td class="nqa-num">{int(d.get("chunks") or 0)}</td>'
            f"<td>{html.escape(added)}</td>"
            f'<td><code>{html.escape(d["doc_id"][:8])}</code></td></tr>'
        )
    head = "".join(f"<th>{h}</th>" for h in DOC_COLUMNS)
    shown = (f"{len(docs)} of {total} documents match “{html.escape(query)}”" if query
             else f"{total} document{'s' if total != 1 else ''}")
    return (f'<div class="nqa-docs-count">{shown} · tap a title to read it</div>'
            f'<div class="nqa-table-wrap"><table class="nqa-table"><thead><tr>{head}</tr>'
            f'</thead><tbody>{"".join(rows)}</tbody></table></div>')


def document_html(info: dict, article: str) -> str:
    """One whole document, for reading."""
    return (
        f'<div class="nqa-doc-view" data-doc="{html.escape(info["doc_id"])}">'
        f'<h3 class="nqa-source-title">{html.escape(info.get("title") or "untitled")}</h3>'
        f'<div class="nqa-source-meta">{_source_meta(info.get("source"), info.get("published"))}'
        f' · {_n(int(info.get("chunks") or 0), "chunk")} · id <code>'
        f'{html.escape(info["doc_id"][:12])}</code></div>'
        f'<div class="nqa-article">{_paragraphs(html.escape(article))}</div></div>'
    )


def status_html(lines: list[str], *, heading: str = "", ok: bool = True) -> str:
    """A status message (upload results and the like), every line escaped."""
    cls = "nqa-status" + ("" if ok else " nqa-status-bad")
    head = f"<strong>{html.escape(heading)}</strong>" if heading else ""
    items = "".join(f"<li>{html.escape(ln)}</li>" for ln in lines)
    return f'<div class="{cls}">{head}{f"<ul>{items}</ul>" if items else ""}</div>'


# -- the chat history, for follow-ups --------------------------------------------------------------
def message_text(content) -> str:
    """Plain text of a chat message's content (a string or Gradio's list of parts); an answer
    still in the making (or stopped) has none, so its preview never counts as an answer."""
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
    elif re.search(r'class="nqa-(?:progress|meta|preview)', content):
        return ""
    return html.unescape(re.sub(r"<[^>]+>", "", content)).strip()


def last_cited_document(messages: list[dict] | None) -> str | None:
    """The doc_id of the article the chat's latest cited answer quotes first: what a
    follow-up such as "Summarize it" is about (``KnowledgeBase.stream``'s ``about``)."""
    for m in reversed(messages or []):
        if not isinstance(m, dict) or m.get("role") != "assistant":
            continue
        content = m.get("content")
        if not isinstance(content, str):
            continue
        found = re.search(rf'href="#{REF_PREFIX}([^"]+)"', content)
        if found:
            ref = SourceRef.parse(found.group(1))
            if ref is not None:
                return ref.doc_id
    return None


def history_pairs(messages: list[dict] | None) -> list[tuple[str, str]]:
    """(role, text) pairs of a chat, the shape ``qa.answer.chain.stream`` takes as history."""
    out = []
    for m in messages or []:
        role = m.get("role") if isinstance(m, dict) else None
        if role not in ("user", "assistant"):
            continue
        text = message_text(m.get("content"))
        if text:
            out.append((role, text))
    return out


_BUBBLE = re.compile(r'<div class="nqa-q">(.*)</div>', re.S)


def interrupted(messages: list[dict] | None) -> list[dict]:
    """A chat restored after a reload: an answer that was still being made says so, and a
    question saved by an older version (as raw text) is escaped like a new one."""
    out = []
    for m in messages or []:
        if not isinstance(m, dict):
            continue
        content = m.get("content")
        if not isinstance(content, str):  # Gradio hands back earlier turns as lists of parts
            content = " ".join(
                str(p.get("text", "")) if isinstance(p, dict) else str(p)
                for p in (content if isinstance(content, list) else [content]))
            m = {**m, "content": content}
        if m.get("role") == "user":
            bubble = _BUBBLE.fullmatch(content)
            # a bubble saved by this app is rebuilt from its text (so it cannot carry markup);
            # anything else (a question saved raw by an older version) is escaped as typed
            text = html.unescape(bubble[1]) if bubble else " ".join(content.split())
            m = {**m, "content": question_html(text)}
        elif 'class="nqa-progress' in content:
            m = {**m, "content": error_html("Interrupted: the page was reloaded while this "
                                            "answer was being written. Ask again.")}
        out.append(m)
    return out


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"

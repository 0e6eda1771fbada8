"""The Gradio Blocks: a Chat tab (streaming answers, footnotes, source panel, settings) and a
Documents tab (upload, paste, list, remove), plus the named API endpoints ask/add/list/remove.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from qa.errors import QAError
from qa.types import ExtractiveEvent, FinalEvent, SentenceEvent, TokenEvent

from .render import (
    Stage,
    answer_html,
    date_label,
    documents_html,
    empty_source_html,
    error_html,
    history_pairs,
    interrupted,
    last_cited_document,
    pending_html,
    question_html,
    status_html,
)
from .service import Removed, Service, answer_dict
from .uploads import ALLOWED_SUFFIXES

log = logging.getLogger(__name__)

CONCURRENCY = 4
"""Questions answered at once (retrieval is thread-safe; the embedded model serialises
itself); more wait in the queue."""
QUEUE_SIZE = 128
STREAM_INTERVAL = 0.15
"""Seconds between UI updates while tokens stream."""

CSS = """
#nqa-chat .nqa-cite { font-size: 0.8em; vertical-align: super; text-decoration: none;
  font-weight: 600; padding: 0 2px; cursor: pointer; }
#nqa-chat .nqa-sources { margin: 0.4em 0 0 1.2em; font-size: 0.85em; }
#nqa-chat .nqa-quote { color: var(--body-text-color-subdued); }
#nqa-chat .nqa-quote .nqa-quote-span { color: var(--body-text-color);
  background: rgba(253, 230, 138, 0.45); border-radius: 2px; }
.nqa-meta, .nqa-source-meta, .nqa-meta-inline, .nqa-docs-count {
  color: var(--body-text-color-subdued); font-size: 0.85em; }
#nqa-chat .nqa-meta { margin-top: 0.4em; }
#nqa-chat .nqa-refusal strong { color: #b45309; }
#nqa-chat .nqa-why { margin-top: 0.4em; font-size: 0.85em; }
#nqa-chat .nqa-why summary { cursor: pointer; color: var(--body-text-color-subdued); }
#nqa-chat .nqa-checks { margin: 0.2em 0 0 1.2em; }
#nqa-chat .nqa-check-failed { font-weight: 600; }
#nqa-chat .nqa-error { color: #b91c1c; }
#nqa-chat .nqa-q { white-space: pre-wrap; }
#nqa-chat .nqa-progress { font-size: 0.85em; color: var(--body-text-color-subdued); }
#nqa-chat .nqa-stages { list-style: none; margin: 0; padding: 0; }
#nqa-chat .nqa-stage.nqa-active { color: var(--body-text-color); font-weight: 600; }
#nqa-chat .nqa-secs { opacity: 0.75; font-variant-numeric: tabular-nums; }
#nqa-chat .nqa-elapsed { display: none; }
#nqa-chat .nqa-preview { margin-top: 0.5em; padding: 0.4em 0.6em; border: 1px dashed
  var(--border-color-primary); border-radius: 6px; color: var(--body-text-color-subdued);
  font-size: 0.92em; }
#nqa-chat .nqa-preview-h { font-size: 0.85em; font-weight: 600; margin-bottom: 0.2em; }
#nqa-chat .nqa-draft { color: var(--body-text-color-subdued); font-style: italic;
  border-left: 3px solid var(--border-color-primary); padding-left: 0.5em; margin-top: 0.4em;
  font-size: 0.9em; }
#nqa-chat .nqa-draft-h { font-style: normal; font-size: 0.85em; }
.nqa-source { padding: 0.6em 0.8em; border: 1px solid var(--border-color-primary);
  border-radius: 8px; min-height: 4em; }
.nqa-source.nqa-empty { color: var(--body-text-color-subdued); }
.nqa-source-title { margin: 0 0 0.3em 0; font-size: 1.05em; }
.nqa-para { line-height: 1.55; margin-top: 0.6em; }
.nqa-full summary { cursor: pointer; margin-top: 0.6em; font-weight: 600; }
.nqa-article { max-height: 55vh; overflow-y: auto; padding-right: 0.4em; }
mark.nqa-hl { background: #fde68a; color: #111; padding: 0 2px; border-radius: 3px; }
.nqa-table-wrap { overflow-x: auto; -webkit-overflow-scrolling: touch; max-width: 100%; }
.nqa-table { border-collapse: collapse; width: 100%; font-size: 0.9em; }
.nqa-table th { white-space: nowrap; text-align: left; padding: 0.35em 0.6em;
  border-bottom: 2px solid var(--border-color-primary); }
.nqa-table td { padding: 0.35em 0.6em; border-bottom: 1px solid var(--border-color-primary);
  vertical-align: top; white-space: nowrap; }
.nqa-table td.nqa-col-title { white-space: normal; min-width: 14em; }
.nqa-table td.nqa-num { text-align: right; }
.nqa-doc-view { padding: 0.6em 0.8em; border: 1px solid var(--border-color-primary);
  border-radius: 8px; margin-top: 0.6em; }
.nqa-pop { position: fixed; z-index: 1000; display: none; max-width: 360px; padding: 0.5em 0.7em;
  font-family: var(--font);
  background: var(--background-fill-primary); color: var(--body-text-color);
  border: 1px solid var(--border-color-primary); border-radius: 6px; font-size: 0.85em;
  box-shadow: 0 4px 14px rgba(0, 0, 0, 0.15); pointer-events: none; line-height: 1.4; }
#nqa-chat .nqa-copy { margin-left: 0.4em; }
#nqa-send, #nqa-stop, #nqa-clear { white-space: nowrap; }
.nqa-back { display: none; margin-top: 0.6em; font-size: 0.9em; }
@media (max-width: 768px) { .nqa-back { display: inline-block; } }
.nqa-status ul { margin: 0.3em 0 0 1.2em; }
.nqa-status-bad { color: #b91c1c; }
"""

# Links in answers and in the documents list carry what they open in their href
# (#nqa-src-DOC-START-END-N for a citation, #nqa-doc-DOC for a document). One document-level
# listener turns a click on any such link, in any message (also in a restored history), into a
# call of a hidden event, then brings what it opened into view: on a phone the source panel
# sits below the chat, so the highlighted span is scrolled to the middle of the screen.
CLICK_JS = """
if (!window.__nqaListener) {
  window.__nqaListener = true;
  let pop = null;  // the hover card, created on first hover
  const send = function (boxSel, btnSel, value) {
    const box = document.querySelector(boxSel + ' textarea, ' + boxSel + ' input');
    let btn = document.querySelector(btnSel);
    if (btn && btn.tagName !== 'BUTTON') btn = btn.querySelector('button') || btn;
    if (!box || !btn) return false;
    box.value = value;
    box.dispatchEvent(new Event('input', { bubbles: true }));
    setTimeout(function () { btn.click(); }, 60);
    return true;
  };
  const whenShown = function (sel, fn) {
    let tries = 0;
    const timer = setInterval(function () {
      const el = document.querySelector(sel);
      if (el) { clearInterval(timer); setTimeout(function () { fn(el); }, 30); }
      else if (++tries > 150) clearInterval(timer);
    }, 100);
  };
  const copyText = function (text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    const area = document.createElement('textarea');  // plain http on another host
    area.value = text;
    area.style.position = 'fixed';
    area.style.opacity = '0';
    document.body.appendChild(area);
    area.select();
    document.execCommand('copy');
    area.remove();
    return Promise.resolve();
  };
  document.addEventListener('click', function (e) {
    const c = e.target && e.target.closest ? e.target.closest('a.nqa-copy') : null;
    if (!c) return;
    e.preventDefault();
    e.stopPropagation();
    let root = c.parentElement;
    while (root && !root.querySelector('.nqa-answer')) root = root.parentElement;
    if (!root) return;
    const clean = (el) => el.textContent.replace(/\\s+/g, ' ').trim();
    let text = clean(root.querySelector('.nqa-answer'));
    const items = root.querySelectorAll('.nqa-sources li');
    if (items.length) {
      text += '\\n\\nSources:\\n' + [...items].map(clean).join('\\n');
    }
    copyText(text).then(function () {
      c.textContent = 'Copied';
      setTimeout(function () { c.textContent = 'Copy'; }, 1500);
    });
  }, true);
  document.addEventListener('click', function (e) {
    const a = e.target && e.target.closest
      ? e.target.closest('a[href*="#nqa-src-"], a[href*="#nqa-doc-"]') : null;
    if (!a) return;
    if (pop) pop.style.display = 'none';
    e.preventDefault();
    e.stopPropagation();
    const href = a.getAttribute('href');
    if (href.indexOf('#nqa-src-') !== -1) {
      const ref = href.split('#nqa-src-')[1];
      window.__nqaShown = ref;
      if (send('#nqa-cite-ref', '#nqa-cite-open', ref)) {
        whenShown('#nqa-source-panel .nqa-source[data-ref="' + CSS.escape(ref) + '"] mark.nqa-hl',
          function (m) { m.scrollIntoView({ block: 'center' }); });
      }
    } else {
      const id = href.split('#nqa-doc-')[1];
      if (send('#nqa-doc-ref', '#nqa-doc-open', id)) {
        whenShown('#nqa-doc-view .nqa-doc-view[data-doc="' + CSS.escape(id) + '"]',
          function (el) { el.scrollIntoView({ block: 'start' }); });
      }
    }
  }, true);
  // hover preview of a footnote: its title and quote in a small card (text only, never HTML)
  document.addEventListener('mouseover', function (e) {
    const a = e.target && e.target.closest ? e.target.closest('a.nqa-cite') : null;
    if (!a) return;
    if (a.title) { a.dataset.preview = a.title; a.removeAttribute('title'); }
    if (!a.dataset.preview) return;
    if (!pop) {
      pop = document.createElement('div');
      pop.className = 'nqa-pop';
      document.body.appendChild(pop);
    }
    pop.textContent = a.dataset.preview;
    const r = a.getBoundingClientRect();
    pop.style.display = 'block';
    const left = Math.min(r.left, window.innerWidth - pop.offsetWidth - 8);
    pop.style.left = Math.max(8, left) + 'px';
    const above = r.top - pop.offsetHeight - 6;
    pop.style.top = (above > 8 ? above : r.bottom + 6) + 'px';
  });
  document.addEventListener('mouseout', function (e) {
    const a = e.target && e.target.closest ? e.target.closest('a.nqa-cite') : null;
    if (a && pop) pop.style.display = 'none';
  });
  // Asking brings the chat back into view: on a phone the page may still be down at the
  // source panel a footnote opened, and the chat's own scroll up at an earlier answer.
  const chatToEnd = function () {
    document.querySelectorAll('#nqa-chat *').forEach(function (el) {
      const oy = getComputedStyle(el).overflowY;
      if ((oy === 'auto' || oy === 'scroll') && el.scrollHeight > el.clientHeight + 1) {
        el.scrollTop = el.scrollHeight;
      }
    });
  };
  const showChat = function () {
    const chat = document.querySelector('#nqa-chat');
    if (!chat) return;
    const r = chat.getBoundingClientRect();
    if (r.top < 0 || r.bottom > window.innerHeight) chat.scrollIntoView({ block: 'start' });
    [0, 150, 500, 1200].forEach(function (ms) { setTimeout(chatToEnd, ms); });
  };
  document.addEventListener('click', function (e) {
    if (e.target && e.target.closest && e.target.closest('#nqa-send')) showChat();
  }, true);
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey && e.target && e.target.closest &&
        e.target.closest('#nqa-question')) showChat();
  }, true);
  // Adding files or text shows its progress and result where the reader is: on a phone the
  // result box sits below both forms, out of sight.
  const showStatus = function () {
    const s = document.querySelector('#nqa-add-status');
    if (!s) return;
    const r = s.getBoundingClientRect();
    if (r.top < 0 || r.bottom > window.innerHeight) {
      s.scrollIntoView({ block: r.height > window.innerHeight ? 'start' : 'center' });
    }
  };
  let statusWatch = null;
  document.addEventListener('click', function (e) {
    if (!(e.target && e.target.closest && e.target.closest('#nqa-upload, #nqa-paste-add'))) {
      return;
    }
    setTimeout(showStatus, 50);
    const s = document.querySelector('#nqa-add-status');
    if (!s || !window.MutationObserver) return;
    if (statusWatch) statusWatch.disconnect();
    statusWatch = new MutationObserver(function () { setTimeout(showStatus, 30); });
    statusWatch.observe(s, { childList: true, subtree: true, characterData: true });
    setTimeout(function () { if (statusWatch) statusWatch.disconnect(); }, 120000);
  }, true);
  document.addEventListener('toggle', function (e) {
    const d = e.target;
    if (d && d.classList && d.classList.contains('nqa-full') && d.open) {
      const m = d.querySelector('mark.nqa-hl');
      if (m) m.scrollIntoView({ block: 'center' });
    }
  }, true);
}
"""


def user_message(exc: BaseException) -> str:
    """What the app shows for an error: a QAError's one line (what and why, what to do);
    anything else is logged with its traceback and shown without its internal text."""
    if isinstance(exc, QAError):
        return str(exc)
    log.error("unexpected error in the app", exc_info=exc)
    return ("newsqa hit an unexpected error (details are in the app's log); try again, and "
            "restart the app if it keeps happening")


def removal_question(service: Service, refs: str | list[str]) -> tuple[str, str]:
    """What is asked before documents are removed in the Documents tab: a heading and the
    documents it names (title, chunks, id)."""
    refs = [refs] if isinstance(refs, str) else list(refs)
    docs = {d["doc_id"]: d for d in service.documents()}
    named = []
    for ref in refs:
        d = docs.get(ref) or service.document(ref)
        named.append(f"“{d['title']}” ({d['chunks']} chunks, id {d['doc_id'][:8]})")
    n = len(named)
    shown = ", ".join(named[:5]) + (f" and {n - 5} more" if n > 5 else "")
    heading = f"Remove {n} document{'s' if n != 1 else ''}? You can undo this."
    return heading, f"{shown}: press Yes, remove to confirm, or Cancel."


def removal_prompt(service: Service, refs: str | list[str]) -> str:
    """The removal question as one line of text."""
    return " ".join(removal_question(service, refs))


def _examples(service: Service) -> list[dict]:
    return [{"text": q} for q in service.examples()]


def _settings_md(service: Service) -> str:
    b = service.backend()
    c = service.corpus()
    state = {"loading": " (loading…)", "warming": " (warming up…)", "failed": " (failed to load)",
             "not loaded": " (loads on the first question)"}.get(b["state"], "")
    return (
        f"**Answer model:** `{b['backend']}` — {b['model']}{state}  \n"
        f"**Corpus:** {c['documents']} documents, {c['chunks']} chunks  \n"
        f"**Embedder:** {c['embedder']}"
    )


def _doc_choices(docs: list[dict]) -> list[tuple[str, str]]:
    return [(f"{d['title'] or 'untitled'} · {date_label(d['published'])} · {d['doc_id'][:8]}",
             d["doc_id"]) for d in docs]


ALL_ARTICLES = "All articles (the conversation's, or the best match)"


def _listed(service: Service) -> list[dict]:
    """The documents as the page lists them; none when the store cannot be read now (the
    page still loads, and says why on the Documents tab)."""
    try:
        return service.documents()
    except Exception:
        return []


def _about_choices(docs: list[dict]) -> list[tuple[str, str]]:
    """The chat's "Article for summaries" choices: none picked, or one document."""
    return [(ALL_ARTICLES, "")] + _doc_choices(docs)


def _remove_summary(removed: list[Removed]) -> str:
    titles = ", ".join(f"“{r.info['title']}”" for r in removed[:3])
    more = f" and {len(removed) - 3} more" if len(removed) > 3 else ""
    return f"{titles}{more}"


class Handlers:
    """What the page's events call, one method per event; ``build_ui`` lays out the page
    and wires each component to these. ``api_*`` are the named API endpoints."""

    def __init__(self, service: Service):
        self.service = service
        # What every freshly loaded page starts with in "Select documents" (the choices are
        # fixed in the page config when the app is built).
        self.initial_choices = _doc_choices(service.documents())

    def ui_refresh(self, query: str | None = "", picked: list[str] | None = None):
        """Redraw the documents table and the remove picker. What the reader has ticked stays
        ticked while it is still listed: a refresh must never silently change what
        "Remove selected" would remove."""
        query = query or ""
        try:
            docs = self.service.documents(query)
            total = len(self.service.documents()) if query else len(docs)
            choices = _doc_choices(docs)
            listed = {doc_id for _, doc_id in choices}
            return (
                documents_html(docs, query=query.strip(), total=total),
                gr.CheckboxGroup(choices=choices,
                                 value=[p for p in picked or [] if p in listed]),
                gr.Chatbot(examples=_examples(self.service)),
                _settings_md(self.service),
                gr.Dropdown(choices=_about_choices(self.service.documents() if query
                                                   else docs)),
            )
        except Exception as exc:  # keep what is shown; say why it could not be refreshed
            gr.Warning(user_message(exc))
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()

    def ui_refresh_on_load(self, query: str | None, picked: list[str] | None):
        """The refresh that follows a page load. It runs while the reader may already be
        ticking boxes, and its reply can land after a tick it did not see; so when the
        documents are still those the page was built with, the picker is left alone."""
        shown = self.ui_refresh(query, picked)
        picker = shown[1]
        if not (query or "").strip() and getattr(picker, "choices", None) == \
                self.initial_choices:
            return shown[0], gr.skip(), *shown[2:]
        return shown

    # -- chat --------------------------------------------------------------------------------
    def ui_chat(self, question: str, messages: list, k: float, about: str | None,
                request: gr.Request):
        """Outputs: question box, chat, saved chat, Ask button, Stop button. ``about``: the
        article the reader picked for open questions ("" = none: the one the chat last
        cited, the only one, or the best match)."""
        messages = list(messages or [])
        session = getattr(request, "session_hash", None) or ""
        try:  # a rejected question is said so and never enters the chat
            run = self.service.start_answer(question or "", history_pairs(messages), int(k),
                                            session=session,
                                            about=about or last_cited_document(messages))
        except QAError as exc:
            gr.Warning(str(exc)[:300])
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        shown_question = " ".join((question or "").split())
        stages: list[Stage] = []
        preview = None
        partial = None
        draft = ""
        final: str | None = None
        messages += [
            {"role": "user", "content": question_html(shown_question)},
            {"role": "assistant", "content": pending_html(stages, 0.0)},
        ]
        yield "", messages, messages, gr.Button(visible=False), gr.Button(visible=True)
        shown_at = 0.0
        try:
            for item in run.items(poll=0.5):
                kind = item[0]
                now = run.elapsed()
                if kind == "stage":
                    if stages and stages[-1].ended is None:
                        stages[-1].ended = item[2]
                    stages.append(Stage(item[1], self.service.stage_label(item[1]), item[2]))
                elif kind == "event":
                    event = item[1]
                    if isinstance(event, ExtractiveEvent):  # a follow-up gets two: the
                        preview, draft = event.answer, ""     # latest replaces the first
                    elif isinstance(event, SentenceEvent):  # checked open sentences
                        partial, draft = event.answer, ""
                    elif isinstance(event, TokenEvent):
                        draft += event.text
                        if now - shown_at < STREAM_INTERVAL:
                            continue
                    elif isinstance(event, FinalEvent):
                        final = answer_html(event.answer, elapsed=now)
                elif kind == "error":
                    exc = item[1]
                    if isinstance(exc, QAError):
                        final = error_html(str(exc))
                    elif preview is None:
                        final = error_html(f"Could not answer: {user_message(exc)}")
                    else:  # the model failed: keep the preview, say so (details in the log)
                        log.error("the answer model failed", exc_info=exc)
                        final = pending_html(stages, now, preview=preview, stopped=True,
                                             note=f"The answer model failed "
                                             f"({type(exc).__name__}; details are in the "
                                             "app's log).")
                if run.cancelled.is_set() and final is None:
                    final = pending_html(stages, now, preview=preview, stopped=True,
                                         note="Stopped: the model was interrupted.")
                if final is not None or kind == "done":
                    break
                messages[-1] = {"role": "assistant",
                                "content": pending_html(stages, now, preview=preview,
                                                        draft=draft, partial=partial)}
                shown_at = now
                yield gr.skip(), messages, gr.skip(), gr.skip(), gr.skip()
        finally:
            if final is None:  # the page went away: stop the model
                run.stop()
            self.service.finished(session, run)
        if final is None:
            final = error_html("The answer ended without a result.")
        messages[-1] = {"role": "assistant", "content": final}
        yield gr.skip(), messages, messages, gr.Button(visible=True), gr.Button(visible=False)

    def ui_stop(self, request: gr.Request):
        self.service.stop(getattr(request, "session_hash", None) or "")

    def ui_show_source(self, ref: str) -> str:
        try:
            return self.service.source(ref)
        except Exception as exc:
            return empty_source_html(user_message(exc))

    def ui_pick_example(self, evt: gr.SelectData) -> str:
        value = evt.value
        return value.get("text", "") if isinstance(value, dict) else str(value)

    def ui_restore(self, saved_messages):
        return interrupted(saved_messages or [])

    # -- documents ---------------------------------------------------------------------------
    def ui_upload(self, files, progress=gr.Progress()):  # noqa: B008 (Gradio injects it)
        if not files:
            return status_html(["Choose one or more files first."], ok=False), None
        pairs = [(f, Path(f).name) for f in (files if isinstance(files, list) else [files])]

        def step(done: int, total: int) -> None:
            if total:
                progress((done, total), desc="Indexing documents", unit="documents")

        try:
            result = self.service.add_uploads(pairs, progress=step)
        except Exception as exc:  # the store is unreachable: say so, keep the chosen files
            return (status_html([user_message(exc)], heading="Nothing was added.", ok=False),
                    gr.skip())
        lines = result.lines() or ["Nothing was added."]
        if result.explanation():
            lines.append(result.explanation())
        return status_html(lines, heading=result.to_dict()["summary"],
                           ok=not result.rejected and result.report.ok), None

    def ui_paste(self, text: str, title: str, date: str, source: str):
        keep = (gr.skip(),) * 4
        if not (text or "").strip():
            return (status_html(["Paste some article text first."], ok=False), *keep)
        try:
            report = self.service.add_text(text, title, date, source)
        except Exception as exc:  # the store is unreachable: say so, keep the text
            return (status_html([user_message(exc)], heading="Nothing was added.", ok=False),
                    *keep)
        lines = [
            f"✗ {o.error}" if o.status == "failed"
            else f"✓ {o.status} “{o.title}” ({o.chunks} chunks)"
            for o in report.outcomes
        ] + [f"⚠ {w}" for _, w in report.warnings]
        cleared = ("", "", "", "") if report.ok else keep
        return (status_html(lines, heading=report.summary(), ok=report.ok), *cleared)

    def ui_view_document(self, doc_id: str) -> str:
        try:
            return self.service.document_view(doc_id)
        except Exception as exc:
            return status_html([user_message(exc)], ok=False)

    def ui_remove_ask(self, picked: list[str] | None):
        """First step of removing: name what will go and ask to confirm; nothing is removed
        until "Yes, remove"."""
        picked = list(picked or [])
        if not picked:
            return (status_html(["Select one or more documents to remove first."], ok=False),
                    gr.Row(visible=False), gr.skip())
        try:
            heading, line = removal_question(self.service, picked)
        except Exception as exc:
            return (status_html([user_message(exc)], ok=False), gr.Row(visible=False),
                    gr.skip())
        return gr.skip(), gr.Row(visible=True), status_html([line], heading=heading)

    def ui_remove_confirm(self, picked: list[str] | None, query: str):
        """Second step (Yes, remove): remove what the question named, keeping it for Undo."""
        try:
            removed, errors = self.service.remove_many(list(picked or []))
        except Exception as exc:  # a read-only store, an unreachable server
            return (status_html([user_message(exc)], heading="Nothing was removed.", ok=False),
                    gr.Row(visible=False), [], gr.Button(visible=False), *self.ui_refresh(query))
        lines = [f"✗ {e}" for e in errors]
        heading = (f"Removed {len(removed)} document{'s' if len(removed) != 1 else ''}: "
                   f"{_remove_summary(removed)}." if removed else "Nothing was removed.")
        return (status_html(lines, heading=heading, ok=not errors), gr.Row(visible=False),
                removed, gr.Button(visible=bool(removed)), *self.ui_refresh(query))

    def ui_remove_cancel(self):
        return gr.Row(visible=False), status_html(["Nothing was removed."])

    def ui_undo(self, removed: list[Removed] | None, query: str):
        removed = list(removed or [])
        if not removed:
            return (status_html(["Nothing to undo."]), [], gr.Button(visible=False),
                    *self.ui_refresh(query))
        try:
            report = self.service.restore(removed)
        except Exception as exc:
            return (status_html([user_message(exc)], heading="Could not restore.", ok=False),
                    removed, gr.skip(), *self.ui_refresh(query))
        back = [o for o in report.outcomes if o.status != "failed"]
        lines = [f"✗ {o.title}: {o.error}" for o in report.failed]
        return (status_html(lines, heading=f"Restored {len(back)} document"
                            f"{'s' if len(back) != 1 else ''}: "
                            f"{', '.join(f'“{o.title}”' for o in back[:3])}"
                            f"{' and more' if len(back) > 3 else ''}.", ok=report.ok),
                [], gr.Button(visible=False), *self.ui_refresh(query))

    # -- API-only endpoints (typed; see docs/web.md) -----------------------------------------
    def api_ask(self, question: str, history: list[dict] | None = None, k: int = 0,
                about: str = "") -> dict:
        """Answer a question from the articles. history: earlier turns as
        [{"role": "user"|"assistant", "content": str}]; k: passages (0 = default); about:
        the document (id, id prefix or source) an open question is about ("" = the one the
        history last cited, the only one, or the best match)."""
        try:
            answer = self.service.ask(question, history_pairs(history or []), k or None,
                                      about=about or last_cited_document(history))
        except Exception as exc:
            raise gr.Error(user_message(exc)) from exc
        return answer_dict(answer)

    def api_add(self, files, text: str, title: str, date: str, source: str) -> dict:
        out: dict = {"files": None, "text": None}
        if not files and not (text or "").strip():
            raise gr.Error("nothing to add: give files or text")
        try:
            if files:
                pairs = [(f, Path(f).name)
                         for f in (files if isinstance(files, list) else [files])]
                out["files"] = self.service.add_uploads(pairs).to_dict()
            if (text or "").strip():
                report = self.service.add_text(text, title or "", date or "", source or "")
                out["text"] = {"summary": report.summary(),
                               "outcomes": [o.__dict__ for o in report.outcomes]}
        except Exception as exc:  # e.g. the Chroma server is down
            raise gr.Error(user_message(exc)) from exc
        return out

    def api_list(self) -> list[dict]:
        """Every document, newest first: doc_id, title, source, published, chunks, chars,
        added_at."""
        try:
            return self.service.documents()
        except Exception as exc:
            raise gr.Error(user_message(exc)) from exc

    def api_remove(self, ref: str) -> dict:
        """Remove a document by its full id, a unique id prefix of at least 6 characters, or
        its exact source; returns what went."""
        try:
            return self.service.remove(ref)
        except Exception as exc:
            raise gr.Error(user_message(exc)) from exc


def build_ui(service: Service) -> gr.Blocks:
    """The whole app. Launch with ``demo.queue(...)`` settings from :func:`launch_options`."""
    h = Handlers(service)
    with gr.Blocks(title="newsqa — ask your news articles") as demo:
        gr.Markdown("## newsqa · ask your news articles\nAnswers come only from the articles "
                    "in the knowledge base; every [n] opens the sentence it came from.")
        saved = gr.BrowserState([], storage_key="newsqa-chat")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                chat = _chat_tab(service)
            with gr.Tab("Documents", id="documents"):
                docs = _documents_tab(service, h.initial_choices)
        refreshed = [docs.docs_html, docs.picked, chat.chatbot, chat.settings_md, chat.about]
        _wire_chat(demo, h, chat, docs, saved, refreshed)
        _wire_documents(h, docs, refreshed)
        _wire_api(h, docs)
    return demo


_HIDDEN = {"api_visibility": "undocumented"}
_QUIET = {**_HIDDEN, "show_progress": "hidden"}  # no loading veil over the chat


def _chat_tab(service: Service) -> SimpleNamespace:
    """The Chat tab's components: the chat with its question box and buttons, the source
    panel, the settings."""
    ui = SimpleNamespace()
    with gr.Row():
        with gr.Column(scale=3):
            ui.chatbot = gr.Chatbot(
                elem_id="nqa-chat", label="Chat", height=520,
                examples=_examples(service),
                placeholder="Ask a question about the articles, or pick one below.",
                feedback_options=None, buttons=[],
                latex_delimiters=[], sanitize_html=True,
            )
            with gr.Row():
                ui.question = gr.Textbox(
                    placeholder="Ask about the articles…", show_label=False,
                    elem_id="nqa-question", scale=6, lines=1, max_lines=4,
                    autofocus=True, submit_btn=False,
                )
                ui.send = gr.Button("Ask", variant="primary", elem_id="nqa-send",
                                    scale=1, min_width=80)
                ui.stop = gr.Button("Stop", variant="stop", elem_id="nqa-stop",
                                    scale=1, min_width=80, visible=False)
                ui.clear = gr.Button("Clear chat", elem_id="nqa-clear", scale=1,
                                     min_width=112)  # one line at 1280 px
        with gr.Column(scale=2):
            gr.Markdown("#### Source")
            ui.source_panel = gr.HTML(
                empty_source_html(), elem_id="nqa-source-panel", js_on_load=CLICK_JS,
            )
            ui.about = gr.Dropdown(
                choices=_about_choices(_listed(service)), value="", elem_id="nqa-about",
                label="Article for summaries and explanations", interactive=True,
                info="“Summarize it”, “Why…?”, “What happens next?” read this whole article.",
            )
            with gr.Accordion("Settings", open=False, elem_id="nqa-settings"):
                ui.settings_md = gr.Markdown(_settings_md(service))
                ui.k_slider = gr.Slider(
                    1, 10, value=service.settings.top_k, step=1, elem_id="nqa-k",
                    label="Passages per question (k)",
                )
    ui.cite_ref = gr.Textbox(visible="hidden", elem_id="nqa-cite-ref")
    ui.cite_open = gr.Button("source", visible="hidden", elem_id="nqa-cite-open")
    return ui


def _documents_tab(service: Service, choices: list[tuple[str, str]]) -> SimpleNamespace:
    """The Documents tab's components: upload, paste, the filtered list, removal."""
    ui = SimpleNamespace()
    with gr.Row():
        with gr.Column():
            gr.Markdown("#### Upload files")
            ui.files = gr.File(
                file_count="multiple", elem_id="nqa-files",
                label=(f"{', '.join(s.lstrip('.') for s in ALLOWED_SUFFIXES)}"
                       f" · up to {service.settings.max_file_mb:g} MB each · several at once"),
            )
            ui.upload_btn = gr.Button("Add files", variant="primary", elem_id="nqa-upload")
        with gr.Column():
            gr.Markdown("#### Paste an article")
            ui.paste_text = gr.Textbox(lines=6, label="Article text", elem_id="nqa-paste-text")
            with gr.Row():
                ui.paste_title = gr.Textbox(
                    label="Title (optional)", elem_id="nqa-paste-title",
                    placeholder="default: the first sentence")
                ui.paste_date = gr.Textbox(label="Date (optional, YYYY-MM-DD)",
                                           elem_id="nqa-paste-date")
                ui.paste_source = gr.Textbox(label="Source URL (optional)",
                                             elem_id="nqa-paste-source")
            ui.paste_btn = gr.Button("Add text", elem_id="nqa-paste-add")
    ui.add_status = gr.HTML(elem_id="nqa-add-status")
    gr.Markdown("#### Documents in the knowledge base")
    ui.doc_search = gr.Textbox(placeholder="Filter by title, source, date or id…",
                               show_label=False, elem_id="nqa-doc-search")
    ui.docs_html = gr.HTML(documents_html(service.documents()), elem_id="nqa-docs")
    ui.doc_view = gr.HTML(elem_id="nqa-doc-view")
    with gr.Accordion("Remove documents", open=False, elem_id="nqa-remove-box"):
        ui.picked = gr.CheckboxGroup(
            choices=choices, label="Select documents",
            elem_id="nqa-pick")
        ui.remove_btn = gr.Button("Remove selected…", variant="stop", elem_id="nqa-remove")
        with gr.Row(visible=False, elem_id="nqa-confirm") as ui.confirm_row:
            ui.confirm_msg = gr.HTML(elem_id="nqa-confirm-msg")
            ui.confirm_yes = gr.Button("Yes, remove", variant="stop",
                                       elem_id="nqa-remove-yes", min_width=80)
            ui.confirm_no = gr.Button("Cancel", elem_id="nqa-remove-no", min_width=80)
        ui.undo_btn = gr.Button("Undo remove", visible=False, elem_id="nqa-undo")
    ui.removed_state = gr.State([])
    ui.doc_ref = gr.Textbox(visible="hidden", elem_id="nqa-doc-ref")
    ui.doc_open = gr.Button("view", visible="hidden", elem_id="nqa-doc-open")
    ui.api_out = gr.JSON(visible=False)
    ui.api_add_btn = gr.Button(visible=False)
    return ui


def _wire_chat(demo: gr.Blocks, h: Handlers, chat: SimpleNamespace, docs: SimpleNamespace,
               saved: gr.BrowserState, refreshed: list) -> None:
    ask_args = {"fn": h.ui_chat, "inputs": [chat.question, chat.chatbot, chat.k_slider,
                                            chat.about],
                "outputs": [chat.question, chat.chatbot, saved, chat.send, chat.stop],
                "concurrency_limit": CONCURRENCY, "concurrency_id": "answer", **_QUIET}
    for trigger in (chat.question.submit, chat.send.click):
        trigger(**ask_args)
    chat.stop.click(h.ui_stop, None, None, queue=False, **_HIDDEN)
    chat.chatbot.example_select(h.ui_pick_example, None, chat.question,
                                **_HIDDEN).then(**ask_args)
    chat.clear.click(lambda: ([], [], empty_source_html()), None,
                     [chat.chatbot, saved, chat.source_panel], **_HIDDEN)
    chat.chatbot.clear(lambda: ([], empty_source_html()), None, [saved, chat.source_panel],
                       **_HIDDEN)
    chat.cite_open.click(h.ui_show_source, chat.cite_ref, chat.source_panel, api_name="source",
                         api_visibility="undocumented", show_progress="hidden")
    demo.load(h.ui_restore, saved, chat.chatbot, **_QUIET).then(
        h.ui_refresh_on_load, [docs.doc_search, docs.picked], refreshed, **_QUIET)


def _wire_documents(h: Handlers, docs: SimpleNamespace, refreshed: list) -> None:
    d = docs
    paste = [d.paste_text, d.paste_title, d.paste_date, d.paste_source]
    d.upload_btn.click(h.ui_upload, d.files, [d.add_status, d.files], **_HIDDEN).then(
        h.ui_refresh, [d.doc_search, d.picked], refreshed, **_QUIET)
    d.paste_btn.click(h.ui_paste, paste, [d.add_status, *paste], **_HIDDEN).then(
        h.ui_refresh, [d.doc_search, d.picked], refreshed, **_QUIET)
    d.doc_search.change(h.ui_refresh, [d.doc_search, d.picked], refreshed, **_QUIET)
    d.doc_open.click(h.ui_view_document, d.doc_ref, d.doc_view, **_QUIET)
    d.remove_btn.click(h.ui_remove_ask, d.picked, [d.add_status, d.confirm_row, d.confirm_msg],
                       **_HIDDEN)
    d.confirm_no.click(h.ui_remove_cancel, None, [d.confirm_row, d.add_status], **_HIDDEN)
    d.confirm_yes.click(h.ui_remove_confirm, [d.picked, d.doc_search],
                        [d.add_status, d.confirm_row, d.removed_state, d.undo_btn, *refreshed],
                        **_HIDDEN)
    d.undo_btn.click(h.ui_undo, [d.removed_state, d.doc_search],
                     [d.add_status, d.removed_state, d.undo_btn, *refreshed], **_HIDDEN)


def _wire_api(h: Handlers, docs: SimpleNamespace) -> None:
    """The named API (docs/web.md): ask, add, list, remove."""
    gr.api(h.api_ask, api_name="ask", concurrency_limit=CONCURRENCY, concurrency_id="answer")
    docs.api_add_btn.click(
        h.api_add, [docs.files, docs.paste_text, docs.paste_title, docs.paste_date,
                    docs.paste_source],
        docs.api_out, api_name="add",
        api_description="Add files (txt, md, html, pdf, jsonl) and/or pasted "
        "text with optional title, date, source.")
    gr.api(h.api_list, api_name="list")
    gr.api(h.api_remove, api_name="remove")


def launch_options(service: Service) -> dict:
    """``launch()`` keyword arguments from the environment: QA_HOST (127.0.0.1), QA_PORT
    (7860), QA_AUTH ("user:password", optional)."""
    settings = service.settings
    return {
        "server_name": settings.host,
        "server_port": settings.port,
        "auth": settings.auth,
        "css": CSS,
        "footer_links": ["api", "settings"],
        # Gradio turns away much larger uploads at the door; the app checks the per-file limit
        # itself so that each refused file gets its own clear message.
        "max_file_size": f"{int(service.settings.max_file_mb * 2) + 1}mb",
        "allowed_paths": [],
        "show_error": True,
    }

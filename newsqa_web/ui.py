"""The Gradio Blocks: a Chat tab (streaming answers, footnotes, source panel, settings) and a
Documents tab (upload, paste, list, remove), plus the named API endpoints ask/add/list/remove.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import gradio as gr

from qa.answer_types import ExtractiveEvent, FinalEvent, TokenEvent
from qa.errors import QAError

from .render import (
    answer_html,
    empty_source_html,
    history_pairs,
)
from .service import Service, answer_dict
from .uploads import ALLOWED_SUFFIXES

log = logging.getLogger(__name__)

CONCURRENCY = 4
"""Questions answered at once (retrieval is thread-safe; the embedded model serialises
itself); more wait in the queue."""
QUEUE_SIZE = 128
STREAM_INTERVAL = 0.15
"""Seconds between UI updates while tokens stream."""
DOC_HEADERS = ["Title", "Published", "Chunks", "Added (UTC)", "Source", "ID"]

CSS = """
#nqa-chat .nqa-cite { font-size: 0.8em; vertical-align: super; text-decoration: none;
  font-weight: 600; padding: 0 1px; cursor: pointer; }
#nqa-chat .nqa-sources { margin: 0.4em 0 0 1.2em; font-size: 0.85em; }
#nqa-chat .nqa-meta, .nqa-source-meta { color: var(--body-text-color-subdued); font-size: 0.8em; }
#nqa-chat .nqa-draft { color: var(--body-text-color-subdued); font-style: italic;
  border-left: 3px solid var(--border-color-primary); padding-left: 0.5em; margin-top: 0.3em; }
#nqa-chat .nqa-refusal strong { color: #b45309; }
.nqa-source { padding: 0.6em 0.8em; border: 1px solid var(--border-color-primary);
  border-radius: 8px; min-height: 4em; }
.nqa-source.nqa-empty { color: var(--body-text-color-subdued); }
.nqa-source-title { margin: 0 0 0.3em 0; font-size: 1.05em; }
.nqa-para { line-height: 1.55; margin-top: 0.6em; }
mark.nqa-hl { background: #fde68a; color: #111; padding: 0 2px; border-radius: 3px; }
"""

# A footnote link carries its source reference in its href (#nqa-src-DOC-START-END-N). One
# document-level listener turns a click on any such link, in any message (also in a restored
# history), into a call of the hidden "source" event.
CLICK_JS = """
if (!window.__nqaCiteListener) {
  window.__nqaCiteListener = true;
  document.addEventListener('click', function (e) {
    const a = e.target && e.target.closest ? e.target.closest('a[href*="#nqa-src-"]') : null;
    if (!a) return;
    e.preventDefault();
    e.stopPropagation();
    const ref = a.getAttribute('href').split('#nqa-src-')[1];
    const box = document.querySelector('#nqa-cite-ref textarea, #nqa-cite-ref input');
    let btn = document.querySelector('#nqa-cite-open');
    if (btn && btn.tagName !== 'BUTTON') btn = btn.querySelector('button') || btn;
    if (!box || !btn) return;
    box.value = ref;
    box.dispatchEvent(new Event('input', { bubbles: true }));
    setTimeout(function () { btn.click(); }, 60);
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


def removal_prompt(service: Service, doc_id: str | None) -> str:
    """The question asked before a document is removed from the Documents tab."""
    info = service.document(doc_id or "")
    return (f"Remove “{info['title']}” ({info['chunks']} chunks, id {info['doc_id']})? "
            "This cannot be undone: press **Yes, remove** to confirm, or Cancel.")


def _examples(service: Service) -> list[dict]:
    return [{"text": q} for q in service.examples()]


def _settings_md(service: Service) -> str:
    b = service.backend()
    c = service.corpus()
    return (
        f"**Answer model:** `{b['backend']}` — {b['model']}  \n"
        f"**Corpus:** {c['documents']} documents, {c['chunks']} chunks · collection "
        f"`{c['collection']}` in `{c['store']}`  \n"
        f"**Embedder:** {c['embedder']}"
    )


def _doc_rows(service: Service) -> list[list]:
    return [
        [d["title"], d["published"] or "", d["chunks"], (d["added_at"] or "")[:19].replace(
            "T", " "), d["source"], d["doc_id"]]
        for d in service.documents()
    ]


def _doc_choices(service: Service) -> list[tuple[str, str]]:
    return [
        (f"{d['title']} ({d['published'] or 'no date'}) · {d['doc_id'][:8]}", d["doc_id"])
        for d in service.documents()
    ]


def build_ui(service: Service) -> gr.Blocks:
    """The whole app. Launch with ``demo.queue(...)`` settings from :func:`launch_options`."""
    settings = service.settings
    max_mb = settings.max_file_mb

    def ui_refresh():
        try:
            return (
                gr.Dataframe(value=_doc_rows(service)),
                gr.Dropdown(choices=_doc_choices(service), value=None),
                gr.Chatbot(examples=_examples(service)),
                _settings_md(service),
            )
        except Exception as exc:  # keep what is shown; say why it could not be refreshed
            gr.Warning(user_message(exc))
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()

    # -- chat --------------------------------------------------------------------------------
    def ui_chat(question: str, messages: list, k: float):
        question = (question or "").strip()
        messages = list(messages or [])
        if not question:
            gr.Warning("Type a question first.")
            yield gr.skip(), messages
            return
        history = history_pairs(messages)
        messages += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": '<div class="nqa-meta">Searching the articles…</div>'},
        ]
        yield "", messages
        instant = None
        draft = ""
        shown_at = 0.0
        try:
            for event in service.answer_events(question, history, int(k)):
                if isinstance(event, ExtractiveEvent):
                    instant = event.answer
                    messages[-1] = {"role": "assistant",
                                    "content": answer_html(instant, pending=not instant.refused)}
                    yield gr.skip(), messages
                elif isinstance(event, TokenEvent) and instant is not None:
                    draft += event.text
                    if time.monotonic() - shown_at > STREAM_INTERVAL:
                        shown_at = time.monotonic()
                        messages[-1] = {"role": "assistant",
                                        "content": answer_html(instant, pending=True, draft=draft)}
                        yield gr.skip(), messages
                elif isinstance(event, FinalEvent):
                    messages[-1] = {"role": "assistant", "content": answer_html(event.answer)}
                    yield gr.skip(), messages
        except QAError as exc:
            messages[-1] = {"role": "assistant", "content": f"⚠️ {exc}"}
            yield gr.skip(), messages
        except Exception as exc:  # the model failed: keep the instant answer, say so
            if instant is None:
                messages[-1] = {"role": "assistant",
                                "content": f"⚠️ Could not answer: {user_message(exc)}"}
            else:
                messages[-1] = {"role": "assistant", "content": answer_html(
                    instant, note=f"the answer model failed ({type(exc).__name__}); "
                    "showing the instant answer")}
            yield gr.skip(), messages

    def ui_show_source(ref: str) -> str:
        try:
            return service.source(ref)
        except Exception as exc:
            return empty_source_html(user_message(exc))

    def ui_pick_example(evt: gr.SelectData) -> str:
        value = evt.value
        return value.get("text", "") if isinstance(value, dict) else str(value)

    # -- documents ---------------------------------------------------------------------------
    def ui_upload(files, progress=gr.Progress()):  # noqa: B008 (Gradio injects it)
        if not files:
            return "Choose one or more files first.", None
        pairs = [(f, Path(f).name) for f in (files if isinstance(files, list) else [files])]

        def step(done: int, total: int) -> None:
            if total:
                progress((done, total), desc="Indexing documents", unit="documents")

        try:
            result = service.add_uploads(pairs, progress=step)
        except Exception as exc:  # the store is unreachable: say so, keep the chosen files
            return f"✗ Nothing was added: {user_message(exc)}", gr.skip()
        lines = result.lines() or ["Nothing was added."]
        return f"**{result.to_dict()['summary']}**\n\n" + "\n".join(
            f"- {ln}" for ln in lines), None

    def ui_paste(text: str, title: str, date: str, source: str):
        if not (text or "").strip():
            return "Paste some article text first.", gr.skip()
        try:
            report = service.add_text(text, title, date, source)
        except Exception as exc:  # the store is unreachable: say so, keep the text
            return f"✗ Nothing was added: {user_message(exc)}", gr.skip()
        lines = [
            f"- ✗ {o.error}" if o.status == "failed"
            else f"- ✓ {o.status} “{o.title}” ({o.chunks} chunks)"
            for o in report.outcomes
        ] + [f"- ⚠ {w}" for _, w in report.warnings]
        cleared = "" if report.ok else gr.skip()
        return f"**{report.summary()}**\n\n" + "\n".join(lines), cleared

    def _confirm_buttons(visible: bool):
        return gr.Button(visible=visible), gr.Button(visible=visible)

    def ui_ask_remove(doc_id: str | None):
        """First click: name what would go and ask to confirm; nothing is removed yet."""
        if not doc_id:
            return ("Choose a document to remove.", None, *_confirm_buttons(False))
        try:
            prompt = removal_prompt(service, doc_id)
        except Exception as exc:
            return f"✗ {user_message(exc)}", None, *_confirm_buttons(False)
        return prompt, doc_id, *_confirm_buttons(True)

    def ui_remove(doc_id: str | None):
        """Second click (Yes, remove): remove the document the prompt named."""
        if not doc_id:
            return "Choose a document to remove.", None, *_confirm_buttons(False)
        try:
            info = service.remove(doc_id)
        except Exception as exc:
            return f"✗ {user_message(exc)}", None, *_confirm_buttons(False)
        return (f"Removed “{info['title']}” ({info['chunks']} chunks).", None,
                *_confirm_buttons(False))

    def ui_cancel_remove():
        return "Nothing was removed.", None, *_confirm_buttons(False)

    # -- API-only endpoints (typed; see docs/web.md) -----------------------------------------
    def api_ask(question: str, history: list[dict] | None = None, k: int = 0) -> dict:
        """Answer a question from the articles. history: earlier turns as
        [{"role": "user"|"assistant", "content": str}]; k: passages (0 = default)."""
        try:
            answer = service.ask(question, history_pairs(history or []), k or None)
        except Exception as exc:
            raise gr.Error(user_message(exc)) from exc
        return answer_dict(answer)

    def api_add(files, text: str, title: str, date: str, source: str) -> dict:
        out: dict = {"files": None, "text": None}
        if not files and not (text or "").strip():
            raise gr.Error("nothing to add: give files or text")
        try:
            if files:
                pairs = [(f, Path(f).name)
                         for f in (files if isinstance(files, list) else [files])]
                out["files"] = service.add_uploads(pairs).to_dict()
            if (text or "").strip():
                report = service.add_text(text, title or "", date or "", source or "")
                out["text"] = {"summary": report.summary(),
                               "outcomes": [o.__dict__ for o in report.outcomes]}
        except Exception as exc:  # e.g. the Chroma server is down
            raise gr.Error(user_message(exc)) from exc
        return out

    def api_list() -> list[dict]:
        """Every document, newest first: doc_id, title, source, published, chunks, chars,
        added_at."""
        try:
            return service.documents()
        except Exception as exc:
            raise gr.Error(user_message(exc)) from exc

    def api_remove(ref: str) -> dict:
        """Remove a document by its full id, a unique id prefix of at least 6 characters, or
        its exact source; returns what went."""
        try:
            return service.remove(ref)
        except Exception as exc:
            raise gr.Error(user_message(exc)) from exc

    with gr.Blocks(title="newsqa — ask your news articles") as demo:
        gr.Markdown("## newsqa · ask your news articles\nAnswers come only from the articles "
                    "in the knowledge base; every [n] opens the passage it came from.")
        saved = gr.BrowserState([], storage_key="newsqa-chat")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                with gr.Row():
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(
                            elem_id="nqa-chat", label="Chat", height=520,
                            examples=_examples(service),
                            placeholder="Ask a question about the articles, or pick one below.",
                            feedback_options=None, buttons=["copy"],
                        )
                        with gr.Row():
                            question = gr.Textbox(
                                placeholder="Ask about the articles…", show_label=False,
                                elem_id="nqa-question", scale=6, lines=1, max_lines=4,
                                autofocus=True, submit_btn=False,
                            )
                            send = gr.Button("Ask", variant="primary", elem_id="nqa-send",
                                             scale=1, min_width=80)
                            clear = gr.Button("Clear chat", elem_id="nqa-clear", scale=1,
                                              min_width=80)
                    with gr.Column(scale=2):
                        gr.Markdown("#### Source")
                        source_panel = gr.HTML(
                            empty_source_html(), elem_id="nqa-source-panel", js_on_load=CLICK_JS,
                        )
                        with gr.Accordion("Settings", open=True, elem_id="nqa-settings"):
                            settings_md = gr.Markdown(_settings_md(service))
                            k_slider = gr.Slider(
                                1, 10, value=settings.top_k, step=1, elem_id="nqa-k",
                                label="Passages per question (k)",
                            )
                cite_ref = gr.Textbox(visible="hidden", elem_id="nqa-cite-ref")
                cite_open = gr.Button("source", visible="hidden", elem_id="nqa-cite-open")

            with gr.Tab("Documents", id="documents"):
                with gr.Row():
                    with gr.Column():
                        gr.Markdown("#### Upload files")
                        files = gr.File(
                            file_count="multiple", elem_id="nqa-files",
                            label=(f"{', '.join(s.lstrip('.') for s in ALLOWED_SUFFIXES)}"
                                   f" · up to {max_mb:g} MB each · several at once"),
                        )
                        upload_btn = gr.Button("Add files", variant="primary",
                                               elem_id="nqa-upload")
                    with gr.Column():
                        gr.Markdown("#### Paste an article")
                        paste_text = gr.Textbox(lines=6, label="Article text",
                                                elem_id="nqa-paste-text")
                        with gr.Row():
                            paste_title = gr.Textbox(label="Title (optional)",
                                                     elem_id="nqa-paste-title")
                            paste_date = gr.Textbox(label="Date (optional, YYYY-MM-DD)",
                                                    elem_id="nqa-paste-date")
                            paste_source = gr.Textbox(label="Source URL (optional)",
                                                      elem_id="nqa-paste-source")
                        paste_btn = gr.Button("Add text", elem_id="nqa-paste-add")
                add_status = gr.Markdown(elem_id="nqa-add-status")
                gr.Markdown("#### Documents in the knowledge base")
                docs_table = gr.Dataframe(
                    value=_doc_rows(service), headers=DOC_HEADERS, interactive=False,
                    elem_id="nqa-docs", wrap=True,
                    column_widths=["32%", "11%", "7%", "15%", "25%", "10%"],
                )
                with gr.Row():
                    remove_choice = gr.Dropdown(choices=_doc_choices(service), value=None,
                                                label="Document to remove",
                                                elem_id="nqa-remove-choice", scale=4)
                    remove_btn = gr.Button("Remove", variant="stop", elem_id="nqa-remove",
                                           scale=1)
                    confirm_remove_btn = gr.Button("Yes, remove", variant="stop", visible=False,
                                                   elem_id="nqa-remove-confirm", scale=1)
                    cancel_remove_btn = gr.Button("Cancel", visible=False,
                                                  elem_id="nqa-remove-cancel", scale=1)
                pending_removal = gr.State(None)
                api_out = gr.JSON(visible=False)
                api_add_btn = gr.Button(visible=False)

        refreshed = [docs_table, remove_choice, chatbot, settings_md]
        hidden = {"api_visibility": "undocumented"}

        # chat events
        ask_args = {"fn": ui_chat, "inputs": [question, chatbot, k_slider],
                    "outputs": [question, chatbot], "concurrency_limit": CONCURRENCY,
                    "concurrency_id": "answer", **hidden}
        for trigger in (question.submit, send.click):
            trigger(**ask_args).then(lambda m: m, chatbot, saved, **hidden)
        chatbot.example_select(ui_pick_example, None, question, **hidden).then(
            **ask_args).then(lambda m: m, chatbot, saved, **hidden)
        clear.click(lambda: ([], [], empty_source_html()), None,
                    [chatbot, saved, source_panel], **hidden)
        chatbot.clear(lambda: ([], empty_source_html()), None, [saved, source_panel], **hidden)
        cite_open.click(ui_show_source, cite_ref, source_panel, api_name="source",
                        api_visibility="undocumented")
        demo.load(lambda m: m or [], saved, chatbot, **hidden).then(ui_refresh, None, refreshed,
                                                                    **hidden)

        # documents events
        upload_btn.click(ui_upload, files, [add_status, files], **hidden).then(
            ui_refresh, None, refreshed, **hidden)
        paste_btn.click(ui_paste, [paste_text, paste_title, paste_date, paste_source],
                        [add_status, paste_text], **hidden).then(ui_refresh, None, refreshed,
                                                                 **hidden)
        removal_outputs = [add_status, pending_removal, confirm_remove_btn, cancel_remove_btn]
        remove_btn.click(ui_ask_remove, remove_choice, removal_outputs, **hidden)
        confirm_remove_btn.click(ui_remove, pending_removal, removal_outputs, **hidden).then(
            ui_refresh, None, refreshed, **hidden)
        cancel_remove_btn.click(ui_cancel_remove, None, removal_outputs, **hidden)

        # named API
        gr.api(api_ask, api_name="ask", concurrency_limit=CONCURRENCY, concurrency_id="answer")
        api_add_btn.click(api_add, [files, paste_text, paste_title, paste_date, paste_source],
                          api_out, api_name="add",
                          api_description="Add files (txt, md, html, pdf, jsonl) and/or pasted "
                          "text with optional title, date, source.")
        gr.api(api_list, api_name="list")
        gr.api(api_remove, api_name="remove")
    return demo


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

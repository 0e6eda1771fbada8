"""The `qa` command: add, list, remove, search and ask about articles; `qa serve` the web app."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence

from qa.errors import QAError

# Characters a terminal acts on instead of showing: C0 controls (ESC starts ANSI/OSC
# sequences, CR and LF forge lines), DEL, C1 controls (0x9b is a one-byte CSI), line and
# paragraph separators, and the bidi overrides and isolates that reorder what is shown.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROLS_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e"
                                   r"\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(m: re.Match[str]) -> str:
    ch = m.group()
    return _NAMED.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")


def line(value: object) -> str:
    """Text from documents, file names or errors made safe to print as (part of) one line:
    every control character, newline included, is shown escaped (``\\x1b``, ``\\n``)."""
    return _CONTROLS.sub(_escaped, str(value))


def block(value: object, indent: str = "") -> str:
    """Multi-line text (a passage, an answer) made safe to print: controls escaped, newlines
    kept, and continuation lines indented so that text cannot forge a line of its own."""
    text = _CONTROLS_BUT_NEWLINE.sub(_escaped, str(value))
    return text.replace("\n", "\n" + indent) if indent else text


def _json(value: object) -> str:
    """JSON for machines; json escapes C0 controls itself, the rest are escaped here too."""
    out = json.dumps(value, ensure_ascii=False, indent=2)
    return re.sub(r"[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]",
                  lambda m: f"\\u{ord(m.group()):04x}", out)


def _progress_bar(desc: str):
    """A tqdm bar on stderr for long adds (hidden when stderr is not a terminal)."""
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            if total < 2:
                return
            bar = tqdm(total=total, desc=desc, unit="doc", file=sys.stderr, disable=None)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return update


def _open(args: argparse.Namespace, *, rebuild_index: bool = False):
    from qa.kb import KnowledgeBase, open_kb

    settings = _settings(args)
    if rebuild_index:
        return KnowledgeBase(settings, rebuild_index=True)
    kb = open_kb(settings=settings)
    _say_seeded(kb)
    return kb


def _reader(args: argparse.Namespace, *, answers: bool = True):
    """For search, ask and chat: the newsqa app that serves this store, when one runs on this
    machine (its models are loaded already; see qa/app_link.py), else the store opened here.
    Ask and chat (``answers``) start the background worker when nothing serves the store
    (qa/worker.py); a search does not: a cold one is quick."""
    from .app_link import reader

    return reader(_settings(args), lambda: _open(args), answers=answers, local=args.local,
                  verbose=args.verbose, note=lambda m: print(line(m), file=sys.stderr),
                  start_worker=answers)


def _settings(args: argparse.Namespace):
    from pathlib import Path

    from qa.config import Settings

    settings = Settings.from_env()
    if args.data_dir:
        settings = settings.with_(data_dir=Path(args.data_dir).expanduser())
    if args.with_sample:
        settings = settings.with_(seed_corpus=True)
    return settings


def _say_seeded(kb) -> None:
    """One line on stderr when opening the store just added the sample article."""
    report = kb.seed_report
    if report and report.count("added"):
        titles = ", ".join(o.title for o in report.outcomes if o.status == "added")
        print(f"also added the sample article: {titles} (QA_SEED_CORPUS=0 to skip)",
              file=sys.stderr)


def cmd_add(args: argparse.Namespace) -> int:
    kb = _open(args)
    if args.text is not None:
        text = sys.stdin.read() if args.text == "-" else args.text
        report = kb.add_text(text, title=args.title, source=args.source, date=args.date)
    else:
        if not args.paths:
            raise QAError("give files or folders to add, or --text")
        report = kb.add(
            *args.paths, title=args.title, source=args.source, date=args.date,
            encoding=args.encoding, progress=_progress_bar("adding"),
        )
    for o in report.failed:
        print(f"error: {line(o.origin)}: {line(o.error)}", file=sys.stderr)
    for origin, warning in report.warnings:
        print(f"warning: {line(origin)}: {line(warning)}", file=sys.stderr)
    if args.json:
        print(_json([o.__dict__ for o in report.outcomes]))
    elif args.verbose:
        for o in report.outcomes:
            if o.status != "failed":
                print(f"{o.status:9} {o.doc_id}  {o.chunks:4} chunks  {line(o.title)}")
    print(report.summary(), file=sys.stderr if args.json else sys.stdout)
    return 0 if report.ok else 1


def cmd_list(args: argparse.Namespace) -> int:
    docs = _open(args).documents()
    if args.json:
        print(_json([d.to_dict() for d in docs]))
        return 0
    if not docs:
        print("no documents; add some with `qa add PATH`")
        return 0
    for d in docs:
        published = line(d.published or "----------")
        print(f"{d.doc_id}  {d.chunks:4} chunks  {published}  {line(d.title[:70])}")
    print(f"{len(docs)} documents, {sum(d.chunks for d in docs)} chunks")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    kb = _open(args)
    for ref in args.ids:
        info = kb.remove(ref)
        print(f"removed {info.doc_id}  ({info.chunks} chunks)  {line(info.title)}")
    return 0


def _print_passages(passages, as_json: bool) -> None:
    if as_json:
        print(_json([p.to_dict() for p in passages]))
        return
    if not passages:
        print("no passages found")
    for rank, p in enumerate(passages, start=1):
        date = f" ({line(p.published)})" if p.published else ""
        print(f"[{rank}] {p.score:.3f}  {line(p.title)}{date}  [{p.doc_id} {p.start}-{p.end}]")
        print(f"    {line(_collapsed(p.text))}\n")


def _collapsed(text: str) -> str:
    """A passage as one line: its paragraph breaks and runs of whitespace become one space
    (then ``line`` escapes what is left, so a newline never shows as a literal ``\\n``)."""
    return " ".join(text.split())


def cmd_search(args: argparse.Namespace) -> int:
    kb = _reader(args, answers=False)
    if args.question:
        _print_passages(kb.retrieve(" ".join(args.question), args.k, as_of=args.as_of),
                        args.json)
        return 0
    print("Search your articles (empty line or Ctrl-D to quit).", file=sys.stderr)
    for question in _questions("search> "):
        try:
            _print_passages(kb.retrieve(question, args.k, as_of=args.as_of), args.json)
        except QAError as exc:
            print(f"error: {line(exc)}", file=sys.stderr)
    return 0


def _questions(prompt: str):
    """Lines typed at an interactive prompt, until an empty line, Ctrl-D or Ctrl-C."""
    while True:
        try:
            line = input(prompt).strip()
        except (EOFError, KeyboardInterrupt):
            print(file=sys.stderr)
            return
        if not line:
            return
        yield line


def _print_open(answer) -> None:
    """An answer with citations (a short fact, or an open answer's checked sentences) with
    footnotes numbered from 1, what the check removed, then each footnote's supporting
    sentence."""
    from qa.answer.citations import footnoted

    texts, notes = footnoted(answer.shown_sentences)
    bullets = all(t.startswith("- ") for t in texts)
    print(block(("\n" if bullets else " ").join(texts)))
    removed = answer.removed
    if removed:
        n = len(removed)
        print(f"({n} sentence{'s' if n != 1 else ''} removed: not in the articles)")
    if answer.missing:
        print(block(f"The articles don't mention {' or '.join(answer.missing)}."))
    print()
    for i, c in enumerate(notes, start=1):
        date = f" ({line(c.passage.published)})" if c.passage.published else ""
        print(f"  [{i}] {line(c.passage.title)}{date}: “{line(c.sentence or c.quote)}”")


def _print_answer(answer, as_json: bool) -> None:
    if as_json:
        print(_json(answer.to_dict()))
        return
    if not answer.refused and (answer.shape == "open" or answer.citations):
        _print_open(answer)  # footnotes numbered from [1], in every turn of a chat
        return
    print(block(answer.text))  # a refusal, or an answer without citations
    if answer.refused and answer.passages:
        print("\nNearest passages:")
        for n, p in enumerate(answer.passages[:3], start=1):
            date = f" ({line(p.published)})" if p.published else ""
            print(f"  [{n}] {line(p.title)}{date}: {line(_collapsed(p.text)[:160])}…")


NOT_IN_FIRST = "(not in the best passages: reading the others)"
NUMBER_AGAIN = "(that number is not in the passages: asking again)"


def _answer_streaming(kb, question: str, history, as_of: str | None = None,
                      about: str | None = None) -> object:
    """Print the instant extractive answer, then the generated one as it streams (an open
    answer: each sentence once it passed the check)."""
    from qa.types import ExtractiveEvent, FinalEvent, SentenceEvent, TokenEvent

    final = None
    streamed = False
    preview = None
    checked = 0
    for event in kb.stream(question, history, as_of=as_of, about=about):
        if isinstance(event, SentenceEvent):
            if sys.stderr.isatty():
                for s in event.answer.sentences[checked:]:
                    mark = "✓" if s.supported else "✗ (not in the articles)"
                    print(f"\033[2m{mark} {block(s.text)}\033[0m", file=sys.stderr)
            checked = len(event.answer.sentences)
            continue
        if isinstance(event, ExtractiveEvent) and sys.stderr.isatty():
            if streamed:
                print(file=sys.stderr)
            streamed = False
            # the same preview again: the first passages did not answer, the model reads on,
            # or its number did not check out and it is asked for its next answer
            again = "retry" in event.answer.timings
            text = ((NUMBER_AGAIN if again else NOT_IN_FIRST) if event.answer.text == preview
                    else block(event.answer.text))
            preview = event.answer.text
            print(f"\033[2m{text}\033[0m", file=sys.stderr)
        elif isinstance(event, TokenEvent) and sys.stderr.isatty() and not checked:
            if not streamed:
                print("\033[2m…\033[0m", file=sys.stderr)
            streamed = True
            print(f"\033[2m{block(event.text)}\033[0m", end="", file=sys.stderr, flush=True)
        elif isinstance(event, FinalEvent):
            final = event.answer
    if streamed:
        print(file=sys.stderr)
    return final


def cmd_ask(args: argparse.Namespace) -> int:
    kb = _reader(args)
    question = " ".join(args.question)
    answer = (kb.ask(question, as_of=args.as_of, about=args.about) if args.json
              else _answer_streaming(kb, question, None, args.as_of, args.about))
    _print_answer(answer, args.json)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    kb = _reader(args)
    print("Ask about your articles (empty line or Ctrl-D to quit).", file=sys.stderr)
    history: list[tuple[str, str]] = []
    about: str | None = None  # the article the conversation is about: the last one cited
    for question in _questions("you> "):
        try:
            answer = _answer_streaming(kb, question, history, about=about)
        except QAError as exc:
            print(f"error: {line(exc)}", file=sys.stderr)
            continue
        _print_answer(answer, False)
        history += [("user", question), ("assistant", answer.text)]
        history = history[-8:]
        if answer.citations:
            about = answer.citations[0].passage.doc_id
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from pathlib import Path

    from qa.eval import run as evaluation
    from qa.eval.report import write_report

    settings = _settings(args)
    if args.llm:
        settings = settings.with_(llm=args.llm)
    folder = Path(args.dataset)
    out_dir = Path(args.out) if args.out else Path("eval-results") / folder.name
    results, meta = evaluation.run(
        folder, settings=settings, k=args.k, retrieval=args.retrieval,
        retrieval_only=args.retrieval_only, choices=args.choices, limit=args.limit,
        out_dir=out_dir, progress=_progress_bar("evaluating"), use_dates=not args.ignore_dates,
        audit_path=Path(args.audit) if args.audit else None,
    )
    summary = evaluation.summarize(results, meta)
    report = write_report(results, summary, out_dir)
    print(block(report.read_text().split("\n![", 1)[0].rstrip()))
    print(f"\nreport: {line(report)}\nper question: {line(out_dir / 'results.jsonl')}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.host:
        settings = settings.with_(host=args.host)
    if args.port:
        settings = settings.with_(port=args.port)
    try:
        from qa.web.server import serve
    except ImportError as exc:  # gradio missing from a trimmed environment
        raise QAError(f"the web app needs gradio ({exc}); pip install newsqa") from exc
    serve(settings)
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    kb = _open(args, rebuild_index=True)
    report = kb.reindex(progress=_progress_bar("re-indexing"))
    print(f"re-indexed {len(report.outcomes)} documents with {kb.settings.embedder}")
    return 0


_LOCAL = ("search and answer in this process even when a newsqa app serves the store (as "
          "QA_NO_SERVER=1)")
_VIA_APP = ("say on stderr whether the running newsqa app answered (it does when it serves "
            "this store) or this process")


def build_parser() -> argparse.ArgumentParser:
    from qa.config import RETRIEVAL_MODES

    parser = argparse.ArgumentParser(
        prog="qa", description="Ask questions about your news articles."
    )
    parser.add_argument("--data-dir", help="store folder (default: QA_DATA_DIR, else ./data "
                        "in the current folder)")
    parser.add_argument("--with-sample", action="store_true",
                        help="give an empty store the shipped sample article first "
                        "(as QA_SEED_CORPUS=1; ./start.sh does this)")
    parser.add_argument("--local", action="store_true", help=_LOCAL)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("add", help="add files, folders or pasted text")
    p.add_argument("paths", nargs="*", help="txt, md, html, pdf or jsonl files, or folders")
    p.add_argument("--text", help="add this text instead of files ('-' reads stdin)")
    p.add_argument("--title", help="title to use instead of the one found")
    p.add_argument("--source", help="source URL or name (the same source replaces)")
    p.add_argument("--date", help="publication date, YYYY-MM-DD")
    p.add_argument("--encoding", help="text encoding of the files when not UTF-8")
    p.add_argument("--json", action="store_true", help="print outcomes as JSON")
    p.add_argument("-v", "--verbose", action="store_true", help="one line per document")
    p.set_defaults(func=cmd_add)

    p = sub.add_parser("list", help="list documents with their chunk counts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("remove", help="remove documents by id, id prefix or source")
    p.add_argument("ids", nargs="+")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("search", help="find the passages that match a question")
    p.add_argument("question", nargs="*", help="omit for an interactive prompt")
    p.add_argument("-k", type=int, default=None,
                   help="passages to return (default: QA_TOP_K, else 5)")
    p.add_argument("--as-of", help="search as of this date (YYYY-MM-DD)")
    p.add_argument("--json", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true", help=_VIA_APP)
    p.add_argument("--local", action="store_true", default=argparse.SUPPRESS, help=_LOCAL)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", help="answer a question with citations")
    p.add_argument("question", nargs="+")
    p.add_argument("--as-of", help="answer as of this date (YYYY-MM-DD): later articles are "
                   "ignored, recent ones preferred")
    p.add_argument("--json", action="store_true",
                   help='print {"answer", "refused", "confidence", "citations", "sentences", '
                        '"refusal_reason", "checks", ...}: each sentence with its citations, '
                        'and each named check\'s verdict')
    p.add_argument("--about", metavar="DOC",
                   help="the document (id, id prefix or source) an open question such as "
                        "'Summarize it' is about (default: the only one, or the best match)")
    p.add_argument("-v", "--verbose", action="store_true", help=_VIA_APP)
    p.add_argument("--local", action="store_true", default=argparse.SUPPRESS, help=_LOCAL)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", help="interactive questions with follow-ups")
    p.add_argument("-v", "--verbose", action="store_true", help=_VIA_APP)
    p.add_argument("--local", action="store_true", default=argparse.SUPPRESS, help=_LOCAL)
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("eval", help="score retrieval and answers on a news-QA set")
    p.add_argument("dataset", help="folder with articles.jsonl and questions.jsonl")
    p.add_argument("-k", type=int, default=5, help="passages given to the answer (default 5)")
    p.add_argument("--retrieval", default="hybrid",
                   choices=RETRIEVAL_MODES)
    p.add_argument("--llm", help="generator, as QA_LLM (default: QA_LLM)")
    p.add_argument("--choices", action="store_true",
                   help="multiple-choice mode: the quiz's choices are given to the model")
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument("--retrieval-only", action="store_true", help="no generation: fast")
    p.add_argument("--ignore-dates", action="store_true",
                   help="do not ask each question as of its date")
    p.add_argument("--audit", help="hand-checked verdicts on the set's answerable label (JSONL; "
                   "default DATASET/audit.jsonl, else eval/audits/<set name>.jsonl)")
    p.add_argument("--out", help="report folder (default eval-results/<dataset>)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("serve", help="start the web chat (default http://127.0.0.1:7860/)")
    p.add_argument("--host", help="interface to listen on (default: QA_HOST, else "
                   "GRADIO_SERVER_NAME, else 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: QA_PORT, else GRADIO_SERVER_PORT, "
                   "else 7860)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("reindex", help="re-embed every article (after changing the embedder)")
    p.set_defaults(func=cmd_reindex)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from qa.config import offline_environment

    offline_environment()
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
        sys.stdout.flush()  # inside the try: a reader that left is caught below, not at exit
        return code
    except QAError as exc:
        print(f"error: {line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `qa list | head`: the reader left; say nothing more (Python's own advice: point
        # stdout at devnull so the interpreter's final flush does not raise again)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())

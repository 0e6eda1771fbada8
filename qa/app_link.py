"""`qa search`, `qa ask` and `qa chat` through a newsqa app already running on this machine.

Loading the embedder and the answer model costs a shell command seconds (and ``qa ask`` over
2 GB); a running web app (``qa serve``, ``python app.py``) has both in memory. So, as ollama's
command line does with its server, these commands ask the app when one serves the same store
folder, and load the models themselves only when none does.

Finding the app. The app claims its folder with an exclusive flock on ``<data_dir>/.app.lock``
(qa/store.py, "one embedded folder, one app") and, once it listens, writes
``<data_dir>/.app.json`` (mode 0600): protocol, pid, host, port, a random token, the folder,
and the settings that shape answers. A command uses it only when all of these hold:

* the file is a regular file (not a link) owned by this user and readable by nobody else;
* its pid is alive and is the pid that holds the folder's lock right now (a file left by a
  killed app, or written by anything but the app that holds the folder, is ignored);
* it names this folder, and its settings (collection, embedder, retrieval, generator) are the
  ones this command would use, so that the answer is the one it would have computed itself;
* the app proves it knows the token (``X-Newsqa-Proof``, an HMAC of a fresh nonce), and the
  app refuses any request without the token (``Authorization: Bearer``).

Only a store folder has this: with a Chroma server (QA_CHROMA_URL) commands run locally.
``--local`` or ``QA_NO_SERVER=1`` skip the app. The routes (qa/web/cli_routes.py) only
read: search and answer; nothing here adds or removes documents.

This module imports only the standard library and newsqa's plain data classes: a command
that goes through the app never imports torch, sentence-transformers, Chroma or llama.cpp.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.config import Settings
from qa.errors import QAError
from qa.types import (
    Answer,
    AnswerSentence,
    CheckVerdict,
    Citation,
    ExtractiveEvent,
    FinalEvent,
    Passage,
    SentenceEvent,
    StreamEvent,
    TokenEvent,
)

LINK_FILE = ".app.json"
PROTOCOL = 1
PREFIX = "/newsqa/cli/v1"
NONCE_HEADER = "X-Newsqa-Nonce"
PROOF_HEADER = "X-Newsqa-Proof"
CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 900.0
"""Longest silence while an answer streams (a queued question waits for the model)."""


APP, WORKER = "app", "worker"
"""The kinds of process that serve a store folder's link file."""


class AppUnavailable(Exception):
    """The app could not be used (down, refused the token, spoke nonsense): answer locally."""


SEARCH_SETTINGS = ("collection", "embedder", "retrieval", "hnsw_ef_search")
"""The settings a search depends on; an answer depends on all of ``answer_settings``."""


def answer_settings(settings: Settings) -> dict[str, Any]:
    """The settings that decide what a search or an answer returns, besides the store folder
    and k (sent with each request). A command whose settings differ answers locally."""
    return {
        "collection": settings.collection,
        "embedder": settings.embedder,
        "retrieval": settings.retrieval,
        "hnsw_ef_search": settings.hnsw_ef_search,
        "llm": settings.llm,
        "llm_model_path": str(settings.llm_model_path or ""),
        "llm_ctx": settings.llm_ctx,
    }


def _folder(data_dir: Path) -> str:
    return os.path.realpath(data_dir)


def proof(token: str, nonce: str) -> str:
    return hmac.new(token.encode(), nonce.encode(), hashlib.sha256).hexdigest()


# -- the app's side: the link file -----------------------------------------------------------
def write_link(settings: Settings, host: str, port: int, token: str, kind: str = APP) -> None:
    """Record where the app listens and its token, for the commands to find it. Called by the
    app that holds ``settings.data_dir``, once it listens. ``kind``: ``APP`` (the web app) or
    ``WORKER`` (the background worker, which a write or an app start stops: qa/worker.py)."""
    data = {
        "protocol": PROTOCOL,
        "kind": kind,
        "pid": os.getpid(),
        "host": host,
        "port": int(port),
        "token": token,
        "data_dir": _folder(settings.data_dir),
        "settings": answer_settings(settings),
    }
    path = settings.data_dir / LINK_FILE
    tmp = path.with_name(f"{LINK_FILE}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


def remove_link(data_dir: Path, token: str) -> None:
    """Remove the link file if it is still this app's (it holds ``token``)."""
    path = data_dir / LINK_FILE
    try:
        if json.loads(path.read_text()).get("token") == token:
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


# -- the command's side: finding and checking the app ----------------------------------------
@dataclass(frozen=True)
class Link:
    host: str
    port: int
    pid: int
    token: str
    kind: str = APP

    @property
    def what(self) -> str:
        return "the background worker" if self.kind == WORKER else "the app"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"


def _connect_host(host: str) -> str:
    """Where to reach an app that listens on ``host`` from this machine."""
    return {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)


NO_APP = "no newsqa app serves this store folder"


def link_file(data_dir: Path) -> tuple[dict | None, str]:
    """The link file's content when it is a private regular file of this user; else (None,
    why). Says nothing of whether its process still runs."""
    path = data_dir / LINK_FILE
    try:
        st = os.lstat(path)
    except OSError:
        return None, NO_APP
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        return None, f"ignored {path}: not a private file of this user"
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd) as fh:
            data = json.loads(fh.read(65536))
        if not isinstance(data, dict):
            raise ValueError("not an object")
    except (OSError, ValueError):
        return None, f"ignored {path}: unreadable"
    return data, ""


def read_link(settings: Settings, *, answers: bool = True) -> tuple[Link | None, str]:
    """The app's link for this store if every check on the file holds; else (None, why).
    ``answers=False``: for searching only, so the generator settings need not match."""
    if settings.chroma_url:
        return None, "the store is a Chroma server (only a store folder is served this way)"
    path = settings.data_dir / LINK_FILE
    data, why = link_file(settings.data_dir)
    if data is None:
        return None, why
    try:
        link = Link(str(data["host"]), int(data["port"]), int(data["pid"]), str(data["token"]),
                    str(data.get("kind", APP)))
        folder, theirs, protocol = data["data_dir"], data["settings"], data["protocol"]
    except (ValueError, KeyError, TypeError):
        return None, f"ignored {path}: unreadable"
    if protocol != PROTOCOL:
        return None, f"the app (pid {link.pid}) speaks another protocol version"
    from qa.index.store import app_holding

    if app_holding(settings.data_dir) != str(link.pid) or not _alive(link.pid):
        return None, f"{NO_APP} (a stale app file was ignored)"
    if folder != _folder(settings.data_dir):
        return None, f"ignored {path}: it describes another folder ({folder})"
    ours = answer_settings(settings)
    differ = [k for k in ours if (answers or k in SEARCH_SETTINGS)
              and (not isinstance(theirs, dict) or theirs.get(k) != ours[k])]
    if differ:
        return None, (f"{link.what} (pid {link.pid}) uses other settings "
                      f"({', '.join(differ)})")
    return Link(_connect_host(link.host), link.port, link.pid, link.token, link.kind), ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's: not our app
        return False
    return True


class AppClient:
    """The app's read-only routes, with the same calls and results as a KnowledgeBase:
    ``retrieve`` returns Passages, ``stream`` yields the same events, ``ask`` the Answer."""

    def __init__(self, link: Link, settings: Settings):
        self.link = link
        self.settings = settings

    def _request(self, path: str, body: dict) -> tuple[http.client.HTTPConnection,
                                                       http.client.HTTPResponse]:
        nonce = secrets.token_hex(16)
        conn = http.client.HTTPConnection(self.link.host, self.link.port,
                                          timeout=CONNECT_TIMEOUT_S)
        try:
            conn.request("POST", PREFIX + path, body=json.dumps(body).encode(), headers={
                "Authorization": f"Bearer {self.link.token}", NONCE_HEADER: nonce,
                "Content-Type": "application/json",
            })
            if conn.sock is not None:
                conn.sock.settimeout(READ_TIMEOUT_S)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise AppUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if resp.status == 401:
            conn.close()
            raise AppUnavailable("it refused the token of its link file (HTTP 401)")
        if not hmac.compare_digest(resp.getheader(PROOF_HEADER) or "",
                                   proof(self.link.token, nonce)):
            conn.close()
            raise AppUnavailable(f"what answers on port {self.link.port} is not the app "
                                 f"(HTTP {resp.status}, no proof of its token)")
        if resp.status == 400:
            try:
                message = json.loads(resp.read())["error"]
            except (ValueError, KeyError, TypeError, OSError):
                message = "the app refused the request"
            conn.close()
            raise QAError(message)
        if resp.status != 200:
            conn.close()
            raise AppUnavailable(f"HTTP {resp.status} {resp.reason}")
        return conn, resp

    def retrieve(self, question: str, k: int | None = None, *, as_of: str | None = None,
                 mode: str | None = None) -> list[Passage]:
        conn, resp = self._request("/search", {
            "question": question, "k": k or self.settings.top_k, "as_of": as_of, "mode": mode})
        try:
            data = json.loads(resp.read())
            return [Passage(**p) for p in data["passages"]]
        except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError) as exc:
            raise AppUnavailable(f"unreadable reply ({type(exc).__name__})") from exc
        finally:
            conn.close()

    def stream(self, question: str, history=None, *, as_of: str | None = None,
               about: str | None = None) -> Iterator[StreamEvent]:
        conn, resp = self._request("/ask", {
            "question": question, "history": [list(turn) for turn in history or []],
            "as_of": as_of, "k": self.settings.top_k, "about": about})
        try:
            while True:
                try:
                    raw = resp.readline()
                except (OSError, http.client.HTTPException) as exc:
                    raise AppUnavailable(f"{type(exc).__name__}: {exc}") from exc
                if not raw:
                    raise AppUnavailable("the app stopped before the answer was complete")
                event = json.loads(raw)
                if event.get("event") == "error":
                    raise QAError(event.get("message") or "the app could not answer")
                out = event_from_wire(event)
                yield out
                if isinstance(out, FinalEvent):
                    return
        finally:
            conn.close()

    def ask(self, question: str, history=None, *, as_of: str | None = None,
            about: str | None = None) -> Answer:
        final = None
        for event in self.stream(question, history, as_of=as_of, about=about):
            if isinstance(event, FinalEvent):
                final = event.answer
        return final  # type: ignore[return-value]


class AppReader:
    """What ``qa search/ask/chat`` read through: the app while it answers; when it stops
    answering before anything was shown, the store opened here (with one line saying so)."""

    def __init__(self, client: AppClient, open_local: Callable[[], Any],
                 note: Callable[[str], None]):
        self._client: AppClient | None = client
        self._open_local = open_local
        self._local = None
        self._note = note

    def _fall_back(self, exc: AppUnavailable) -> Any:
        if self._client is not None:
            self._note(f"newsqa: {self._client.link.what} at {self._client.link.url} (pid "
                       f"{self._client.link.pid}) did not answer ({exc}); loading the models "
                       "here instead")
            self._client = None
        if self._local is None:
            self._local = self._open_local()
        return self._local

    def retrieve(self, question: str, k: int | None = None, *, as_of: str | None = None):
        if self._client is not None:
            try:
                return self._client.retrieve(question, k, as_of=as_of)
            except AppUnavailable as exc:
                return self._fall_back(exc).retrieve(question, k, as_of=as_of)
        return self._fall_back(AppUnavailable()).retrieve(question, k, as_of=as_of)

    def stream(self, question: str, history=None, *, as_of: str | None = None,
               about: str | None = None):
        if self._client is not None:
            shown = False
            try:
                for event in self._client.stream(question, history, as_of=as_of, about=about):
                    shown = True
                    yield event
                return
            except AppUnavailable as exc:
                if shown:  # half an answer is on screen: say so rather than start again
                    raise QAError(f"the app stopped while answering ({exc}); ask again, or "
                                  "use --local") from exc
                local = self._fall_back(exc)
        else:
            local = self._fall_back(AppUnavailable())
        yield from local.stream(question, history, as_of=as_of, about=about)

    def ask(self, question: str, history=None, *, as_of: str | None = None,
            about: str | None = None):
        final = None
        for event in self.stream(question, history, as_of=as_of, about=about):
            if isinstance(event, FinalEvent):
                final = event.answer
        return final


def reader(settings: Settings, open_local: Callable[[], Any], *, answers: bool = True,
           local: bool = False, verbose: bool = False, note: Callable[[str], None],
           start_worker: bool = False) -> Any:
    """The running app for this store (an AppReader), else ``open_local()``; ``verbose`` says
    in one line on stderr which was used. ``answers=False``: for searching only.
    ``start_worker``: when nothing serves the store, start the background worker
    (qa/worker.py) and read through it, so that the next command finds the models loaded."""
    if local or settings.no_server:
        if verbose:
            note("newsqa: local mode (--local or QA_NO_SERVER): loading the models here")
        return open_local()
    link, why = read_link(settings, answers=answers)
    if link is None and start_worker:
        from qa import worker

        link, why = worker.start(settings, note)
    if link is None:
        if verbose:
            note(f"newsqa: {why}; loading the models here")
        return open_local()
    if verbose:
        note(f"newsqa: through {link.what} at {link.url} (pid {link.pid}); --local to skip "
             "it")
    return AppReader(AppClient(link, settings), open_local, note)


# -- the wire format: an Answer and its events as JSON, rebuilt exactly ----------------------
def _citation_to_wire(c: Citation) -> dict:
    return {"n": c.n, "passage": c.passage.to_dict(), "start": c.start, "end": c.end,
            "quote": c.quote, "support": c.support, "sentence": c.sentence}


def answer_to_wire(a: Answer) -> dict:
    return {
        "text": a.text,
        "sentences": [{"text": s.text, "citations": [_citation_to_wire(c) for c in s.citations],
                       "supported": s.supported, "corrected": s.corrected,
                       "reason": s.reason}
                      for s in a.sentences],
        "refused": a.refused, "confidence": a.confidence, "question": a.question,
        "standalone_question": a.standalone_question,
        "passages": [p.to_dict() for p in a.passages], "kind": a.kind, "as_of": a.as_of,
        "raw": a.raw, "timings": a.timings, "shape": a.shape, "missing": list(a.missing),
        "refusal_reason": a.refusal_reason, "checks": [v.to_dict() for v in a.checks],
        "would_answer": a.would_answer, "earlier_refused_by": list(a.earlier_refused_by),
        "signals": a.signals, "calibrated": a.calibrated,
    }


def answer_from_wire(d: dict) -> Answer:
    def citation(c: dict) -> Citation:
        return Citation(c["n"], Passage(**c["passage"]), c["start"], c["end"], c["quote"],
                        c["support"], c["sentence"])

    return Answer(
        text=d["text"],
        sentences=tuple(AnswerSentence(s["text"], tuple(citation(c) for c in s["citations"]),
                                       s["supported"], s["corrected"],
                                       str(s.get("reason", "")))
                        for s in d["sentences"]),
        refused=d["refused"], confidence=d["confidence"], question=d["question"],
        standalone_question=d["standalone_question"],
        passages=tuple(Passage(**p) for p in d["passages"]), kind=d["kind"], as_of=d["as_of"],
        raw=d["raw"], timings=dict(d["timings"]), shape=d.get("shape", "fact"),
        missing=tuple(d.get("missing", ())),
        refusal_reason=d.get("refusal_reason"),
        checks=tuple(CheckVerdict.from_dict(v) for v in d.get("checks", ())),
        would_answer=d.get("would_answer"),
        earlier_refused_by=tuple(d.get("earlier_refused_by", ())),
        signals=d.get("signals"), calibrated=d.get("calibrated"),
    )


def event_to_wire(event: StreamEvent) -> dict:
    if isinstance(event, TokenEvent):
        return {"event": "token", "text": event.text}
    kind = ("extractive" if isinstance(event, ExtractiveEvent) else
            "sentences" if isinstance(event, SentenceEvent) else "final")
    return {"event": kind, "answer": answer_to_wire(event.answer)}


def event_from_wire(d: dict) -> StreamEvent:
    kind = d.get("event")
    try:
        if kind == "token":
            return TokenEvent(str(d["text"]))
        if kind == "extractive":
            return ExtractiveEvent(answer_from_wire(d["answer"]))
        if kind == "sentences":
            return SentenceEvent(answer_from_wire(d["answer"]))
        if kind == "final":
            return FinalEvent(answer_from_wire(d["answer"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise AppUnavailable(f"unreadable {kind} event ({type(exc).__name__})") from exc
    raise AppUnavailable(f"unknown event {kind!r}")

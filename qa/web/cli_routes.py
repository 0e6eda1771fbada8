"""The app's routes for the ``qa`` command (see qa/app_link.py): search and answer, nothing else.

``qa search``, ``qa ask`` and ``qa chat`` in a shell on this machine use the running app's
loaded embedder and model instead of loading their own. Two POST routes under
``/newsqa/cli/v1``, beside Gradio's own, on the address the app listens on:

* ``/search`` ``{"question", "k", "as_of", "mode"}`` -> ``{"passages": [...]}``
* ``/ask`` ``{"question", "history", "as_of", "k", "about"}`` -> JSON lines, one event each
  (extractive, token..., final; or error), as ``KnowledgeBase.stream`` yields them.

Every request must carry the token the app wrote to ``<data_dir>/.app.json`` (readable by its
user only): ``Authorization: Bearer TOKEN``; anything else gets 401. Every reply carries
``X-Newsqa-Proof``, an HMAC of the request's nonce with the token, so a command can tell the
app from anything else that might answer on its port. Neither route writes anything.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import secrets
import threading
from collections.abc import Iterator

from fastapi import Request
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from qa.app_link import (
    APP,
    LINK_FILE,
    NONCE_HEADER,
    PREFIX,
    PROOF_HEADER,
    event_to_wire,
    proof,
    remove_link,
    write_link,
)
from qa.errors import QAError
from qa.index.store import app_holding
from qa.kb import check_question

from .service import Service
from .staging import StagedChatModel, Stopped

log = logging.getLogger(__name__)

MAX_BODY = 256_000
"""Bytes per request: a question (2000 characters) plus a chat history fit many times over."""
MAX_HISTORY = 16
MAX_K = 50


class CliRoutes:
    """The routes, bound to the app's service and the token of its link file."""

    def __init__(self, service: Service, token: str | None = None):
        self.service = service
        self.token = token or secrets.token_urlsafe(32)
        self._published = False

    def publish(self, host: str, port: int, kind: str = APP) -> bool:
        """Write the link file, when this app holds a store folder (not with a Chroma server,
        nor in a read-only folder). True when written. ``kind``: the app, or the background
        worker (qa/web/worker.py)."""
        settings = self.service.settings
        if settings.chroma_url or app_holding(settings.data_dir) != str(os.getpid()):
            return False
        try:
            write_link(settings, host, port, self.token, kind)
        except OSError as exc:
            log.warning("could not write %s: %s", settings.data_dir / LINK_FILE, exc)
            return False
        self._published = True
        return True

    def withdraw(self) -> None:
        """Remove the link file (if it is still this app's)."""
        if self._published:
            remove_link(self.service.settings.data_dir, self.token)
            self._published = False

    def routes(self) -> list[APIRoute]:
        return [
            APIRoute(f"{PREFIX}/search", self.search, methods=["POST"], include_in_schema=False),
            APIRoute(f"{PREFIX}/ask", self.ask, methods=["POST"], include_in_schema=False),
        ]

    # -- checks ------------------------------------------------------------------------------
    def _headers(self, request: Request) -> dict[str, str]:
        """The proof of the token, for a request that showed the token itself."""
        nonce = request.headers.get(NONCE_HEADER, "")[:128]
        return {PROOF_HEADER: proof(self.token, nonce)} if nonce else {}

    async def _body(self, request: Request) -> tuple[dict | None, JSONResponse | None]:
        """The request's JSON, or the response that refuses it."""
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
            return None, JSONResponse({"error": "this route needs the token of the app's "
                                       "link file"}, status_code=401)
        headers = self._headers(request)
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return None, JSONResponse({"error": "request too large"}, status_code=413,
                                      headers=headers)
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("not an object")
            k = body.get("k")
            if k is not None and not (isinstance(k, int) and 1 <= k <= MAX_K):
                raise ValueError(f"k must be between 1 and {MAX_K}")
            for name in ("as_of", "mode"):
                if body.get(name) is not None and not isinstance(body[name], str):
                    raise ValueError(f"{name} must be a string")
            body["question"] = check_question(body.get("question"))
        except QAError as exc:
            return None, self._bad(str(exc), headers)
        except (ValueError, TypeError) as exc:
            return None, self._bad(f"bad request: {exc}", headers)
        return body, None

    @staticmethod
    def _bad(message: str, headers: dict[str, str]) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=400, headers=headers)

    # -- routes ------------------------------------------------------------------------------
    async def search(self, request: Request):
        body, refused = await self._body(request)
        if refused is not None:
            return refused
        kb = self.service.kb
        try:
            passages = await run_in_threadpool(
                kb.retrieve, body["question"], body.get("k"), mode=body.get("mode"),
                as_of=body.get("as_of"))
        except QAError as exc:
            return self._bad(str(exc), self._headers(request))
        return JSONResponse({"passages": [p.to_dict() for p in passages]},
                            headers=self._headers(request))

    async def ask(self, request: Request):
        body, refused = await self._body(request)
        if refused is not None:
            return refused
        history = body.get("history") or []
        if (not isinstance(history, list) or len(history) > MAX_HISTORY or not all(
                isinstance(t, list) and len(t) == 2 and t[0] in ("user", "assistant")
                and isinstance(t[1], str) for t in history)):
            return self._bad("history must be a list of [role, text] turns",
                             self._headers(request))
        cancelled = threading.Event()
        about = body.get("about")
        if about is not None and not isinstance(about, str):
            return self._bad("about must be a document id", self._headers(request))
        events = self._events(body["question"], [tuple(t) for t in history],
                              body.get("as_of"), body.get("k"), cancelled, about)

        async def lines():
            try:
                while (line := await run_in_threadpool(next, events, None)) is not None:
                    yield line
            finally:  # the command went away (Ctrl-C): the model stops at its next token
                cancelled.set()

        return StreamingResponse(lines(), media_type="application/x-ndjson",
                                 headers=self._headers(request))

    def _events(self, question: str, history, as_of: str | None, k: int | None,
                cancelled: threading.Event, about: str | None = None) -> Iterator[bytes]:
        """``KnowledgeBase.stream`` on the app's store and loaded model, as JSON lines; the
        model stops when ``cancelled`` is set, as the web chat's Stop does."""
        try:
            llm = StagedChatModel(inner=self.service.llm, cancelled=cancelled)
            for event in self.service.kb.stream(question, history, as_of=as_of, k=k, llm=llm,
                                                about=about):
                yield (json.dumps(event_to_wire(event), ensure_ascii=False) + "\n").encode()
        except Stopped:
            return
        except QAError as exc:
            yield (json.dumps({"event": "error", "message": str(exc)}) + "\n").encode()
        except Exception as exc:  # the command shows one line; the app's log has the rest
            log.exception("answering a `qa` command failed")
            yield (json.dumps({"event": "error", "message": f"the app failed to answer "
                               f"({type(exc).__name__}: {exc})"}) + "\n").encode()

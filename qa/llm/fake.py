"""A chat model for tests that needs no network and no weights.

In the spirit of pydantic-ai's ``FunctionModel``: it implements LangChain's real chat-model
interface (invoke, stream, runnables) so the code under test runs unchanged, while the test
decides each reply, either from a queue of canned outputs or from a function of the messages.
Shipped in the package (not in tests/) so that users can test their own chains with it too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

Responder = Callable[[list[BaseMessage]], str]


class FakeChatModel(BaseChatModel):
    """Replays ``outputs`` in order, or answers with ``function(messages)`` when given.

    Every call's messages are appended to ``calls`` so tests can assert on the prompt.
    Streaming yields the reply in word-sized chunks, like a real model's tokens.
    """

    outputs: list[str] = Field(default_factory=list)
    function: Responder | None = None
    calls: list[list[BaseMessage]] = Field(default_factory=list)
    options: list[dict[str, Any]] = Field(default_factory=list)
    """Each call's options (``stream(messages, **options)``), in the order of ``calls``."""
    avoids_answers: bool = False
    """Take ``answer_avoid`` as the embedded model does (``qa.llm.backends.avoid_options``):
    the queued reply is the model's next answer."""

    @property
    def _llm_type(self) -> str:
        return "newsqa-fake"

    def _reply(self, messages: list[BaseMessage], options: dict[str, Any] | None = None) -> str:
        self.calls.append(list(messages))
        self.options.append(dict(options or {}))
        if self.function is not None:
            return self.function(messages)
        if not self.outputs:
            raise RuntimeError("FakeChatModel: no queued output left for this call")
        return self.outputs.pop(0)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = self._reply(messages, kwargs)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        text = self._reply(messages, kwargs)
        for piece in re.findall(r"\S+\s*|\s+", text):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk


def grounded_reply(messages) -> str:
    """The ``QA_LLM=fake`` model's replies: deterministic and grounded, for tests and demos.

    Rewrite prompts get "previous question + this one"; answer prompts get the
    sentence of passage [1] sharing most words with the question, cited."""
    from qa.answer.citations import render
    from qa.answer.prompts import load_prompt
    from qa.text.sentences import split_sentences

    text = messages[-1].text if messages else ""
    if messages and messages[0].text == load_prompt("open_system"):
        return _open_reply(text)
    if "Standalone question:" in text:
        last = re.search(r"Last question:\s*(.+)", text)
        users = re.findall(r"^User:\s*(.+)$", text, re.M)
        q = last.group(1).strip() if last else ""
        return f"{users[-1]} {q}".strip() if users else q
    m = re.search(r"^\[(\d+)\][^\n]*\n(.+)$", text, re.M)
    if not m:
        return "NOT IN ARTICLES"
    q = re.search(r"Question:\s*(.+)", text)
    words = set(re.findall(r"\w{3,}", (q.group(1) if q else "").lower()))
    body = m.group(2).replace("…", " ").strip()
    sentences = [s.text for s in split_sentences(body)]
    first = max(sentences or [body],
                key=lambda s: len(words & set(re.findall(r"\w{3,}", s.lower()))))
    first = re.sub(r"[.!?]+[\"'”’)]*$", "", first) + "."
    return render(first, [int(m.group(1))])


def _open_reply(text: str) -> str:
    """An open answer's reply: the first sentence of each of the first three passages, each
    cited, as bullet points when the prompt asks for them."""
    from qa.answer.citations import render
    from qa.text.sentences import split_sentences

    blocks = re.findall(r"^\[(\d+)\][^\n]*\n(.+)$", text, re.M)
    if not blocks:
        return "NOT IN ARTICLES"
    lines = []
    for n, body in blocks[:3]:
        spans = split_sentences(body.replace("…", " ").strip())
        if not spans:
            continue
        first = re.sub(r"[.!?]+[\"'”’)]*$", "", spans[0].text) + "."
        lines.append(render(first, [int(n)]))
    bullets = '"- "' in text
    return "\n".join(f"- {x}" for x in lines) if bullets else " ".join(lines)

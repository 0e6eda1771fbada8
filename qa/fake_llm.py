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

    @property
    def _llm_type(self) -> str:
        return "newsqa-fake"

    def _reply(self, messages: list[BaseMessage]) -> str:
        self.calls.append(list(messages))
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
        text = self._reply(messages)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        text = self._reply(messages)
        for piece in re.findall(r"\S+\s*|\s+", text):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk

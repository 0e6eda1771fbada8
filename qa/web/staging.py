"""One answer in the making, in a worker thread: its stages, its events, and a Stop.

The answer chain (``qa.answer.chain.stream``) is a generator. ``AnswerRun`` drives it in a thread
and hands its events, plus stage changes ("searching 12 articles", "writing the answer", …), to
the UI through a queue, so the UI can redraw the elapsed time while the model is silent.

Stop is real: the model is wrapped in ``StagedChatModel``, whose stream checks the run's cancel
flag between tokens and returns; closing the wrapped stream closes llama.cpp's token generator,
so the model stops computing (and releases its lock) at the next token.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from pydantic import ConfigDict


class Stopped(Exception):
    """Raised inside the answer chain when the user pressed Stop."""


class StagedChatModel(BaseChatModel):
    """The app's chat model, reporting when it starts and stops writing, and stoppable.

    A one-call ``invoke`` (the follow-up rewrite) is reported as "reading the question"; a
    stream (the answer) as "writing", then "checking the citations" when the last token came;
    a second stream (the first passages did not answer: ``qa.answer.chain``) as "reading the
    other passages".
    Call options (the JSON-schema constraint: ``json_schema``, ``response_format``,
    ``format``) are handed on to ``inner``, and ``qa.llm.backends.structured_output`` looks through
    the wrapper at ``inner`` to choose them.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)
    inner: BaseChatModel
    on_stage: Any = None
    cancelled: Any = None
    streams: int = 0

    @property
    def _llm_type(self) -> str:
        return "newsqa-staged"

    def _stage(self, key: str) -> None:
        if self.on_stage is not None:
            self.on_stage(key)

    def _check(self) -> None:
        if self.cancelled is not None and self.cancelled.is_set():
            raise Stopped()

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self._check()
        self._stage("rewrite")
        return self.inner._generate(messages, stop=stop, **kwargs)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        self._check()
        self.streams += 1
        self._stage("again" if kwargs.get("answer_avoid") else
                    "write" if self.streams == 1 else "more")
        if type(self.inner)._stream is BaseChatModel._stream:  # a model that cannot stream
            result = self.inner._generate(messages, stop=stop, **kwargs)
            self._check()
            message = result.generations[0].message
            yield ChatGenerationChunk(message=AIMessageChunk(content=message.content))
            self._stage("check")
            return
        pieces = self.inner._stream(messages, stop=stop, **kwargs)
        try:
            for chunk in pieces:
                self._check()
                yield chunk
        finally:
            pieces.close()  # stops llama.cpp's generator at once (and frees its lock)
        self._stage("check")


class AnswerRun:
    """An answer produced in a thread. ``items()`` yields ("stage", key, seconds),
    ("event", StreamEvent), ("error", exception), ("tick",) while waiting, ("done",) last."""

    def __init__(self, produce: Callable[[AnswerRun], Iterator[Any]]):
        self._produce = produce
        self.queue: queue.Queue = queue.Queue()
        self.cancelled = threading.Event()
        self.t0 = time.monotonic()
        self.finished = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="newsqa-answer")

    def start(self) -> AnswerRun:
        self.thread.start()
        return self

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def stage(self, key: str) -> None:
        self.queue.put(("stage", key, self.elapsed()))

    def stop(self) -> None:
        self.cancelled.set()

    def _run(self) -> None:
        events = None
        try:
            events = self._produce(self)
            for event in events:
                if self.cancelled.is_set():
                    break
                self.queue.put(("event", event))
        except Stopped:
            pass
        except BaseException as exc:  # handed to the UI, which says what went wrong
            if not self.cancelled.is_set():
                self.queue.put(("error", exc))
        finally:
            if events is not None and hasattr(events, "close"):
                try:
                    events.close()  # GeneratorExit in the chain: the model's stream closes
                except Exception:  # noqa: S110 - closing a cancelled chain must not fail it
                    pass
            self.finished.set()
            self.queue.put(("done",))

    def items(self, poll: float = 0.5) -> Iterator[tuple]:
        """What happened, in order; a ("tick",) every ``poll`` seconds of silence."""
        while True:
            try:
                item = self.queue.get(timeout=poll)
            except queue.Empty:
                yield ("tick",)
                continue
            yield item
            if item[0] == "done":
                return

"""Chat-model backends behind one function, chosen by ``Settings.llm``.

Everything returned is a LangChain ``BaseChatModel``, so the answer chain (and anyone else's
chain) works the same with the embedded model, an OpenAI-compatible server, Ollama or the
test fake. Heavy libraries are imported only when their backend is chosen, so ``qa --help``
and the fake-model tests start fast.

Spec strings (``QA_LLM``):
  ``embedded`` / ``embedded:1.5b``  Qwen2.5-Coder-1.5B-Instruct Q4_K_M (packaged, default)
  ``embedded:0.5b``                 Qwen2.5-0.5B-Instruct (packaged, 2x faster, rarely cites)
  ``embedded:smollm2``              SmolLM2-135M (plumbing tests only)
  ``openai:MODEL``                  ChatOpenAI; OPENAI_BASE_URL / OPENAI_API_KEY from the env
  ``ollama:MODEL``                  ChatOllama; OLLAMA_HOST from the env
                                    (both built by LangChain's ``init_chat_model``)
  ``fake``                          FakeChatModel (tests)
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from qa.config import Settings

if TYPE_CHECKING:
    from llama_cpp import Llama

DEFAULT_MAX_TOKENS = 256

OPEN_SLOT = "open"
"""The ``slot`` call option of open answers (``load_llama``)."""

ANSWER_HEAD = '{"answer": "'
"""How the embedded model's answer reply begins (``EmbeddedChatModel._stream_answer``)."""


@dataclass(frozen=True)
class LLMSpec:
    """A parsed ``QA_LLM`` value."""

    backend: str
    """One of 'embedded', 'openai', 'ollama', 'fake'."""
    model: str
    """Model name for the backend ('' means its default)."""


BACKENDS = ("embedded", "openai", "ollama", "fake")


def parse_spec(spec: str) -> LLMSpec:
    backend, _, model = spec.strip().partition(":")
    backend = backend.lower()
    if backend not in BACKENDS:
        raise ValueError(f"QA_LLM={spec!r}: backend must be one of {', '.join(BACKENDS)}")
    if backend in ("openai", "ollama") and not model:
        raise ValueError(f"QA_LLM={spec!r}: say which model, e.g. {backend}:MODEL")
    return LLMSpec(backend, model)


def _missing(package: str, extra: str) -> ImportError:
    return ImportError(f"{package} is not installed; run: pip install {extra}")


class _NoRedirect:
    """Stands in for llama-cpp-python's ``suppress_stdout_stderr``, which silences llama.cpp
    (``verbose=False``) by pointing the whole process's file descriptors 1 and 2 at /dev/null
    while a model loads. The web app loads the model in a background thread at start, so
    that redirect swallowed whatever another thread printed meanwhile (``qa serve``'s "open
    http://…" line, 1 start in 2). Without it nothing is lost and nothing is added: with
    ``verbose=False`` llama.cpp's log callback already drops every message below ERROR."""

    def __init__(self, disable: bool = True) -> None:
        pass

    def __enter__(self) -> _NoRedirect:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


_LLAMA_LOG = None
"""The llama.cpp log callback newsqa installs (kept here so that it is never collected)."""


def _keep_process_output() -> None:
    """Switch off llama-cpp-python's process-wide output redirect (``_NoRedirect``), and
    send llama.cpp's own log lines (some of which, such as a model's "control-looking token"
    notes, its default callback prints) to the ``qa.llm.llama_cpp`` logger at debug level,
    where the redirect used to hide them."""
    global _LLAMA_LOG
    import ctypes
    import logging

    import llama_cpp
    import llama_cpp._internals
    import llama_cpp.llama

    for module in (llama_cpp.llama, llama_cpp._internals):
        if getattr(module, "suppress_stdout_stderr", None) is not _NoRedirect:
            module.suppress_stdout_stderr = _NoRedirect
    if _LLAMA_LOG is None:
        log = logging.getLogger("qa.llm.llama_cpp")

        @llama_cpp.llama_log_callback
        def quiet(level, text, user_data):  # noqa: ARG001 (llama.cpp's signature)
            log.debug("%s", text.decode("utf-8", errors="replace").rstrip("\n"))

        _LLAMA_LOG = quiet
        llama_cpp.llama_log_set(quiet, ctypes.c_void_p(0))


@functools.lru_cache(maxsize=4)
def load_llama(model_path: str, n_threads: int, n_ctx: int, slot: str = "") -> Llama:
    """One ``Llama`` per (file, threads, context, slot): loading costs ~1 s, so every chat
    model built from the same settings shares it (and its cached prompt prefix).

    ``slot``: a second context on the same weights (the file is memory-mapped, so its pages
    are shared; each context adds its key/value cache, ~120 MB at 4096 tokens). Open answers
    use their own (``OPEN_SLOT``), so that the article a conversation is about stays cached
    while short-fact questions come and go, and the reverse."""
    try:
        from llama_cpp import Llama
    except ImportError as exc:
        raise _missing("llama-cpp-python", "llama-cpp-python==0.3.36") from exc
    _keep_process_output()
    return Llama(
        model_path=model_path,
        n_ctx=n_ctx,
        n_threads=n_threads,
        n_threads_batch=n_threads,
        verbose=False,
        seed=0,
    )


_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


class TokenLogprobs:
    """Records the log-probability the model gave each token it chose, so that an answer says
    how sure the model was of it (``qa.answer.confidence``; kept in ``Answer.answer_logprobs``
    and in ``qa eval``'s results: docs/answers.md measured that no rule on it helps on news).

    Why by hand: llama-cpp-python returns ``logprobs`` only for a model loaded with
    ``logits_all=True``, which keeps the logits of every prompt token (n_ctx x 152k floats,
    ~2.5 GB here) and slows the prompt's prefill. A logits processor sees the raw logits of
    each generated token for free; the token chosen at one step is the last input id at the
    next. The probabilities are those of the model before the JSON grammar masks anything, so
    a low one says the model itself hesitated. Measured cost: ~1 ms a token."""

    def __init__(self, llama: Llama) -> None:
        self._llama = llama
        self._previous = None
        self.tokens: list[tuple[str, float]] = []

    def __call__(self, input_ids, logits):
        import numpy as np

        if self._previous is not None and len(input_ids):
            chosen = int(input_ids[-1])
            text = self._llama.detokenize([chosen]).decode("utf-8", errors="replace")
            self.tokens.append((text, float(self._previous[chosen])))
        row = np.asarray(logits, dtype=np.float32)
        top = float(row.max())
        self._previous = row - (top + float(np.log(np.exp(row - top).sum())))
        return logits

    def processors(self):
        from llama_cpp import LogitsProcessorList

        return LogitsProcessorList([self])


@functools.lru_cache(maxsize=4)
def _chat_formatter(template: str, eos_token: str, bos_token: str):
    """llama-cpp-python's formatter for a GGUF's chat template, compiled once per template."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    return Jinja2ChatFormatter(template=template, eos_token=eos_token, bos_token=bos_token)


def _to_llama_messages(messages: list[BaseMessage]) -> list[dict[str, str]]:
    return [{"role": _ROLES.get(m.type, "user"), "content": m.text} for m in messages]


_MODEL_LOCK = threading.Lock()
"""Every embedded model call holds it: a ``Llama`` is not safe to use from two threads, and
two contexts decoding at once on 2 cores would each run at half speed."""


class EmbeddedChatModel(BaseChatModel):
    """llama-cpp-python as a LangChain chat model.

    Why our own ~60 lines rather than ``langchain_community.ChatLlamaCpp``: langchain-community
    is being retired, and that class loads its own ``Llama`` per instance. This wrapper calls
    ``Llama.create_chat_completion`` (which applies the GGUF's own chat template), streams, and
    shares one loaded model per settings through ``load_llama``; the answer's reply is written
    by ``_stream_answer`` instead (the answer's tokens only). A lock serialises calls,
    because a ``Llama`` object is not safe to use from two threads (the Gradio app has several).
    """

    model_path: str
    n_threads: int = 2
    n_ctx: int = 4096
    temperature: float = 0.0
    max_tokens: int = DEFAULT_MAX_TOKENS
    _lock: threading.Lock = PrivateAttr(default_factory=lambda: _MODEL_LOCK)
    _last_tokens: list = PrivateAttr(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "newsqa-llama-cpp"

    @property
    def llama(self) -> Llama:
        return load_llama(self.model_path, self.n_threads, self.n_ctx)

    def llama_for(self, slot: str | None) -> Llama:
        """The context a call runs in: the default one, or a named slot's (``load_llama``)."""
        return load_llama(self.model_path, self.n_threads, self.n_ctx, slot or "")

    def _params(self, stop: list[str] | None, **kwargs: Any) -> dict[str, Any]:
        params = {
            "temperature": kwargs.get("temperature", self.temperature),
            "max_tokens": kwargs.get("max_tokens", self.max_tokens),
            "stop": stop or [],
        }
        if kwargs.get("json_schema"):
            # llama.cpp turns the schema into a grammar: the model cannot write anything else
            params["response_format"] = {"type": "json_object", "schema": kwargs["json_schema"]}
        return params

    def _answer_options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """``answer_passages`` needs the GGUF's chat template to build the prompt itself; a model
        file without one (``QA_LLM_MODEL_PATH``) gets the answer's JSON grammar instead."""
        n = kwargs.get("answer_passages")
        if n is None or "tokenizer.chat_template" in self.llama.metadata:
            return kwargs
        from qa.answer.grounding import answer_schema

        rest = {k: v for k, v in kwargs.items() if k not in ("answer_passages", "answer_avoid")}
        return {**rest, "json_schema": answer_schema(n)}

    def _chat_prompt_ids(self, messages: list[BaseMessage]) -> list[int]:
        """The prompt tokens ``create_chat_completion`` would build: the GGUF's own chat
        template, rendered and tokenized as llama-cpp-python's default handler does."""
        llama = self.llama
        model = llama._model

        def text(token: int) -> str:
            return model.token_get_text(token) if token != -1 else ""

        formatter = _chat_formatter(llama.metadata["tokenizer.chat_template"],
                                    text(llama.token_eos()), text(llama.token_bos()))
        result = formatter(messages=_to_llama_messages(messages))
        return llama.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special,
                              special=True)

    def _stream_answer(self, messages: list[BaseMessage], n_passages: int,
                       max_tokens: int, avoid: Sequence[str] = ()) -> Iterator[str]:
        """The reply ``{"answer": "...", "passage": N}`` at the cost of the answer's tokens only.

        Why not the JSON grammar: under it llama.cpp decodes every fixed token of the reply
        one by one (``{"answer": "`` before the answer, ``", "passage": `` after it), each a
        full model step on 2 cores, and checks the grammar on every step. Here the fixed
        text is put in the prompt (evaluated in one batch), the answer is decoded freely up to
        its closing quote, and the passage number is the model's most likely digit in 0..n
        after the fixed ``", "passage": ``. Every reply of the model under the grammar began
        with exactly that text and went on with ``", "passage": N`` (678 stored replies, every
        ``qa eval`` run before this path), so greedy decoding writes the same answer.

        ``avoid``: answers the model already gave to this prompt and the check refused; the
        first token of each is barred from the answer's first step, so the model writes its
        next likeliest answer (``qa.answer.chain``'s second look at a number).
        """
        from qa.answer.grounding import ANSWER_MAX_CHARS

        llama = self.llama
        recorder = TokenLogprobs(llama)
        head = ANSWER_HEAD
        prompt = self._chat_prompt_ids(messages) + llama.tokenize(
            head.encode("utf-8"), add_bos=False, special=False)
        answer: list[str] = []
        processors = recorder.processors()
        barred = sorted({ids[0] for text in avoid
                         if (ids := llama.tokenize(text.encode("utf-8"), add_bos=False,
                                                   special=False))})
        if barred:
            first_step = len(prompt)

            def bar_first(input_ids, logits):
                if len(input_ids) == first_step:
                    logits = logits.copy()
                    logits[barred] = -float("inf")
                return logits

            processors.append(bar_first)
        pieces = llama.create_completion(
            prompt=prompt, stream=True, temperature=0.0, max_tokens=max_tokens, stop=['"'],
            logits_processor=processors)
        try:
            for piece in pieces:
                text = piece["choices"][0]["text"]
                if not text:
                    continue
                answer.append(text)
                yield (head + text) if len(answer) == 1 else text
                if sum(map(len, answer)) > ANSWER_MAX_CHARS:
                    break
        finally:
            pieces.close()
        value = "".join(answer)[:ANSWER_MAX_CHARS]
        if not answer:
            yield head
        # the passage: the likeliest digit 0..n after the fixed text, one step on the cached
        # prompt (llama-cpp-python reuses the longest common prefix of the tokens)
        tail = json.dumps(value, ensure_ascii=False)[1:-1] + '", "passage": '
        allowed = [llama.tokenize(str(i).encode(), add_bos=False, special=False)[0]
                   for i in range(n_passages + 1)]

        def only_digits(input_ids, logits):
            import numpy as np

            masked = np.full_like(logits, -np.inf)
            masked[allowed] = logits[allowed]
            return masked

        from llama_cpp import LogitsProcessorList

        out = llama.create_completion(
            prompt=prompt + llama.tokenize(tail.encode("utf-8"), add_bos=False, special=False),
            max_tokens=1, temperature=0.0, logits_processor=LogitsProcessorList([only_digits]))
        digit = out["choices"][0]["text"].strip()
        passage = int(digit) if digit.isdigit() else 0
        end = f'", "passage": {passage}}}'
        recorder.tokens[:0] = [(head, 0.0)]
        recorder.tokens.append((end, 0.0))
        self._last_tokens = recorder.tokens
        yield end

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        kwargs = self._answer_options(kwargs)
        if kwargs.get("answer_passages") is not None:
            with self._lock:
                text = "".join(self._stream_answer(messages, kwargs["answer_passages"],
                                                   kwargs.get("max_tokens", self.max_tokens),
                                                   kwargs.get("answer_avoid", ())))
                tokens = self._last_tokens
            return ChatResult(generations=[ChatGeneration(message=AIMessage(
                content=text, response_metadata={"token_logprobs": tokens}))])
        with self._lock:
            llama = self.llama_for(kwargs.get("slot"))
            recorder = TokenLogprobs(llama)
            out = llama.create_chat_completion(
                messages=_to_llama_messages(messages), logits_processor=recorder.processors(),
                **self._params(stop, **kwargs)
            )
        text = out["choices"][0]["message"].get("content") or ""
        usage = out.get("usage") or {}
        message = AIMessage(
            content=text,
            response_metadata={"token_logprobs": recorder.tokens},
            usage_metadata={
                "input_tokens": usage.get("prompt_tokens", 0),
                "output_tokens": usage.get("completion_tokens", 0),
                "total_tokens": usage.get("total_tokens", 0),
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        kwargs = self._answer_options(kwargs)
        if kwargs.get("answer_passages") is not None:
            with self._lock:
                texts = self._stream_answer(messages, kwargs["answer_passages"],
                                            kwargs.get("max_tokens", self.max_tokens),
                                            kwargs.get("answer_avoid", ()))
                try:
                    for text in texts:
                        chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                        if run_manager:
                            run_manager.on_llm_new_token(text, chunk=chunk)
                        yield chunk
                finally:
                    texts.close()  # a reader's Stop ends llama.cpp's generator at once
                yield ChatGenerationChunk(message=AIMessageChunk(
                    content="", response_metadata={"token_logprobs": self._last_tokens}))
            return
        with self._lock:
            llama = self.llama_for(kwargs.get("slot"))
            recorder = TokenLogprobs(llama)
            pieces = llama.create_chat_completion(
                messages=_to_llama_messages(messages), stream=True,
                logits_processor=recorder.processors(), **self._params(stop, **kwargs)
            )
            for piece in pieces:
                text = piece["choices"][0]["delta"].get("content") or ""
                if not text:
                    continue
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                if run_manager:
                    run_manager.on_llm_new_token(text, chunk=chunk)
                yield chunk
            # the last chunk carries no text, only what the model's choices cost it
            yield ChatGenerationChunk(message=AIMessageChunk(
                content="", response_metadata={"token_logprobs": recorder.tokens}))


def unwrap_chat_model(llm: BaseChatModel) -> BaseChatModel:
    """The model under wrappers that hand their calls on to another chat model (the web app's
    ``StagedChatModel``, for stages and Stop): each names it ``inner``. The backend, and so the
    structured-output option, is the innermost one's."""
    for _ in range(8):  # wrappers of wrappers, never a loop
        inner = getattr(llm, "inner", None)
        if not isinstance(inner, BaseChatModel):
            break
        llm = inner
    return llm


def structured_output(llm: BaseChatModel, n_passages: int) -> dict[str, Any]:
    """Call options that hold ``llm``'s reply to the answer's JSON shape, for the backends that
    can (the embedded model's answer-only decoding, Ollama ``format``); {} for the others,
    whose plain-text replies ``qa.answer.grounding.parse_reply`` also reads."""
    from qa.answer.grounding import answer_schema

    llm = unwrap_chat_model(llm)
    if isinstance(llm, EmbeddedChatModel):
        return {"answer_passages": n_passages}
    schema = answer_schema(n_passages)
    kind = type(llm).__name__
    if kind == "ChatOpenAI":
        # OpenAI-compatible servers disagree on the shape: OpenAI and llama.cpp's C++ server
        # take {"type": "json_schema", ...}, llama-cpp-python's server only "json_object" (and
        # answers 500 to the other). Unconstrained, the prompt's JSON is read all the same.
        return {}
    if kind == "ChatOllama":
        return {"format": schema}
    return {}


def open_options(llm: BaseChatModel) -> dict[str, Any]:
    """Call options for an open answer: the embedded model's own context (``OPEN_SLOT``), so
    the article stays cached beside the short-fact prompts; {} for the other backends."""
    return {"slot": OPEN_SLOT} if isinstance(unwrap_chat_model(llm), EmbeddedChatModel) else {}


def avoid_options(llm: BaseChatModel, answers: Sequence[str]) -> dict[str, Any] | None:
    """Call options that make ``llm`` give an answer other than ``answers`` to the same prompt
    (its next likeliest: the first token of each is barred), for the backends that can: the
    embedded model's answer-only decoding and the fake model when a test says so. None for
    the others: a server's API has no such option, and asking again would get the same
    reply."""
    llm = unwrap_chat_model(llm)
    if isinstance(llm, EmbeddedChatModel):
        if "tokenizer.chat_template" not in llm.llama.metadata:
            return None  # the JSON grammar path (``_answer_options``) cannot bar a token
        return {"answer_avoid": list(answers)}
    if getattr(llm, "avoids_answers", False):
        return {"answer_avoid": list(answers)}
    return None


def embedded_model_path(settings: Settings, name: str = "") -> Path:
    """The GGUF to run: ``QA_LLM_MODEL_PATH`` if set, else the packaged model, joined and
    hash-checked on first use."""
    if settings.llm_model_path is not None:
        return settings.llm_model_path
    from qa.llm.model_files import ensure_model

    return ensure_model(name or "1.5b", settings.models_dir)


def get_chat_model(settings: Settings, *, max_tokens: int = DEFAULT_MAX_TOKENS) -> BaseChatModel:
    """Build the chat model ``settings.llm`` names. Deterministic (temperature 0) everywhere,
    so that answers and tests are reproducible."""
    spec = parse_spec(settings.llm)
    if spec.backend == "embedded":
        path = embedded_model_path(settings, spec.model)
        return EmbeddedChatModel(
            model_path=str(path),
            n_threads=settings.llm_threads,
            n_ctx=settings.llm_ctx,
            max_tokens=max_tokens,
        )
    if spec.backend in ("openai", "ollama"):
        # LangChain's own provider switch builds ChatOpenAI or ChatOllama (and says which
        # package to install when the provider's is missing)
        try:
            from langchain.chat_models import init_chat_model
        except ImportError as exc:
            raise _missing("langchain", "'newsqa[llm]'") from exc
        if spec.backend == "openai":
            # Local servers (llama.cpp, vLLM) accept any key; ChatOpenAI insists on one.
            options = {"base_url": settings.openai_base_url,
                       "api_key": settings.openai_api_key or "not-needed",
                       "max_tokens": max_tokens}
        else:
            options = {"base_url": settings.ollama_host, "num_predict": max_tokens}
        return init_chat_model(spec.model, model_provider=spec.backend, temperature=0,
                               **options)
    from qa.llm.fake import FakeChatModel, grounded_reply

    return FakeChatModel(function=grounded_reply)

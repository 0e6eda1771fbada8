"""End to end with the real packaged 1.5B model on the seed article (CPU, ~1 minute).

Facts must be right, citations must point at the passage that holds them, a follow-up must be
rewritten to find its paragraph, and an out-of-scope question must be refused.
"""

from __future__ import annotations

import pytest
from answer_helpers import DenseRetriever, seed_article, seed_passages

from qa.answer import chain as answer
from qa.config import Settings
from qa.llm.backends import get_chat_model

pytestmark = pytest.mark.slow

pytest.importorskip("llama_cpp", reason="needs llama-cpp-python==0.3.36")


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    # the joined model lives in Settings.models_dir (prepared by scripts/setup.sh)
    return Settings.from_env().with_(llm="embedded", data_dir=tmp_path_factory.mktemp("data"),
                                     top_k=4)


@pytest.fixture(scope="module")
def llm(settings: Settings):
    return get_chat_model(settings)


@pytest.fixture(scope="module")
def retrieve() -> DenseRetriever:
    return DenseRetriever(seed_passages())


@pytest.mark.parametrize(
    ("question", "fact", "passage_has"),
    [
        ("How much did South Korea spend to renovate the building?", "9.78 billion won",
         "9.78 billion won"),
        ("In which town was the office?", "Kaesong", "border town of Kaesong"),
        ("When was the inter-Korean liaison office established?", "2018", "established in 2018"),
    ],
)
def test_facts_with_citations_to_the_right_passage(
    question: str, fact: str, passage_has: str, llm, settings, retrieve
) -> None:
    body = seed_article()[1]
    a = answer.ask(question, retrieve=retrieve, settings=settings, llm=llm)
    assert not a.refused, a.raw
    assert fact in a.text
    # the shipped calibration read this real answer's signals and let it through
    assert (a.checks[-1].check, a.checks[-1].status) == ("calibrated", "passed"), a.checks[-1]
    assert a.citations, a.raw
    assert any(passage_has in c.passage.text for c in a.citations)
    for c in a.citations:
        assert body[c.start : c.end] == c.quote


def test_out_of_scope_is_refused(llm, settings, retrieve) -> None:
    a = answer.ask("What is the capital of France?", retrieve=retrieve, settings=settings, llm=llm)
    assert a.refused
    assert "Paris" not in a.text


def test_follow_up_finds_the_renovation_paragraph(llm, settings, retrieve) -> None:
    history = [
        ("user", "What did North Korea blow up?"),
        ("assistant", "North Korea blew up the inter-Korean liaison office in Kaesong [1]."),
    ]
    a = answer.ask("How much did it cost to renovate?", history, retrieve=retrieve,
                   settings=settings, llm=llm)
    assert "liaison office" in a.standalone_question.lower() or "kaesong" in (
        a.standalone_question.lower()
    )
    # the rewritten question scores 0.38 against the renovation sentence, under the 0.40
    # relevance floor (docs/answers.md): a refusal is the measured cost, a wrong answer never
    if not a.refused:
        assert "9.78" in a.text
        assert any("9.78 billion won" in c.quote for c in a.citations)
    assert any("9.78 billion won" in p.text for p in a.passages), a.passages


def test_answer_only_decoding_writes_the_reply_the_grammar_writes(llm, settings, retrieve):
    """The embedded model decodes only the answer (``EmbeddedChatModel._stream_answer``): the
    fixed JSON around it is prompt, not generated. Its reply must be the one llama.cpp's JSON
    grammar gets from the same prompt, and it must carry the answer's token probabilities."""
    import json

    from qa.answer.chain import _prompt
    from qa.answer.confidence import answer_logprobs
    from qa.answer.context import format_passages
    from qa.answer.evidence import build_evidence
    from qa.answer.grounding import answer_schema
    from qa.index.embedder import Embedder

    encode = Embedder(settings.embedder, settings.embed_batch_size).encode
    for question in ("In which town was the office?", "Who is Kim Yo Jong?"):
        ev = build_evidence(question, list(retrieve(question, settings.top_k)), encode)
        messages = _prompt("answer_system", "answer_user").format_messages(
            passages=format_passages(ev), question=question)
        n = len(ev.passages)
        chunks = list(llm.stream(messages, answer_passages=n))
        fast = "".join(c.text for c in chunks)
        grammar = "".join(c.text for c in llm.stream(messages, json_schema=answer_schema(n)))
        assert json.loads(fast) == json.loads(grammar), (fast, grammar)
        tokens = next(c.response_metadata["token_logprobs"] for c in reversed(chunks)
                      if c.response_metadata.get("token_logprobs"))
        logprobs = answer_logprobs(tokens)
        assert logprobs and all(lp <= 0 for lp in logprobs)


def test_a_barred_answer_gives_the_models_next_one(llm, settings, retrieve):
    """``answer_avoid`` bars the first token of an answer the check refused, on the same
    prompt, and the model writes its next likeliest answer. On the seed article the model
    first answers a percentage the article does not state for how much the won fell (7.0%
    from these passages, 8.6% from "US$8.6 million" in the product's chunks); its next
    answer is the 0.7% that the article states, and the product shows that one."""
    import json

    from qa.answer.chain import _prompt
    from qa.answer.context import format_passages
    from qa.answer.evidence import build_evidence
    from qa.index.embedder import Embedder

    question = "By roughly what percentage did the won lose ground against the dollar?"
    encode = Embedder(settings.embedder, settings.embed_batch_size).encode
    ev = build_evidence(question, list(retrieve(question, settings.top_k)), encode)
    messages = _prompt("answer_system", "answer_user").format_messages(
        passages=format_passages(ev), question=question)
    n = len(ev.passages)
    first = json.loads("".join(c.text for c in llm.stream(messages, answer_passages=n)))
    again = json.loads("".join(c.text for c in llm.stream(
        messages, answer_passages=n, answer_avoid=[first["answer"]])))
    assert again["answer"] and again["answer"][0] != first["answer"][0], (first, again)

    a = answer.ask(question, retrieve=retrieve, settings=settings, llm=llm)
    assert not a.refused and "0.7%" in a.text, (first, again, a.text)
    assert "retry" in a.timings, "the first answer passed: this test no longer tests the retry"

"""Citation parsing, checking, correction and refusal with the fake chat model (no network)."""

from __future__ import annotations

import pytest
from answer_helpers import DenseRetriever, seed_article, seed_passages

from qa import answer, refusal
from qa.answer_types import ExtractiveEvent, FinalEvent, TokenEvent
from qa.citations import check_sentences, parse_markers, render
from qa.config import Settings
from qa.evidence import build_evidence
from qa.fake_llm import FakeChatModel
from qa.textspans import split_sentences

SETTINGS = Settings().with_(llm="fake", top_k=4)
QUESTION = "How much did South Korea spend to renovate the liaison office building?"


@pytest.fixture(scope="module")
def retrieve() -> DenseRetriever:
    return DenseRetriever(seed_passages())


@pytest.fixture(scope="module")
def body() -> str:
    return seed_article()[1]


@pytest.mark.parametrize(
    ("raw", "clean", "nums"),
    [
        ("It cost 9.78 billion won [1].", "It cost 9.78 billion won.", [1]),
        ("Paris. [1]", "Paris.", [1]),
        ("A [1, 2] and b [Passage 3].", "A and b.", [1, 2, 3]),
        ("Two [2][2][4].", "Two.", [2, 4]),
        ("Range [1-3].", "Range.", [1, 2, 3]),
        ("No marker.", "No marker.", []),
    ],
)
def test_parse_markers(raw: str, clean: str, nums: list[int]) -> None:
    assert parse_markers(raw) == (clean, nums)


def test_render_puts_markers_before_final_punctuation() -> None:
    assert render("It cost 9.78 billion won.", [3]) == "It cost 9.78 billion won [3]."
    assert render("No full stop", [1, 2]) == "No full stop [1][2]"


def test_split_keeps_markers_with_their_sentence_and_offsets() -> None:
    text = "North Korea blew it up. [1] It cost 9.78 billion won [2]. The U.S. said nothing."
    spans = split_sentences(text)
    assert [s.text for s in spans] == [
        "North Korea blew it up. [1]",
        "It cost 9.78 billion won [2].",
        "The U.S. said nothing.",
    ]
    assert all(text[s.start : s.end] == s.text for s in spans)


def _renovation_number(retrieve: DenseRetriever) -> tuple[list, int]:
    passages = retrieve(QUESTION, 4)
    n = next(i + 1 for i, p in enumerate(passages) if "9.78" in p.text)
    return passages, n


def test_correct_citation_is_kept_with_exact_article_span(retrieve, body) -> None:
    passages, n = _renovation_number(retrieve)
    ev = build_evidence(QUESTION, passages)
    [s] = check_sentences(f"South Korea spent at least 9.78 billion won to renovate it [{n}].", ev)
    assert s.supported and not s.corrected
    [c] = s.citations
    assert c.n == n
    assert body[c.start : c.end] == c.quote
    assert "9.78 billion won" in c.quote


def test_wrong_citation_is_corrected_to_the_supporting_passage(retrieve) -> None:
    passages, n = _renovation_number(retrieve)
    wrong = 1 if n != 1 else 2
    ev = build_evidence(QUESTION, passages)
    [s] = check_sentences(f"South Korea spent 9.78 billion won on the renovation [{wrong}].", ev)
    assert s.corrected and s.supported
    assert [c.n for c in s.citations] == [n]
    assert s.text.endswith(f"[{n}].")


def test_invented_citation_never_reaches_the_text(retrieve) -> None:
    passages, n = _renovation_number(retrieve)
    ev = build_evidence(QUESTION, passages)
    [s] = check_sentences("South Korea spent 9.78 billion won on the building [9].", ev)
    assert "[9]" not in s.text
    assert [c.n for c in s.citations] == [n]


def test_unsupported_sentence_is_marked_and_left_out(retrieve) -> None:
    passages, _ = _renovation_number(retrieve)
    ev = build_evidence(QUESTION, passages)
    s1, s2 = check_sentences(
        "South Korea spent 9.78 billion won on the building [1]. "
        "Bananas are the main export of Ecuador [2].",
        ev,
    )
    assert s1.supported
    assert not s2.supported and s2.citations == ()


def test_wrong_number_in_claim_is_not_supported(retrieve) -> None:
    passages, _ = _renovation_number(retrieve)
    ev = build_evidence(QUESTION, passages)
    [s] = check_sentences("South Korea spent 450 billion won in 1999 to renovate it [1].", ev)
    assert all(c.support < 0.9 for c in s.citations)


def _fn(answer_text: str, rewrite: str = "unused"):
    def reply(messages):
        system = messages[0].text
        return rewrite if "standalone question" in system else answer_text

    return reply


def test_stream_yields_extractive_then_tokens_then_checked_answer(retrieve) -> None:
    passages, n = _renovation_number(retrieve)
    llm = FakeChatModel(function=_fn(f"South Korea spent 9.78 billion won on it [{n}]."))
    events = list(answer.stream(QUESTION, retrieve=retrieve, settings=SETTINGS, llm=llm))
    assert isinstance(events[0], ExtractiveEvent)
    assert "9.78" in events[0].answer.text and events[0].answer.kind == "extractive"
    assert all(isinstance(e, TokenEvent) for e in events[1:-1]) and len(events) > 3
    final = events[-1]
    assert isinstance(final, FinalEvent)
    a = final.answer
    assert not a.refused and a.kind == "generated"
    assert a.text == f"South Korea spent 9.78 billion won on it [{n}]."
    assert a.citations[0].passage.text == passages[n - 1].text
    assert 0 < a.confidence <= 1
    d = a.to_dict()
    assert set(d["citations"][0]) >= {"n", "doc_id", "title", "text", "start", "end", "quote"}


def test_prompt_has_numbered_dated_passages_from_files(retrieve) -> None:
    llm = FakeChatModel(function=_fn("NOT IN ARTICLES"))
    answer.ask(QUESTION, retrieve=retrieve, settings=SETTINGS, llm=llm)
    [messages] = llm.calls
    assert "reply exactly: NOT IN ARTICLES" in messages[0].text
    user = messages[1].text
    assert "[1] North Korea Blows up Liaison Office" in user
    assert "(published June 16, 2020)" in user
    assert user.rstrip().endswith(f"Question: {QUESTION}")


def test_out_of_scope_is_refused_before_the_model_runs(retrieve) -> None:
    llm = FakeChatModel(function=_fn("Paris [1]."))
    a = answer.ask("What is the capital of France?", retrieve=retrieve, settings=SETTINGS, llm=llm)
    assert a.refused and a.kind == "refusal"
    assert "Paris" not in a.text and "don't say" in a.text
    assert a.passages, "nearest passages are shown with a refusal"
    assert llm.calls == []


def test_model_answer_with_no_support_is_refused(retrieve, monkeypatch) -> None:
    monkeypatch.setattr(refusal, "FALLBACK_THRESHOLD", 1.01)
    llm = FakeChatModel(function=_fn("The office was destroyed by a typhoon in 1997 [1]."))
    a = answer.ask(QUESTION, retrieve=retrieve, settings=SETTINGS, llm=llm)
    assert a.refused and a.citations == ()
    assert "typhoon" not in a.text


def test_model_refusal_is_honoured_when_evidence_is_middling(retrieve, monkeypatch) -> None:
    monkeypatch.setattr(refusal, "FALLBACK_THRESHOLD", 1.01)
    llm = FakeChatModel(function=_fn("NOT IN ARTICLES"))
    a = answer.ask(QUESTION, retrieve=retrieve, settings=SETTINGS, llm=llm)
    assert a.refused


@pytest.mark.parametrize("reply", ["NOT IN ARTICLES", "It was a typhoon in 1997 [1]."])
def test_strong_evidence_overrules_the_model_with_the_extractive_answer(retrieve, reply) -> None:
    llm = FakeChatModel(function=_fn(reply))
    a = answer.ask(QUESTION, retrieve=retrieve, settings=SETTINGS, llm=llm)
    assert not a.refused and a.kind == "extractive"
    assert "9.78 billion won" in a.text and "typhoon" not in a.text
    assert a.raw == reply


def test_follow_up_is_rewritten_and_retrieves_the_renovation_paragraph(retrieve) -> None:
    seen: list[str] = []

    def spy(question: str, k: int):
        seen.append(question)
        return retrieve(question, k)

    rewrite = "How much did it cost to renovate the liaison office that North Korea blew up?"
    llm = FakeChatModel(function=_fn("It cost 9.78 billion won [1].", rewrite=rewrite))
    history = [("user", "What did North Korea blow up?"),
               ("assistant", "The inter-Korean liaison office in Kaesong [1].")]
    a = answer.ask("How much did it cost to renovate?", history, retrieve=spy,
                   settings=SETTINGS, llm=llm)
    assert seen == [rewrite]
    assert a.standalone_question == rewrite
    assert "What did North Korea blow up?" in llm.calls[0][1].text
    assert any("9.78" in p.text for p in a.passages[:2])
    assert not a.refused and "9.78" in a.citations[0].quote


def test_as_of_date_when_question_asks_about_now(retrieve) -> None:
    llm = FakeChatModel(function=_fn("South Korea spent 9.78 billion won on the building [1]."))
    a = answer.ask("How much has South Korea spent on the liaison office building so far?",
                   retrieve=retrieve, settings=SETTINGS, llm=llm)
    assert a.as_of == "June 16, 2020"
    assert a.text.startswith("As of June 16, 2020:")


def test_fake_model_replays_queue() -> None:
    llm = FakeChatModel(outputs=["one", "two words"])
    assert llm.invoke("hi").content == "one"
    assert "".join(c.content for c in llm.stream("hi")) == "two words"
    with pytest.raises(RuntimeError):
        llm.invoke("again")


def test_words_the_question_gave_are_not_the_claim(retrieve) -> None:
    """A right answer that restates the question is supported by the answer's own words (its
    premise words, "set the blast in motion", are nowhere in the article); a claim made only
    of the question's words, or with a wrong name, is not."""
    question = "Which family member of the North Korean leader set the blast in motion?"
    evidence = build_evidence(question, retrieve(question, 4))
    (right,) = check_sentences("Kim Yo Jong set the blast in motion [1].", evidence)
    assert right.supported and "Kim Yo Jong" in right.citations[0].quote
    (echo,) = check_sentences("A family member set the blast in motion.", evidence)
    assert not echo.supported
    (wrong,) = check_sentences("Xi Jinping set the blast in motion [1].", evidence)
    assert not wrong.supported

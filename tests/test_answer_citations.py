"""Citation parsing, checking, correction and refusal with the fake chat model (no network)."""

from __future__ import annotations

import json
import re

import pytest
from answer_helpers import DenseRetriever, paragraphs, seed_article, seed_passages

from qa.answer import chain as answer
from qa.answer import grounding
from qa.answer.citations import parse_markers, render
from qa.config import Settings
from qa.llm.fake import FakeChatModel
from qa.text.sentences import split_sentences
from qa.types import ExtractiveEvent, FinalEvent, TokenEvent

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


def _json(answer_text: str, n: int, quote: str) -> str:
    return json.dumps({"answer": answer_text, "passage": n, "quote": quote})


RENOVATION_QUOTE = "South Korea spent at least 9.78 billion won (US$8.6 million) in 2018"


def _fn(answer_text: str, rewrite: str = "unused"):
    def reply(messages):
        system = messages[0].text
        return rewrite if "standalone question" in system else answer_text

    return reply


def test_correct_citation_is_kept_with_exact_article_span(retrieve, body) -> None:
    _, n = _renovation_number(retrieve)
    llm = FakeChatModel(function=_fn(_json("9.78 billion won", n, RENOVATION_QUOTE)))
    a = answer.ask(QUESTION, retrieve=retrieve, settings=SETTINGS, llm=llm)
    assert not a.refused and a.kind == "generated"
    assert a.text == f"9.78 billion won [{n}]"
    [c] = a.citations
    assert c.n == n and not a.sentences[0].corrected
    assert body[c.start : c.end] == c.quote == RENOVATION_QUOTE
    assert c.sentence.startswith(RENOVATION_QUOTE) and c.sentence.endswith("industrial city.")


def test_wrong_citation_is_corrected_to_the_passage_that_holds_the_quote(retrieve) -> None:
    _, n = _renovation_number(retrieve)
    wrong = 1 if n != 1 else 2
    llm = FakeChatModel(function=_fn(_json("9.78 billion won", wrong, RENOVATION_QUOTE)))
    a = answer.ask(QUESTION, retrieve=retrieve, settings=SETTINGS, llm=llm)
    assert a.sentences[0].corrected
    assert [c.n for c in a.citations] == [n]
    assert a.text.endswith(f"[{n}]")


def test_invented_passage_number_never_reaches_the_text(retrieve) -> None:
    _, n = _renovation_number(retrieve)
    llm = FakeChatModel(function=_fn(_json("9.78 billion won", 9, RENOVATION_QUOTE)))
    a = answer.ask(QUESTION, retrieve=retrieve, settings=SETTINGS, llm=llm)
    assert "[9]" not in a.text and [c.n for c in a.citations] == [n]


def test_wrong_number_in_answer_is_refused(retrieve) -> None:
    _, n = _renovation_number(retrieve)
    llm = FakeChatModel(function=_fn(_json("450 billion won", n, RENOVATION_QUOTE)))
    a = answer.ask(QUESTION, retrieve=retrieve, settings=SETTINGS, llm=llm)
    assert a.refused and a.citations == () and "450" not in a.text


def test_stream_yields_extractive_then_answer_tokens_then_checked_answer(retrieve) -> None:
    passages, n = _renovation_number(retrieve)
    llm = FakeChatModel(function=_fn(_json("9.78 billion won", n, RENOVATION_QUOTE)))
    events = list(answer.stream(QUESTION, retrieve=retrieve, settings=SETTINGS, llm=llm))
    assert isinstance(events[0], ExtractiveEvent)
    assert "9.78" in events[0].answer.text and events[0].answer.kind == "extractive"
    tokens = events[1:-1]
    assert all(isinstance(e, TokenEvent) for e in tokens) and tokens
    # the reader watches the answer itself grow, not the JSON around it
    assert "".join(e.text for e in tokens) == "9.78 billion won"
    final = events[-1]
    assert isinstance(final, FinalEvent)
    a = final.answer
    assert not a.refused and a.kind == "generated"
    assert a.citations[0].passage.text == passages[n - 1].text
    # the quote's sentence cleared the floor the check uses, and that is the confidence shown
    assert grounding.RELEVANCE_FLOOR <= a.citations[0].support <= 1
    assert abs(a.confidence - a.citations[0].support) < 1e-3
    d = a.to_dict()
    assert set(d["citations"][0]) >= {"n", "doc_id", "title", "text", "start", "end", "quote",
                                      "sentence"}


def test_plain_text_backend_still_gets_a_checked_answer(retrieve, body) -> None:
    """A backend with no JSON mode writes "answer [n]."; the quote is found by code."""
    _, n = _renovation_number(retrieve)
    llm = FakeChatModel(function=_fn(f"South Korea spent 9.78 billion won on it [{n}]."))
    a = answer.ask(QUESTION, retrieve=retrieve, settings=SETTINGS, llm=llm)
    assert not a.refused
    [c] = a.citations
    assert "9.78 billion won" in c.quote and body[c.start:c.end] == c.quote


def test_prompt_has_numbered_dated_passages_from_files(retrieve) -> None:
    llm = FakeChatModel(function=_fn("NOT IN ARTICLES"))
    answer.ask(QUESTION, retrieve=retrieve, settings=SETTINGS.with_(first_pass=0), llm=llm)
    [messages] = llm.calls
    assert '{"answer": "NOT IN ARTICLES", "passage": 0, "quote": ""}' in messages[0].text
    user = messages[1].text
    assert "[1] North Korea Blows up Liaison Office" in user
    assert "(published June 16, 2020)" in user
    assert user.count("(published") == 1, "an article's title and date are given once"
    assert "[2] (same article as [1])" in user
    assert user.rstrip().endswith(f"Question: {QUESTION}")


def test_long_titles_are_cut_at_a_word() -> None:
    from qa.answer.context import short_title

    title = "Trump tariffs hit China, Canada and Mexico: See how tariffs work and who pays them"
    assert short_title(title) == "Trump tariffs hit China, Canada and Mexico: See how tariffs…"
    assert len(short_title(title)) <= 61
    assert short_title("Storm hits coast") == "Storm hits coast"


def test_nothing_related_is_refused_before_the_model_runs(retrieve) -> None:
    llm = FakeChatModel(function=_fn("Paris [1]."))
    a = answer.ask("Who won the most recent cricket world cup final?", retrieve=retrieve,
                   settings=SETTINGS, llm=llm)
    assert a.refused and a.kind == "refusal"
    assert "don't say" in a.text
    assert a.passages, "nearest passages are shown with a refusal"
    assert llm.calls == []


def test_out_of_scope_answer_has_no_quote_and_is_refused(retrieve) -> None:
    llm = FakeChatModel(function=_fn(_json("Paris", 1, "Paris is the capital of France.")))
    a = answer.ask("What is the capital of France?", retrieve=retrieve, settings=SETTINGS,
                   llm=llm)
    assert a.refused and "Paris" not in a.text


def test_model_answer_with_no_support_is_refused(retrieve) -> None:
    llm = FakeChatModel(function=_fn("The office was destroyed by a typhoon in 1997 [1]."))
    a = answer.ask(QUESTION, retrieve=retrieve, settings=SETTINGS, llm=llm)
    assert a.refused and a.citations == ()
    assert "typhoon" not in a.text


def test_model_refusal_is_honoured(retrieve) -> None:
    llm = FakeChatModel(function=_fn(_json("NOT IN ARTICLES", 0, "")))
    a = answer.ask(QUESTION, retrieve=retrieve, settings=SETTINGS, llm=llm)
    assert a.refused and a.kind == "refusal"


def test_follow_up_is_rewritten_and_retrieves_the_renovation_paragraph(retrieve) -> None:
    seen: list[str] = []

    def spy(question: str, k: int):
        seen.append(question)
        return retrieve(question, k)

    rewrite = "How much did it cost to renovate the liaison office that North Korea blew up?"
    reply = _json("9.78 billion won", 1, RENOVATION_QUOTE)
    llm = FakeChatModel(function=_fn(reply, rewrite=rewrite))
    history = [("user", "What did North Korea blow up?"),
               ("assistant", "The inter-Korean liaison office in Kaesong [1].")]
    events = list(answer.stream("How much did it cost to renovate it?", history, retrieve=spy,
                                settings=SETTINGS, llm=llm))
    a = events[-1].answer
    # an instant answer for "previous question + this one" comes before the rewrite
    assert seen == ["What did North Korea blow up? How much did it cost to renovate it?",
                    rewrite]
    assert isinstance(events[0], ExtractiveEvent)
    assert a.standalone_question == rewrite
    assert "What did North Korea blow up?" in llm.calls[0][1].text
    assert any("9.78" in p.text for p in a.passages[:2])
    assert not a.refused and "9.78" in a.citations[0].quote


def test_follow_up_that_names_its_subject_is_not_rewritten(retrieve) -> None:
    reply = _json("9.78 billion won", 1, RENOVATION_QUOTE)
    llm = FakeChatModel(function=_fn(reply, rewrite="SHOULD NOT BE USED"))
    history = [("user", "What did North Korea blow up?"),
               ("assistant", "The inter-Korean liaison office in Kaesong [1].")]
    a = answer.ask(QUESTION, history, retrieve=retrieve, settings=SETTINGS, llm=llm)
    assert a.standalone_question == QUESTION
    assert len(llm.calls) == 1, "one model call: the answer, no rewrite"


def test_old_article_is_named_for_a_question_about_now(retrieve) -> None:
    llm = FakeChatModel(function=_fn(_json("9.78 billion won", 1, RENOVATION_QUOTE)))
    q = "How much has South Korea spent on the liaison office building so far?"
    weeks_later = answer.ask(q, retrieve=retrieve, settings=SETTINGS, llm=llm,
                             as_of="2020-07-10")
    assert weeks_later.text.startswith("A June 2020 article says: 9.78 billion won")
    assert weeks_later.as_of == "June 16, 2020"
    years_later = answer.ask(q, retrieve=retrieve, settings=SETTINGS, llm=llm,
                             as_of="2024-05-01")
    assert years_later.refused, "old news is not shown as the answer to a question about now"
    assert "9.78" not in years_later.text
    assert "June 2020" in years_later.text and years_later.passages[0].title in years_later.text
    fresh = answer.ask(q, retrieve=retrieve, settings=SETTINGS, llm=llm, as_of="2020-06-20")
    assert fresh.text.startswith("9.78 billion won")
    plain = answer.ask(QUESTION, retrieve=retrieve, settings=SETTINGS, llm=llm, as_of="2024-05-01")
    assert plain.text.startswith("9.78 billion won"), "not a question about now"


def test_fake_model_replays_queue() -> None:
    llm = FakeChatModel(outputs=["one", "two words"])
    assert llm.invoke("hi").content == "one"
    assert "".join(c.content for c in llm.stream("hi")) == "two words"
    with pytest.raises(RuntimeError):
        llm.invoke("again")


def test_words_the_question_gave_are_not_the_claim(retrieve) -> None:
    """An answer must claim something the question did not give, and its quote must hold it."""
    question = "Which family member of the North Korean leader set the blast in motion?"
    quote = "Kim Yo Jong, the sister of the North Korean leader"
    for reply, ok in [(_json("Kim Yo Jong", 1, quote), True),
                      (_json("A family member of the North Korean leader", 1, quote), False),
                      (_json("Xi Jinping", 1, quote), False)]:
        llm = FakeChatModel(function=_fn(reply))
        a = answer.ask(question, retrieve=retrieve, settings=SETTINGS, llm=llm)
        assert a.refused is not ok, reply
        if ok:
            assert "Kim Yo Jong" in a.citations[0].quote


def _user_passages(messages) -> str:
    """The passages part of the user message (what comes before the question)."""
    return messages[1].text.split("\n\nQuestion:")[0]


def test_first_pass_reads_the_best_passages_and_stops_when_its_answer_checks_out(retrieve):
    _, n = _renovation_number(retrieve)
    llm = FakeChatModel(function=_fn(_json("9.78 billion won", n, RENOVATION_QUOTE)))
    events = list(answer.stream(QUESTION, retrieve=retrieve, settings=SETTINGS.with_(
        first_pass=n), llm=llm))
    [messages] = llm.calls
    numbers = [int(m) for m in re.findall(r"^\[(\d)\]", _user_passages(messages), re.M)]
    assert len(numbers) == n and n in numbers, "only the first passages were read"
    assert sum(isinstance(e, ExtractiveEvent) for e in events) == 1
    a = events[-1].answer
    assert not a.refused and a.text == f"9.78 billion won [{n}]"
    assert "second_pass" not in a.timings and a.timings["first_token"] <= a.timings["total"]


STORM = paragraphs("Heavy rain flooded the port of Brest on Friday, officials said. About 300 "
                   "homes lost power.", "storm", "Storm hits coast", "2020-06-15")[0]


def _fixed(*passages):
    """A retriever that returns these passages in this order, whatever the question."""
    return lambda question, k: list(passages)[:k]


def _renovation_passage():
    return next(p for p in seed_passages() if "9.78" in p.text)


def test_a_decline_on_the_first_passages_reads_them_all_and_is_never_shown() -> None:
    retrieve = _fixed(STORM, _renovation_passage())
    llm = FakeChatModel(outputs=[_json("NOT IN ARTICLES", 0, ""),
                                 _json("9.78 billion won", 2, RENOVATION_QUOTE)])
    events = list(answer.stream(QUESTION, retrieve=retrieve, settings=SETTINGS.with_(
        first_pass=1), llm=llm))
    first, second = llm.calls
    one, everything = _user_passages(first), _user_passages(second)
    assert re.findall(r"^\[(\d)\]", one, re.M) == ["1"] and "9.78" not in one
    assert re.findall(r"^\[(\d)\]", everything, re.M) == ["1", "2"]
    # the first prompt is the start of the second, so llama.cpp reuses its cache
    assert everything.startswith(one) and first[0].text == second[0].text
    kinds = [type(e).__name__ for e in events]
    assert kinds[:2] == ["ExtractiveEvent", "ExtractiveEvent"], "the decline showed a draft"
    assert "NOT" not in "".join(e.text for e in events if isinstance(e, TokenEvent))
    a = events[-1].answer
    assert not a.refused and a.text == "9.78 billion won [2]"
    assert 0 < a.timings["second_pass"] < a.timings["first_token"] < a.timings["total"]


def test_a_plain_text_decline_on_the_first_passages_is_not_shown_either() -> None:
    """A backend without JSON output declines in plain words; that is no draft either."""
    retrieve = _fixed(STORM, _renovation_passage())
    llm = FakeChatModel(outputs=["NOT IN ARTICLES",
                                 "South Korea spent 9.78 billion won on it [2]."])
    events = list(answer.stream(QUESTION, retrieve=retrieve, settings=SETTINGS.with_(
        first_pass=1), llm=llm))
    assert len(llm.calls) == 2
    assert "NOT" not in "".join(e.text for e in events if isinstance(e, TokenEvent))
    a = events[-1].answer
    assert not a.refused and "9.78 billion won" in a.text and a.citations[0].n == 2


def _drafts(events) -> list[str]:
    """The model's drafts as the web chat shows them: an extractive event starts a new one."""
    drafts = [""]
    for e in events:
        if isinstance(e, ExtractiveEvent):
            drafts.append("")
        elif isinstance(e, TokenEvent):
            drafts[-1] += e.text
    return drafts


def test_a_first_answer_that_fails_the_check_is_replaced_by_the_second_pass() -> None:
    retrieve = _fixed(STORM, _renovation_passage())
    llm = FakeChatModel(outputs=[_json("450 billion won", 1, RENOVATION_QUOTE),
                                 _json("9.78 billion won", 2, RENOVATION_QUOTE)])
    events = list(answer.stream(QUESTION, retrieve=retrieve, settings=SETTINGS.with_(
        first_pass=1), llm=llm))
    assert len(llm.calls) == 2
    *drafts, draft = _drafts(events)
    assert drafts[-1] == "450 billion won" and draft == "9.78 billion won"
    a = events[-1].answer
    assert not a.refused and a.text == "9.78 billion won [2]"
    assert a.timings["first_token"] < a.timings["second_pass"] < a.timings["first_token_kept"]


def test_no_second_pass_when_the_other_passages_could_not_back_an_answer() -> None:
    """The check accepts a quote only from a sentence about the question; when no sentence
    of the unread passages is, reading them could not give an answer that passes."""
    retrieve = _fixed(_renovation_passage(), STORM)
    llm = FakeChatModel(outputs=[_json("NOT IN ARTICLES", 0, ""), "unused"])
    a = answer.ask(QUESTION, retrieve=retrieve, settings=SETTINGS.with_(first_pass=1), llm=llm)
    assert a.refused and len(llm.calls) == 1 and "skipped_second_pass" in a.timings
    # the same unread passage, now about the question: it is read
    retrieve = _fixed(STORM, _renovation_passage())
    llm = FakeChatModel(outputs=[_json("NOT IN ARTICLES", 0, ""),
                                 _json("NOT IN ARTICLES", 0, "")])
    a = answer.ask(QUESTION, retrieve=retrieve, settings=SETTINGS.with_(first_pass=1), llm=llm)
    assert a.refused and len(llm.calls) == 2 and "skipped_second_pass" not in a.timings


def test_first_pass_off_reads_everything_at_once() -> None:
    retrieve = _fixed(STORM, _renovation_passage())
    llm = FakeChatModel(function=_fn(_json("NOT IN ARTICLES", 0, "")))
    a = answer.ask(QUESTION, retrieve=retrieve, settings=SETTINGS.with_(first_pass=0), llm=llm)
    assert a.refused and len(llm.calls) == 1
    with_first = FakeChatModel(function=_fn(_json("NOT IN ARTICLES", 0, "")))
    answer.ask(QUESTION, retrieve=retrieve, settings=SETTINGS.with_(first_pass=1),
               llm=with_first)
    assert len(with_first.calls) == 2 and with_first.calls[1] == llm.calls[0]


def test_a_number_the_check_refuses_gets_the_models_next_answer_once() -> None:
    """The model misread a number (none of the passages states it as the answer gives it):
    it is asked once more on the same prompt, with that answer barred, and the next answer
    goes through the same check. A refused name gets no second look, nor does a backend
    that cannot bar an answer."""
    retrieve = _fixed(STORM, _renovation_passage())
    settings = SETTINGS.with_(first_pass=0)
    llm = FakeChatModel(avoids_answers=True,
                        outputs=[_json("450 billion won", 2, ""), _json("9.78 billion won", 2, "")])
    events = list(answer.stream(QUESTION, retrieve=retrieve, settings=settings, llm=llm))
    first, second = llm.calls
    assert first == second, "the second look reads the same prompt (cached by llama.cpp)"
    assert "answer_avoid" not in llm.options[0]
    assert llm.options[1]["answer_avoid"] == ["450 billion won"]
    *drafts, draft = _drafts(events)
    assert drafts[-1] == "450 billion won" and draft == "9.78 billion won"
    a = events[-1].answer
    assert not a.refused and a.text == "9.78 billion won [2]"
    assert a.timings["first_token"] < a.timings["retry"] < a.timings["total"]

    # the next answer is checked too: a second misread number is refused, with no third call
    llm = FakeChatModel(avoids_answers=True,
                        outputs=[_json("450 billion won", 2, ""), _json("300 billion won", 2, "")])
    a = answer.ask(QUESTION, retrieve=retrieve, settings=settings, llm=llm)
    assert a.refused and len(llm.calls) == 2

    # a name the check refuses is a guess; its next likeliest is another guess
    llm = FakeChatModel(avoids_answers=True, outputs=[_json("Seoul", 2, ""), "unused"])
    a = answer.ask(QUESTION, retrieve=retrieve, settings=settings, llm=llm)
    assert a.refused and len(llm.calls) == 1

    # a backend that cannot bar an answer would only repeat it
    llm = FakeChatModel(outputs=[_json("450 billion won", 2, ""), "unused"])
    a = answer.ask(QUESTION, retrieve=retrieve, settings=settings, llm=llm)
    assert a.refused and len(llm.calls) == 1
    # nor does a number the check accepts get one
    llm = FakeChatModel(avoids_answers=True, outputs=[_json("9.78 billion won", 2, "")])
    assert not answer.ask(QUESTION, retrieve=retrieve, settings=settings, llm=llm).refused
    assert len(llm.calls) == 1


WHEN_Q = "When did North Korea blow up the liaison office?"
BLEW_UP = ("North Korea blew up an office set up to foster better ties with South Korea in its "
           "border town of Kaesong on Tuesday")


def test_a_weekday_answer_says_which_date_it_was(retrieve) -> None:
    """The seed article is dated 2020-06-16 (a Tuesday): "Tuesday" is that day, said so."""
    passages = retrieve(WHEN_Q, 4)
    n = next(i + 1 for i, p in enumerate(passages) if BLEW_UP in p.text)
    llm = FakeChatModel(function=_fn(_json("Tuesday", n, BLEW_UP)))
    a = answer.ask(WHEN_Q, retrieve=retrieve, settings=SETTINGS, llm=llm)
    assert not a.refused
    assert a.text == f"Tuesday (16 June 2020) [{n}]"
    assert a.citations[0].quote == BLEW_UP  # the quote is the article's own text


def test_a_refusal_has_no_answer_confidence(retrieve) -> None:
    """`confidence` is about what is shown: a refusal shows no answer, so it has none (null in
    `qa ask --json`, the web /ask endpoint and the app's wire format)."""
    from qa.app_link import answer_from_wire, answer_to_wire
    from qa.web.service import answer_dict

    llm = FakeChatModel(function=_fn(_json("Paris", 1, "Paris is the capital of France")))
    a = answer.ask("What is the capital of France?", retrieve=retrieve, settings=SETTINGS,
                   llm=llm)
    assert a.refused and a.confidence is None
    assert a.to_dict()["confidence"] is None and answer_dict(a)["confidence"] is None
    assert answer_from_wire(json.loads(json.dumps(answer_to_wire(a)))).confidence is None
    _, n = _renovation_number(retrieve)
    llm = FakeChatModel(function=_fn(_json("9.78 billion won", n, RENOVATION_QUOTE)))
    shown = answer.ask(QUESTION, retrieve=retrieve, settings=SETTINGS, llm=llm)
    assert 0 < shown.to_dict()["confidence"] <= 1

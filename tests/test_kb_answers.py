"""kb.ask / kb.stream on a real store, with the shipped fake chat model."""

import json

from qa.llm.fake import FakeChatModel
from qa.types import ExtractiveEvent, FinalEvent, TokenEvent


def test_ask_cites_spans_of_the_stored_article(seeded_kb):
    llm = FakeChatModel(
        outputs=["South Korea spent at least 9.78 billion won to renovate the building [1]."]
    )
    answer = seeded_kb.ask("How much did Seoul spend on the building?", llm=llm)
    assert not answer.refused
    assert "9.78 billion won" in answer.text
    (citation,) = answer.citations
    text = seeded_kb.article_text(citation.passage.doc_id)
    assert text[citation.start : citation.end] == citation.quote
    assert "9.78 billion won" in citation.quote
    payload = answer.to_dict()
    assert set(payload) >= {"answer", "refused", "confidence", "citations"}
    assert set(payload["citations"][0]) >= {"n", "doc_id", "title", "text", "start", "end",
                                            "quote"}
    json.dumps(payload)


def test_stream_gives_extractive_then_tokens_then_final(seeded_kb):
    llm = FakeChatModel(
        outputs=['{"answer": "an office set up to foster better ties with South Korea", '
                 '"passage": 1, "quote": "North Korea blew up an office set up to foster '
                 'better ties with South Korea in its border town of Kaesong"}']
    )
    events = list(seeded_kb.stream("What did North Korea blow up?", llm=llm))
    assert isinstance(events[0], ExtractiveEvent) and events[0].answer.citations
    assert any(isinstance(e, TokenEvent) for e in events)
    final = events[-1]
    assert isinstance(final, FinalEvent) and not final.answer.refused
    assert final.answer.text.startswith("an office set up to foster better ties")
    assert "".join(e.text for e in events if isinstance(e, TokenEvent)) == (
        "an office set up to foster better ties with South Korea")


def test_out_of_scope_question_is_refused_whatever_the_model_says(seeded_kb):
    answer = seeded_kb.ask("What is the capital of France?",
                           llm=FakeChatModel(outputs=["Paris [1]."]))
    assert answer.refused
    assert "Paris" not in answer.text
    assert answer.passages  # the nearest passages are shown


def test_citations_are_checked_with_the_stores_embedder(settings, monkeypatch):
    """The evidence behind every citation is embedded by the knowledge base's own embedder
    (the one its settings name), never by one read from the environment."""
    from testdata import SEED

    from qa.index.embedder import model_path
    from qa.kb import KnowledgeBase
    from qa.llm.fake import grounded_reply

    folder = str(model_path("all-MiniLM-L6-v2"))  # the same weights under another name
    kb = KnowledgeBase(settings.with_(embedder=folder),
                       llm=FakeChatModel(function=grounded_reply))
    kb.add(SEED)
    encoded: list[str] = []
    encode = kb.embeddings.encode
    monkeypatch.setattr(kb.embeddings, "encode",
                        lambda texts: encoded.extend(texts) or encode(texts))
    monkeypatch.setenv("QA_EMBEDDER", "no-such-embedder")  # reading it would fail
    answer = kb.ask("How much did Seoul spend on the building?")
    assert not answer.refused and "9.78 billion won" in answer.text
    assert "How much did Seoul spend on the building?" in encoded
    assert any("9.78 billion won" in t for t in encoded)  # the passages' sentences


def test_a_store_fed_with_the_weeks_news_refuses_answers_from_years_ago(kb):
    """Old news (``recency.is_old_news``): once the store holds the week's articles, a plain
    question asked that week is about that week's news, and a 2015 article's answer to it is
    about an earlier event; a store of old articles only is still answered from them."""
    from datetime import date

    kb.add_text("Many parents wrongly think sugary drinks are healthy for their children, "
                "a study found.", title="What parents believe about diets",
                date="2015-03-11", source="https://e.x/2015")
    q = "Which drinks do parents wrongly think are healthy for children?"
    llm = FakeChatModel(function=lambda messages: '{"answer": "sugary drinks", "passage": 1}')
    assert not kb.covers(date(2025, 3, 14))
    only_old = kb.ask(q, as_of="2025-03-14", llm=llm)
    assert not only_old.refused and only_old.text.startswith("sugary drinks [1]")

    kb.add_text("Tariffs on imported steel and aluminum took effect on Wednesday.",
                title="Steel tariffs take effect", date="2025-03-12", source="https://e.x/2025")
    assert kb.covers(date(2025, 3, 14)) and kb.covers(date(2025, 3, 10))  # 2 days' late dating
    assert not kb.covers(date(2025, 3, 30)), "ten days on, the store no longer covers the week"
    fed = kb.ask(q, as_of="2025-03-14", llm=llm)
    assert fed.refused and "sugary" not in fed.text
    assert "older news, a March 2015 article (\"What parents believe about diets\")" in fed.text
    then = kb.ask(q, as_of="2015-03-20", llm=llm)
    assert not then.refused, "asked the week it was published, the article is news"

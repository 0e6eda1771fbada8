"""The knowledge base with the real embedder and a real embedded Chroma."""

import pytest
from testdata import SEED

from qa.errors import EmbedderMismatchError, NotFoundError, QAError
from qa.kb import KnowledgeBase, open_kb

# (paraphrased question, words only the right paragraph has)
PARAPHRASES = [
    ("How much did Seoul spend on the building?", "9.78 billion won"),
    ("What did Pyongyang destroy in Kaesong?", "blew up an office"),
    ("Why had the office been shut since January?", "novel coronavirus"),
    ("How did the South Korean currency react to the news?", "won weakened"),
    ("Who told the inter-Korean affairs department to take the next step?", "Kim Yo Jong"),
    ("When was the first inter-Korean liaison office set up?", "established in 2018"),
    ("What was the building used for before it became the liaison office?",
     "Kaesong Industrial Complex"),
    ("What messages do the defectors' leaflets carry?", "critical of North Korean leader"),
    ("What insulting name does North Korea use for defectors?", "refers to defectors"),
    ("How did South Korean military officials watch the demolition?",
     "live surveillance imagery"),
    ("Where did South Korean staff sleep when working at the office?", "residential facilities"),
]


def test_retrieval_puts_the_right_paragraph_first(seeded_kb):
    hits = 0
    misses = []
    for question, needle in PARAPHRASES:
        top = seeded_kb.retrieve(question, k=3)[0]
        if needle in top.text:
            hits += 1
        else:
            misses.append(question)
    assert hits >= len(PARAPHRASES) - 1, misses


def test_passage_fields_and_offsets(seeded_kb):
    (doc,) = seeded_kb.documents()
    text = seeded_kb.article_text(doc.doc_id)
    passages = seeded_kb.retrieve("How much did Seoul spend on the building?", k=3)
    assert len(passages) == 3
    assert all(-1 <= p.score <= 1 for p in passages)  # cosine, whatever ranked them
    dense = [p.score for p in seeded_kb.retrieve("How much did Seoul spend?", k=3, mode="dense")]
    assert dense == sorted(dense, reverse=True)
    for p in passages:
        assert text[p.start : p.end] == p.text
        assert p.doc_id == doc.doc_id and p.title == doc.title and p.source == doc.source


def test_readding_the_same_article_is_a_no_op(seeded_kb):
    before = seeded_kb.store.chunks.get(include=[])["ids"]
    report = seeded_kb.add(SEED)
    assert report.summary() == "added 0, unchanged 1, replaced 0, failed 0"
    assert seeded_kb.store.chunks.get(include=[])["ids"] == before
    assert len(seeded_kb.documents()) == 1


def test_changed_version_from_the_same_source_replaces(kb, tmp_path):
    p = tmp_path / "story.txt"
    p.write_text("Dam opens\n\nThe new dam opened on Monday and cost 3 billion dollars.")
    assert kb.add(p).count("added") == 1
    p.write_text("Dam opens\n\nThe new dam opened on Tuesday and cost 4 billion dollars.\n\n"
                 "Engineers said it will supply power to a million homes.")
    report = kb.add(p)
    assert report.summary() == "added 0, unchanged 0, replaced 1, failed 0"
    (doc,) = kb.documents()
    assert kb.store.count_chunks() == doc.chunks == kb.store.count_chunks(doc.doc_id)
    texts = " ".join(c for c in kb.store.chunks.get(include=["documents"])["documents"])
    assert "4 billion" in texts and "3 billion" not in texts
    assert "Tuesday" in kb.retrieve("When did the dam open?", k=1)[0].text


def test_list_and_remove(kb, tmp_path):
    for name, body in [("a", "Alpha story body about apples."), ("b", "Beta story body on bees.")]:
        (tmp_path / f"{name}.txt").write_text(f"Story {name}\n\n{body}")
    assert kb.add(tmp_path).count("added") == 2
    docs = kb.documents()
    assert [d.title for d in docs] == ["Story a", "Story b"]
    assert all(d.chunks == 1 for d in docs)
    removed = kb.remove(docs[0].doc_id)
    assert removed.title == "Story a"
    assert [d.title for d in kb.documents()] == ["Story b"]
    assert kb.store.count_chunks() == 1
    assert all(p.title == "Story b" for p in kb.retrieve("apples", k=5))
    with pytest.raises(NotFoundError):
        kb.remove(docs[0].doc_id)
    kb.remove(str(tmp_path / "b.txt"))  # by source
    assert kb.documents() == []


def test_pasted_text_and_explicit_metadata(kb):
    report = kb.add_text("The festival drew 20,000 visitors.", title="Festival", date="2023-01-07",
                         source="https://fest.example")
    assert report.count("added") == 1
    (doc,) = kb.documents()
    assert (doc.title, doc.published, doc.source) == ("Festival", "2023-01-07",
                                                      "https://fest.example")
    assert kb.retrieve("How many visitors came?", k=1)[0].published == "2023-01-07"


def test_empty_or_huge_question_is_refused(seeded_kb):
    with pytest.raises(QAError, match="empty"):
        seeded_kb.retrieve("   ")
    with pytest.raises(QAError, match="limit"):
        seeded_kb.retrieve("why " * 5000)


def test_langchain_retriever(seeded_kb):
    docs = seeded_kb.as_retriever(k=2).invoke("How much did Seoul spend on the building?")
    assert len(docs) == 2
    assert "9.78 billion won" in docs[0].page_content
    assert {"doc_id", "title", "source", "published", "start", "end", "score"} <= set(
        docs[0].metadata)


def test_first_open_indexes_the_shipped_corpus_once(settings):
    kb = open_kb(settings=settings.with_(seed_corpus=True))
    (doc,) = kb.documents()
    assert doc.title.startswith("North Korea Blows up Liaison Office")
    kb.remove(doc.doc_id)
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
    kb = open_kb(settings=settings.with_(seed_corpus=True))
    assert kb.documents() == []  # a user who removed it does not get it back


def test_a_reindex_interrupted_right_after_the_reset_stays_marked(seeded_kb, monkeypatch):
    """The "re-index interrupted" mark lives in the catalog, so dropping the chunk collection
    (the first thing a re-index does) cannot wipe it: a crash just after still says so."""
    from chromadb.api.client import SharedSystemClient

    store = seeded_kb.store
    reset = store.reset_chunks

    def reset_then_crash():
        reset()
        raise KeyboardInterrupt("killed right after the reset")

    monkeypatch.setattr(store, "reset_chunks", reset_then_crash)
    with pytest.raises(KeyboardInterrupt):
        seeded_kb.reindex()
    SharedSystemClient.clear_system_cache()
    with pytest.raises(QAError, match="run `qa reindex` to finish it"):
        open_kb(settings=seeded_kb.settings)
    SharedSystemClient.clear_system_cache()
    report = KnowledgeBase(seeded_kb.settings).reindex()  # what `qa reindex` does
    assert report.count("replaced") == 1
    SharedSystemClient.clear_system_cache()
    assert open_kb(settings=seeded_kb.settings).documents()[0].chunks > 0


def test_another_embedder_is_refused_until_reindexed(seeded_kb, tmp_path):
    from chromadb.api.client import SharedSystemClient

    settings = seeded_kb.settings
    seeded_kb.store.chunks.modify(metadata={"embedder": "old-model", "dim": 768, "schema": 1})
    SharedSystemClient.clear_system_cache()
    with pytest.raises(EmbedderMismatchError, match="qa reindex"):
        KnowledgeBase(settings)
    SharedSystemClient.clear_system_cache()
    rebuilt = KnowledgeBase(settings, rebuild_index=True)
    report = rebuilt.reindex()
    assert report.count("replaced") == 1
    SharedSystemClient.clear_system_cache()
    kb = open_kb(settings=settings)
    assert "9.78 billion" in kb.retrieve("How much did Seoul spend on the building?", 1)[0].text
    assert kb.store.count_chunks() == kb.documents()[0].chunks

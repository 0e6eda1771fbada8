"""The same store code against a real Chroma server (QA_CHROMA_URL)."""

import uuid

import pytest
from chroma_server import ChromaServer
from conftest import no_hang
from testdata import SEED

from qa.errors import EmbedderMismatchError, StoreError
from qa.kb import KnowledgeBase


@pytest.fixture
def server_settings(settings, chroma_server):
    return settings.with_(chroma_url=chroma_server.url, collection=f"t-{uuid.uuid4().hex[:10]}")


@pytest.mark.slow
def test_add_list_search_replace_remove_on_a_server(server_settings, tmp_path):
    kb = KnowledgeBase(server_settings)
    assert kb.add(SEED).count("added") == 1
    assert kb.add(SEED).count("unchanged") == 1
    (doc,) = kb.documents()
    assert doc.chunks == kb.store.count_chunks() > 0
    top = kb.retrieve("How much did Seoul spend on the building?", k=2)[0]
    assert "9.78 billion won" in top.text
    assert kb.article_text(doc.doc_id)[top.start : top.end] == top.text

    p = tmp_path / "v.txt"
    p.write_text("Vote count\n\nThe count finished on Sunday.")
    kb.add(p)
    p.write_text("Vote count\n\nThe count finished on Monday after a recount.")
    assert kb.add(p).count("replaced") == 1
    assert "Monday" in kb.retrieve("When did the count finish?", k=1)[0].text
    kb.remove(str(p))
    kb.remove(doc.doc_id)
    assert kb.documents() == [] and kb.store.count_chunks() == 0


@pytest.mark.slow
def test_two_processes_share_one_server(server_settings, tmp_path):
    writer = KnowledgeBase(server_settings)
    reader = KnowledgeBase(server_settings)
    assert reader.documents() == []
    p = tmp_path / "s.txt"
    p.write_text("Satellite launch\n\nThe weather satellite launched from Kourou at dawn.")
    writer.add(p)
    # the reader sees the new document without reopening
    assert [d.title for d in reader.documents()] == ["Satellite launch"]
    assert "Kourou" in reader.retrieve("Where did the satellite launch from?", k=1)[0].text


@pytest.mark.slow
def test_another_embedder_is_refused_on_a_server(server_settings):
    kb = KnowledgeBase(server_settings)
    kb.store.chunks.modify(metadata={"embedder": "other", "dim": 768, "schema": 1})
    with pytest.raises(EmbedderMismatchError, match="qa reindex"):
        KnowledgeBase(server_settings)


def test_unreachable_server_is_a_clear_error(settings):
    from chroma_server import free_port

    with pytest.raises(StoreError, match="Chroma"):
        KnowledgeBase(settings.with_(chroma_url=f"http://127.0.0.1:{free_port()}"))


@pytest.mark.slow
def test_server_restart_mid_use_gives_a_clear_error_then_recovers(settings, tmp_path):
    srv = ChromaServer(tmp_path / "restart-server").start()
    try:
        kb = KnowledgeBase(settings.with_(chroma_url=srv.url, collection="restart"))
        kb.add(SEED)
        srv.stop()
        # an error, not a hang: no_hang fails a call still running after scaled(30) s
        with pytest.raises(StoreError, match="not answering"):
            no_hang(kb.retrieve, "How much did Seoul spend on the building?", k=1)
        with pytest.raises(StoreError, match="chroma run"):
            no_hang(kb.documents)
        srv = ChromaServer(srv.path, srv.port).start()
        # the same KnowledgeBase object works again, with nothing lost
        assert len(kb.documents()) == 1
        top = kb.retrieve("How much did Seoul spend on the building?", k=1)[0]
        assert "9.78 billion won" in top.text
    finally:
        srv.stop()


@pytest.mark.slow
def test_kill_during_add_on_a_server_leaves_only_whole_documents(server_settings, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import textwrap

    from testdata import EVAL_MINI

    source = tmp_path / "articles.jsonl"
    with open(EVAL_MINI / "articles.jsonl") as fh:
        source.write_text("".join(fh.readlines()[:150]))
    writer = textwrap.dedent(
        f"""
        import time
        from qa.config import Settings
        from qa.kb import KnowledgeBase
        s = Settings.from_env().with_(chroma_url={server_settings.chroma_url!r},
                                      collection={server_settings.collection!r},
                                      seed_corpus=False)
        kb = KnowledgeBase(s)
        write_chunks = kb.store.vectorstore.add_texts
        groups = []
        def add_texts(*args, **kwargs):  # the second group: chunks written, then wait
            ids = write_chunks(*args, **kwargs)
            groups.append(len(ids))
            if len(groups) == 2:
                print("chunks written, not committed", flush=True)
                time.sleep(600)
            return ids
        kb.store.vectorstore.add_texts = add_texts
        kb.add({str(source)!r}, progress=lambda d, t: print("progress", d, t, flush=True))
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    for line in proc.stdout:
        if line.startswith("chunks written"):
            break
    else:
        pytest.fail(f"the writer ended before its second group (exit {proc.wait()})")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kb = KnowledgeBase(server_settings)  # recovery runs on open
    docs = kb.documents()
    assert 0 < len(docs) < 150
    for d in docs:
        assert kb.store.count_chunks(d.doc_id) == d.chunks
    assert kb.store.count_chunks() == sum(d.chunks for d in docs)
    assert kb.add(source).count("failed") == 0
    assert len(kb.documents()) == 150

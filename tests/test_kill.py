"""kill -9 in the middle of an add leaves no half-indexed document after reopening."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from testdata import EVAL_MINI

from qa.kb import KnowledgeBase

pytestmark = pytest.mark.slow

WRITER = textwrap.dedent(
    """
    import sys, time
    from qa.config import Settings
    from qa.kb import KnowledgeBase
    s = Settings.from_env().with_(data_dir=__import__("pathlib").Path(sys.argv[1]),
                                  seed_corpus=False)
    kb = KnowledgeBase(s)
    def progress(done, total):
        print(f"progress {done} {total}", flush=True)
    # Tell the parent when the second group's chunks are written but not yet committed, then
    # wait there to be killed: the kill lands in the protocol's riskiest window.
    write_chunks = kb.store.vectorstore.add_texts
    groups = []
    def add_texts(*args, **kwargs):
        ids = write_chunks(*args, **kwargs)
        groups.append(len(ids))
        if len(groups) == 2:
            print("chunks written, not committed", flush=True)
            time.sleep(600)
        return ids
    kb.store.vectorstore.add_texts = add_texts
    kb.add(sys.argv[2], progress=progress)
    print("finished", flush=True)
    """
)


def test_kill_during_add_leaves_only_whole_documents(seeded_kb, tmp_path):
    data = seeded_kb.settings.data_dir
    source = tmp_path / "articles.jsonl"
    with open(EVAL_MINI / "articles.jsonl") as fh:
        source.write_text("".join(fh.readlines()[:40]))
    seed_docs = seeded_kb.documents()
    del seeded_kb
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(data), str(source)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    committed = 0
    for line in proc.stdout:
        if line.startswith("progress"):
            committed = int(line.split()[1])
        if line.startswith("chunks written"):
            break
    else:
        pytest.fail(f"the writer ended before its second group (exit {proc.wait()})")
    # the first group is committed; the second one's chunks are in, its catalog commit is not
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert committed > 0

    kb = KnowledgeBase(seeded_kb_settings(data))
    docs = kb.documents()
    assert {d.doc_id for d in seed_docs} <= {d.doc_id for d in docs}  # nothing lost
    assert committed + 1 <= len(docs) < 41  # interrupted: some but not all went in
    for d in docs:
        assert kb.store.count_chunks(d.doc_id) == d.chunks, d.title
    assert kb.store.count_chunks() == sum(d.chunks for d in docs)  # no orphan chunks
    pending = kb.store.catalog.get(where={"kind": "pending"}, include=[])["ids"]
    assert pending == []
    # adding again completes the set without duplicates
    report = kb.add(source)
    assert report.count("unchanged") == len(docs) - 1 and report.count("failed") == 0
    assert len(kb.documents()) == 41


def seeded_kb_settings(data):
    from qa.config import Settings

    return Settings.from_env().with_(data_dir=data, seed_corpus=False, chroma_url=None)

"""Ingest speed: chunks/s through ``KnowledgeBase.add`` versus raw ``SentenceTransformer.encode``.

Prints figures; it is not a test. Both sides get the very same chunk texts (the chunks that
``kb.add`` makes of the articles: same loader, same ``chunk_text``, same chunk size), the same
shared model and the same batch size. ``kb.add`` is timed end to end into a fresh temporary
store (parse the JSONL, chunk, embed, write to Chroma, commit the catalog); opening the store
is not timed. The model is warmed, and one small add is done first, before any timing. Rounds
alternate the order (add then encode, encode then add) so that drift in machine load hits both
sides; the ratio of the summed times is the figure to quote (goal: >= 0.9).

    .venv/bin/python bench/ingest_speed.py               # the 197 mini-set articles, 2 rounds
    .venv/bin/python bench/ingest_speed.py --limit 40 --rounds 4
"""

from __future__ import annotations

import argparse
import gc
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.config import Settings  # noqa: E402
from qa.index.embedder import Embedder  # noqa: E402
from qa.ingest.chunking import chunk_text  # noqa: E402
from qa.ingest.loaders import load_file  # noqa: E402
from qa.kb import KnowledgeBase  # noqa: E402
from qa.types import Article  # noqa: E402

ARTICLES = ROOT / "eval" / "realtimeqa-2023-mini" / "articles.jsonl"


def chunk_texts(path: Path, settings: Settings) -> list[str]:
    """The chunk texts kb.add will embed for this file, in its order."""
    max_bytes = int(settings.max_file_mb * 1_000_000)
    texts = []
    for item in load_file(path, max_bytes=max_bytes):
        if isinstance(item, Article):
            texts += [c.text for c in chunk_text(item.text, settings.chunk_size)]
    return texts


def timed_add(settings: Settings, path: Path) -> tuple[float, int]:
    """Seconds for kb.add(path) into a fresh store, and the chunks it wrote."""
    from chromadb.api.client import SharedSystemClient

    tmp = tempfile.mkdtemp(prefix="newsqa-ingest-")
    try:
        kb = KnowledgeBase(settings.with_(data_dir=Path(tmp)))
        t0 = time.perf_counter()
        report = kb.add(path)
        seconds = time.perf_counter() - t0
        failed = [o for o in report.outcomes if o.status == "failed"]
        if failed:
            raise SystemExit(f"kb.add failed on {len(failed)} documents: {failed[0].error}")
        chunks = sum(o.chunks for o in report.outcomes)
        stored = kb.store.chunks.count()
        if stored != chunks:
            raise SystemExit(f"report says {chunks} chunks but the store holds {stored}")
        del kb
        return seconds, chunks
    finally:
        SharedSystemClient.clear_system_cache()
        gc.collect()
        shutil.rmtree(tmp, ignore_errors=True)


def timed_encode(emb: Embedder, texts: list[str]) -> float:
    t0 = time.perf_counter()
    vectors = emb.encode(texts)
    seconds = time.perf_counter() - t0
    assert len(vectors) == len(texts)
    return seconds


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--articles", type=Path, default=ARTICLES, help="a JSONL file of articles")
    p.add_argument("--limit", type=int, default=None, help="use only the first N articles")
    p.add_argument("--rounds", type=int, default=2,
                   help="timed rounds; odd rounds run kb.add first, even rounds encode first")
    a = p.parse_args(argv)
    settings = Settings.from_env().with_(seed_corpus=False)

    work = Path(tempfile.mkdtemp(prefix="newsqa-ingest-input-"))
    try:
        path = a.articles
        if a.limit:
            lines = [ln for ln in a.articles.read_text().splitlines() if ln.strip()][: a.limit]
            path = work / "articles.jsonl"
            path.write_text("\n".join(lines) + "\n")
        texts = chunk_texts(path, settings)
        n_articles = sum(1 for ln in path.read_text().splitlines() if ln.strip())
        chars = sum(len(t) for t in texts)
        import chromadb
        import torch

        print(f"python {platform.python_version()}, torch {torch.__version__} "
              f"({torch.get_num_threads()} threads), chromadb {chromadb.__version__}")
        print(f"{n_articles} articles from {a.articles} -> {len(texts)} chunks, "
              f"mean {chars / max(1, len(texts)):.0f} chars (chunk size {settings.chunk_size}); "
              f"embedder {settings.embedder}, batch size {settings.embed_batch_size}")

        emb = Embedder(settings.embedder, settings.embed_batch_size)
        t0 = time.perf_counter()
        emb.encode(texts[:64])  # load and warm the model
        warm = work / "warm.jsonl"
        warm.write_text(path.read_text().splitlines()[0] + "\n")
        timed_add(settings, warm)  # import chromadb/langchain, first store open
        print(f"warm-up {time.perf_counter() - t0:.1f} s", flush=True)

        add_s, enc_s, ratios = 0.0, 0.0, []
        for r in range(a.rounds):
            order = ["add", "encode"] if r % 2 == 0 else ["encode", "add"]
            got: dict[str, float] = {}
            for step in order:
                if step == "add":
                    got["add"], chunks = timed_add(settings, path)
                    if chunks != len(texts):
                        raise SystemExit(f"kb.add wrote {chunks} chunks, expected {len(texts)}")
                else:
                    got["encode"] = timed_encode(emb, texts)
            add_s += got["add"]
            enc_s += got["encode"]
            ratios.append(got["encode"] / got["add"])
            print(f"round {r + 1} ({' then '.join(order)}): "
                  f"kb.add {len(texts) / got['add']:.1f} chunks/s ({got['add']:.1f} s), "
                  f"encode {len(texts) / got['encode']:.1f} chunks/s ({got['encode']:.1f} s), "
                  f"ratio {ratios[-1]:.3f}", flush=True)
        n = len(texts) * a.rounds
        print(f"\nkb.add   {n / add_s:.1f} chunks/s")
        print(f"encode   {n / enc_s:.1f} chunks/s")
        print(f"ratio    {enc_s / add_s:.3f}  (kb.add / raw encode, summed over {a.rounds} "
              f"rounds; per-round median {statistics.median(ratios):.3f}, "
              f"range {min(ratios):.3f}-{max(ratios):.3f}; goal >= 0.9)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

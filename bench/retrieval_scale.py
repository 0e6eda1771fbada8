"""Retrieval latency and recall@k of Chroma's HNSW index versus exact search, at scale.

Prints figures; it is not a test. For each corpus size (default 10k and 100k chunks) and each
vector set, it builds a Chroma collection the way ``qa/index/store.py`` does (PersistentClient,
``configuration={"hnsw": ...}`` with the same keys and values from ``qa.config.Settings``) and
one with Chroma's default HNSW settings, runs every query one at a time, and compares the
top-k ids with exact (brute-force numpy) cosine search.

Vector sets:

* ``clustered``: embeddings of the real chunks of the full RealTime QA 2023 set (cached under
  ``bench/out/``), topped up to the target size with perturbed copies of real vectors
  (``normalize(v + noise)``, noise of norm ``--noise``), so the set is clustered like real
  text. Queries: embeddings of the real questions plus perturbed copies of them.
* ``random``: uniform random unit vectors (the worst case for HNSW), for reference.

At the largest size it also sweeps ef_search on the newsqa collection (``collection.modify``,
as ``qa/index/store.py`` does on open) and, if recall@10 stays under the target, tries larger M.

    .venv/bin/python bench/retrieval_scale.py               # 10k and 100k, ~15 min on 2 cores
    .venv/bin/python bench/retrieval_scale.py --quick       # 10k only, fewer queries
    .venv/bin/python bench/retrieval_scale.py --sizes 20000 --no-random
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.config import Settings  # noqa: E402
from qa.index.embedder import Embedder  # noqa: E402
from qa.ingest.chunking import chunk_text  # noqa: E402
from qa.ingest.loaders import load_file  # noqa: E402
from qa.types import Article  # noqa: E402

EVAL = ROOT / "eval" / "realtimeqa-2023"
OUT = ROOT / "bench" / "out"
CHROMA_DEFAULTS = {"space": "cosine"}  # everything else left to Chroma (ef 100/100, M 16)
_BLOCK = 512  # texts per cached embedding block (the cache is resumable)


# -- vectors -------------------------------------------------------------------------------
def embed_cached(emb: Embedder, texts: list[str], tag: str) -> np.ndarray:
    """Embeddings of texts, cached per block of 512 under bench/out/emb/ (resumable)."""
    cache = OUT / "emb"
    cache.mkdir(parents=True, exist_ok=True)
    parts = []
    t0 = time.perf_counter()
    done = 0
    for i in range(0, len(texts), _BLOCK):
        block = texts[i : i + _BLOCK]
        h = hashlib.sha256(emb.name.encode())
        for t in block:
            h.update(t.encode("utf-8"))
            h.update(b"\x00")
        path = cache / f"{tag}-{h.hexdigest()[:20]}.npy"
        if path.exists():
            parts.append(np.load(path))
        else:
            vec = emb.encode(block).astype(np.float32)
            np.save(path, vec)
            parts.append(vec)
            done += len(block)
            rate = done / (time.perf_counter() - t0)
            print(f"  embedded {i + len(block)}/{len(texts)} ({rate:.0f}/s)", flush=True)
    return np.concatenate(parts) if parts else np.zeros((0, emb.dimension), np.float32)


def real_chunks(articles: Path, settings: Settings, max_chunks: int | None) -> list[str]:
    texts = []
    for item in load_file(articles, max_bytes=10**10):
        if isinstance(item, Article):
            texts += [c.text for c in chunk_text(item.text, settings.chunk_size)]
    return texts[:max_chunks] if max_chunks else texts


def normalize(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def perturb(base: np.ndarray, n: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """n vectors: random rows of base plus Gaussian noise of expected norm ``noise``."""
    idx = rng.integers(0, len(base), n)
    g = rng.standard_normal((n, base.shape[1]), dtype=np.float32) / np.sqrt(base.shape[1])
    return normalize(base[idx] + noise * g)


def top_nn_cos(x: np.ndarray, sample: int, rng: np.random.Generator) -> float:
    """Median cosine of a vector to its nearest other vector (how clustered a set is)."""
    idx = rng.choice(len(x), min(sample, len(x)), replace=False)
    sims = x[idx] @ x.T
    sims[np.arange(len(idx)), idx] = -1
    return float(np.median(sims.max(axis=1)))


def exact_topk(x: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    """Exact top-k row indices by cosine (rows are unit vectors), best first."""
    out = np.empty((len(q), k), dtype=np.int64)
    for i in range(0, len(q), 64):
        sims = q[i : i + 64] @ x.T
        part = np.argpartition(-sims, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1)
        out[i : i + 64] = np.take_along_axis(part, order, axis=1)
    return out


# -- chroma --------------------------------------------------------------------------------
def newsqa_hnsw(settings: Settings) -> dict:
    """The configuration dict qa/index/store.py (ChromaStore._hnsw) makes the chunk collection
    with."""
    return {
        "space": "cosine",
        "ef_construction": settings.hnsw_ef_construction,
        "ef_search": settings.hnsw_ef_search,
        "max_neighbors": settings.hnsw_max_neighbors,
    }


class Index:
    """One Chroma collection in a fresh PersistentClient folder, as qa/index/store.py opens it."""

    def __init__(self, hnsw: dict, x: np.ndarray):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.dir = tempfile.mkdtemp(prefix="newsqa-bench-")
        self.client = chromadb.PersistentClient(
            path=self.dir, settings=ChromaSettings(anonymized_telemetry=False)
        )
        self.col = self.client.create_collection(
            "bench", embedding_function=None, configuration={"hnsw": dict(hnsw)}
        )
        step = self.client.get_max_batch_size()
        t0 = time.perf_counter()
        for i in range(0, len(x), step):
            self.col.add(ids=[str(j) for j in range(i, min(i + step, len(x)))],
                         embeddings=x[i : i + step])
        self.build_s = time.perf_counter() - t0
        self.config = (self.col.configuration or {}).get("hnsw") or {}

    def _open(self) -> None:
        import chromadb
        from chromadb.api.client import SharedSystemClient
        from chromadb.config import Settings as ChromaSettings

        self.col = self.client = None
        SharedSystemClient.clear_system_cache()
        self.client = chromadb.PersistentClient(
            path=self.dir, settings=ChromaSettings(anonymized_telemetry=False)
        )
        self.col = self.client.get_collection("bench", embedding_function=None)

    def set_ef_search(self, ef: int) -> None:
        """Change ef_search as qa/index/store.py does on open: reopen, modify, then query.

        Checked with chromadb 1.5.9: ``modify`` on a collection whose index this process has
        already loaded (queried) is stored but not used until the client is reopened; a modify
        right after opening, before the first query, takes effect.
        """
        self._open()
        self.col.modify(configuration={"hnsw": {"ef_search": ef}})
        got = ((self.col.configuration or {}).get("hnsw") or {}).get("ef_search")
        if got != ef:
            raise RuntimeError(f"ef_search did not change: asked {ef}, collection says {got}")

    def search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Ids (as row indices) and per-query latency in ms, one query per call."""
        for v in q[:10]:  # warm: the first query loads the index
            self.col.query(query_embeddings=[v], n_results=k, include=["distances"])
        ids = np.full((len(q), k), -1, dtype=np.int64)
        ms = np.empty(len(q))
        for i, v in enumerate(q):
            t0 = time.perf_counter()
            got = self.col.query(query_embeddings=[v], n_results=k, include=["distances"])
            ms[i] = (time.perf_counter() - t0) * 1000
            row = [int(s) for s in got["ids"][0]]
            ids[i, : len(row)] = row
        return ids, ms

    def close(self) -> None:
        from chromadb.api.client import SharedSystemClient

        self.col = self.client = None
        SharedSystemClient.clear_system_cache()
        gc.collect()
        shutil.rmtree(self.dir, ignore_errors=True)


def recall(found: np.ndarray, exact: np.ndarray, k: int) -> float:
    hits = [len(set(f[:k]) & set(e[:k])) for f, e in zip(found, exact, strict=True)]
    return float(np.mean(hits)) / k


def measure(ix: Index, q: np.ndarray, exact: np.ndarray) -> dict:
    ids, ms = ix.search(q, 10)
    return {
        "recall@5": recall(ids, exact, 5),
        "recall@10": recall(ids, exact, 10),
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
    }


def fmt(name: str, r: dict) -> str:
    return (f"  {name:<34} recall@5 {r['recall@5']:.3f}  recall@10 {r['recall@10']:.3f}  "
            f"p50 {r['p50_ms']:6.2f} ms  p95 {r['p95_ms']:6.2f} ms"
            + (f"  build {r['build_s']:.0f} s" if "build_s" in r else ""))


# -- main ----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10000,100000", help="corpus sizes, comma-separated")
    p.add_argument("--quick", action="store_true", help="10k only, 200 queries, short sweep")
    p.add_argument("--eval-dir", type=Path, default=EVAL, help="articles.jsonl, questions.jsonl")
    p.add_argument("--max-chunks", type=int, default=None,
                   help="embed only the first N real chunks (default: all)")
    p.add_argument("--noise", type=float, default=0.75,
                   help="norm of the noise added to a real vector to make a synthetic one")
    p.add_argument("--queries", type=int, default=500, help="queries per measurement")
    p.add_argument("--ef-search", default="50,100,200,400,800",
                   help="ef_search values swept at the largest size on the newsqa collection")
    p.add_argument("--try-m", default="48,64",
                   help="M (max_neighbors) values tried if recall@10 < target at every ef")
    p.add_argument("--target", type=float, default=0.95)
    p.add_argument("--no-random", action="store_true", help="skip the random-vector case")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=OUT / "retrieval_scale.json")
    a = p.parse_args(argv)
    if a.quick:
        a.sizes, a.queries, a.ef_search, a.try_m = "10000", 200, "100,200", ""
    sizes = [int(s) for s in a.sizes.split(",") if s]
    efs = [int(s) for s in a.ef_search.split(",") if s]
    try_m = [int(s) for s in a.try_m.split(",") if s]
    rng = np.random.default_rng(a.seed)
    settings = Settings.from_env()
    ours = newsqa_hnsw(settings)
    import chromadb

    print(f"python {platform.python_version()}, chromadb {chromadb.__version__}, "
          f"numpy {np.__version__}; newsqa hnsw {ours}; chroma defaults otherwise")

    emb = Embedder(settings.embedder, settings.embed_batch_size)
    texts = real_chunks(a.eval_dir / "articles.jsonl", settings, a.max_chunks)
    print(f"real chunks: {len(texts)} from {a.eval_dir / 'articles.jsonl'}", flush=True)
    real = embed_cached(emb, texts, "chunk")
    questions = [
        json.loads(line)["question"]
        for line in (a.eval_dir / "questions.jsonl").read_text().splitlines() if line.strip()
    ]
    qreal = embed_cached(emb, questions, "question")
    print(f"real questions: {len(qreal)}; noise norm {a.noise} "
          f"(perturbed-to-parent cosine ~{1 / np.sqrt(1 + a.noise**2):.2f}); "
          f"median nearest-neighbour cosine among real chunks "
          f"{top_nn_cos(real, 1000, rng):.2f}", flush=True)

    results: dict = {"settings": {"newsqa": ours, "noise": a.noise, "queries": a.queries},
                     "runs": []}
    sets = ["clustered"] + ([] if a.no_random else ["random"])
    dim = real.shape[1]
    t_all = time.perf_counter()
    for n in sizes:
        for kind in sets:
            if kind == "clustered":
                x = real[:n] if n <= len(real) else np.concatenate(
                    [real, perturb(real, n - len(real), a.noise, rng)])
                q = np.concatenate([qreal, perturb(qreal, max(0, a.queries - len(qreal)),
                                                   a.noise, rng)])[: a.queries]
                extra = f"median NN cosine {top_nn_cos(x, 500, rng):.2f}"
            else:
                x = normalize(rng.standard_normal((n, dim), dtype=np.float32))
                q = normalize(rng.standard_normal((a.queries, dim), dtype=np.float32))
                extra = ""
            exact = exact_topk(x, q, 10)
            print(f"\n{kind} n={n} queries={len(q)} {extra}", flush=True)
            configs = [("newsqa", ours), ("chroma default", CHROMA_DEFAULTS)]
            for name, hnsw in configs:
                ix = Index(hnsw, x)
                try:
                    r = measure(ix, q, exact) | {"build_s": ix.build_s}
                    cfg = ix.config
                    label = (f"{name} (ef_s {cfg.get('ef_search')}, "
                             f"ef_c {cfg.get('ef_construction')}, M {cfg.get('max_neighbors')})")
                    print(fmt(label, r), flush=True)
                    results["runs"].append({"set": kind, "n": n, "config": name,
                                            "hnsw": cfg, **r})
                    sweep = (name == "newsqa" and n == max(sizes)
                             and (kind == "clustered" or len(sets) == 1))
                    if sweep:
                        best = None
                        for ef in efs:
                            ix.set_ef_search(ef)
                            r = measure(ix, q, exact)
                            print(fmt(f"  newsqa, ef_search {ef}", r), flush=True)
                            results["runs"].append({"set": kind, "n": n, "config": name,
                                                    "sweep": "ef_search", "ef_search": ef, **r})
                            if best is None and r["recall@10"] >= a.target:
                                best = ef
                        if best is None:
                            for m in try_m:
                                hm = ours | {"max_neighbors": m, "ef_search": max(efs)}
                                ix2 = Index(hm, x)
                                try:
                                    r = measure(ix2, q, exact) | {"build_s": ix2.build_s}
                                    print(fmt(f"  M {m}, ef_search {max(efs)}", r), flush=True)
                                    results["runs"].append({"set": kind, "n": n,
                                                            "config": f"M{m}", "hnsw": hm, **r})
                                    if r["recall@10"] >= a.target:
                                        break
                                finally:
                                    ix2.close()
                finally:
                    ix.close()
            del x, exact
            gc.collect()
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s (after embedding)")
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(results, indent=1))
    print(f"figures saved to {a.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

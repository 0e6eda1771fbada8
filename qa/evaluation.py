"""`qa eval`: score retrieval and answers on news-quiz sets, through the path users use.

Scoring follows the eval sets' README: an answer is correct when a gold answer occurs in it
after lower-casing and dropping punctuation and articles; retrieval is scored by whether a gold
answer occurs in the top-k passages.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import statistics
import string
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .config import Settings

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans({c: " " for c in string.punctuation + "‘’“”—–"})
RECALL_KS = (1, 3, 5, 10, 20)


def normalize(text: str) -> str:
    text = text.lower().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def contains_gold(text: str, answers: list[str]) -> bool:
    norm = f" {normalize(text)} "
    return any(f" {normalize(a)} " in norm for a in answers if normalize(a))


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval for a proportion (sound at small n, unlike the normal one)."""
    if n == 0:
        return (0.0, 0.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def question_type(question: str) -> str:
    q = question.lower()
    for kind in ("how many", "how much", "which", "who", "what", "where", "when", "why", "how"):
        if re.search(rf"\b{kind}\b", q):
            return kind
    return "other"


@dataclass
class QuestionResult:
    id: str
    question: str
    answers: list[str]
    answerable: bool
    qtype: str
    first_hit_rank: int | None
    """1-based rank of the first retrieved passage holding a gold answer (None: none does)."""
    choice: str | None = None
    choice_correct: bool | None = None
    answer: str | None = None
    refused: bool | None = None
    correct: bool | None = None
    cited_support: bool | None = None
    confidence: float | None = None
    timings: dict[str, float] = field(default_factory=dict)


def load_set(folder: Path) -> tuple[Path, list[dict]]:
    articles = folder / "articles.jsonl"
    questions = folder / "questions.jsonl"
    for p in (articles, questions):
        if not p.is_file():
            from .errors import QAError

            raise QAError(f"{p} is missing: a dataset folder holds articles.jsonl and "
                          "questions.jsonl")
    rows = [json.loads(line) for line in questions.read_text().splitlines() if line.strip()]
    return articles, rows


def _pick_choice(choices: list[str], passages) -> str | None:
    """Multiple-choice without the LLM: the choice the retrieved passages mention most,
    earlier passages weighing more."""
    if not choices:
        return None
    best, best_score = None, 0.0
    for c in choices:
        score = sum(1.0 / (rank + 1) for rank, p in enumerate(passages)
                    if contains_gold(p.text, [c]))
        if score > best_score:
            best, best_score = c, score
    return best


def run(
    folder: Path,
    *,
    settings: Settings,
    k: int,
    retrieval: str,
    retrieval_only: bool,
    choices: bool,
    limit: int | None,
    out_dir: Path,
    progress=None,
    use_dates: bool = True,
) -> tuple[list[QuestionResult], dict]:
    from .kb import KnowledgeBase

    articles, rows = load_set(folder)
    if limit:
        rows = rows[:limit]
    digest = hashlib.sha256(folder.resolve().as_posix().encode()).hexdigest()[:8]
    store_dir = settings.data_dir / "eval" / f"{folder.name}-{digest}"
    eval_settings = settings.with_(data_dir=store_dir, seed_corpus=False, chroma_url=None,
                                   collection="eval", retrieval=retrieval, top_k=k)
    kb = KnowledgeBase(eval_settings)
    t0 = time.perf_counter()
    report = kb.add(articles, progress=progress)
    index_s = time.perf_counter() - t0
    depth = max(max(RECALL_KS), k)
    results: list[QuestionResult] = []
    for i, row in enumerate(rows):
        question = row["question"]
        asked = question
        if choices and row.get("choices"):
            asked = f"{question} Choices: {'; '.join(row['choices'])}."
        as_of = (row.get("date") or None) if use_dates else None
        t = time.perf_counter()
        passages = kb.retrieve(question, depth, as_of=as_of)
        retrieve_s = time.perf_counter() - t
        rank = next((n for n, p in enumerate(passages, 1) if contains_gold(p.text, row["answers"])),
                    None)
        r = QuestionResult(
            id=row["id"], question=question, answers=row["answers"],
            answerable=bool(row.get("answerable")), qtype=question_type(question),
            first_hit_rank=rank, timings={"retrieve": retrieve_s},
        )
        if row.get("choices"):
            r.choice = _pick_choice(row["choices"], passages[:k])
            r.choice_correct = r.choice is not None and contains_gold(r.choice, row["answers"])
        if not retrieval_only:
            answer = kb.ask(asked, as_of=as_of)
            r.answer = answer.text
            r.refused = answer.refused
            r.correct = (not answer.refused) and contains_gold(answer.text, row["answers"])
            r.cited_support = (not answer.refused) and any(
                contains_gold(c.passage.text, row["answers"]) for c in answer.citations)
            r.confidence = answer.confidence
            r.timings.update(answer.timings)
        results.append(r)
        if progress:
            progress(i + 1, len(rows))
    meta = {
        "dataset": folder.name, "questions": len(rows), "articles_added": report.count("added"),
        "articles_unchanged": report.count("unchanged"), "index_seconds": round(index_s, 1),
        "chunks": kb.store.count_chunks(), "k": k, "retrieval": retrieval,
        "llm": None if retrieval_only else settings.llm, "choices": choices,
        "chunk_size": settings.chunk_size, "as_of_question_date": use_dates,
    }
    return results, meta


def summarize(results: list[QuestionResult], meta: dict) -> dict:
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    s: dict = {"meta": meta, "answerable": len(answerable), "unanswerable": len(unanswerable)}
    s["recall"] = {
        f"@{n}": sum(1 for r in answerable if r.first_hit_rank and r.first_hit_rank <= n)
        / max(1, len(answerable))
        for n in RECALL_KS
    }
    s["mrr@10"] = sum(1 / r.first_hit_rank for r in answerable
                      if r.first_hit_rank and r.first_hit_rank <= 10) / max(1, len(answerable))
    with_choices = [r for r in answerable if r.choice_correct is not None]
    if with_choices:
        hits = sum(1 for r in with_choices if r.choice_correct)
        s["choice_accuracy"] = hits / len(with_choices)
        s["choice_ci95"] = wilson(hits, len(with_choices))
    answered = [r for r in results if r.correct is not None]
    if answered:
        correct = sum(1 for r in answerable if r.correct)
        s["accuracy"] = correct / max(1, len(answerable))
        s["accuracy_ci95"] = wilson(correct, len(answerable))
        s["false_refusal_rate"] = sum(1 for r in answerable if r.refused) / max(1, len(answerable))
        s["refusal_rate_unanswerable"] = (
            sum(1 for r in unanswerable if r.refused) / len(unanswerable) if unanswerable else None
        )
        not_refused = [r for r in answerable if r.refused is False]
        s["citation_support_rate"] = (
            sum(1 for r in not_refused if r.cited_support) / len(not_refused)
            if not_refused else None
        )
        by_type: dict[str, list[bool]] = defaultdict(list)
        for r in answerable:
            by_type[r.qtype].append(bool(r.correct))
        s["accuracy_by_type"] = {t: (sum(v) / len(v), len(v)) for t, v in sorted(by_type.items())}
    stages = Counter(key for r in results for key in r.timings)
    s["latency"] = {}
    for stage in stages:
        values = sorted(r.timings[stage] for r in results if stage in r.timings)
        s["latency"][stage] = {
            "p50": statistics.median(values),
            "p95": values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))],
        }
    return s


def _plots(results: list[QuestionResult], summary: dict, out_dir: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    ks = list(RECALL_KS)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(ks, [summary["recall"][f"@{n}"] for n in ks], marker="o")
    ax.set_xlabel("k (passages)")
    ax.set_ylabel("recall@k (answerable)")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.set_title("Retrieval recall")
    fig.tight_layout()
    fig.savefig(out_dir / "recall_at_k.png", dpi=110)
    plt.close(fig)
    files.append("recall_at_k.png")

    fig, ax = plt.subplots(figsize=(5, 3.2))
    stage = "total" if any("total" in r.timings for r in results) else "retrieve"
    ax.hist([r.timings[stage] for r in results if stage in r.timings], bins=20)
    ax.set_xlabel(f"{stage} latency (s)")
    ax.set_ylabel("questions")
    ax.set_title("Latency")
    fig.tight_layout()
    fig.savefig(out_dir / "latency.png", dpi=110)
    plt.close(fig)
    files.append("latency.png")

    if "accuracy_by_type" in summary:
        types = list(summary["accuracy_by_type"])
        fig, ax = plt.subplots(figsize=(5, 3.2))
        ax.bar(types, [summary["accuracy_by_type"][t][0] for t in types])
        ax.set_ylim(0, 1)
        ax.set_ylabel("accuracy")
        ax.set_title("Accuracy by question type")
        fig.tight_layout()
        fig.savefig(out_dir / "accuracy_by_type.png", dpi=110)
        plt.close(fig)
        files.append("accuracy_by_type.png")
    return files


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.1f} %"


def write_report(results: list[QuestionResult], summary: dict, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "results.jsonl", "w") as fh:
        for r in results:
            fh.write(json.dumps(asdict(r), ensure_ascii=False) + "\n")
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    plots = _plots(results, summary, out_dir)
    m = summary["meta"]
    lines = [
        f"# Evaluation: {m['dataset']}",
        "",
        f"{m['questions']} questions ({summary['answerable']} answerable), {m['chunks']} chunks, "
        f"retrieval `{m['retrieval']}`"
        f"{' as of each question date' if m.get('as_of_question_date') else ''}, k={m['k']}, "
        f"chunk size {m['chunk_size']}, "
        f"generator `{m['llm'] or 'none (retrieval only)'}`.",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    for n in RECALL_KS:
        lines.append(f"| recall@{n} | {_pct(summary['recall'][f'@{n}'])} |")
    lines.append(f"| MRR@10 | {summary['mrr@10']:.3f} |")
    if "choice_accuracy" in summary:
        lo, hi = summary["choice_ci95"]
        lines.append(f"| multiple choice from passages (no LLM) | "
                     f"{_pct(summary['choice_accuracy'])} (95 % CI {_pct(lo)}–{_pct(hi)}) |")
    if "accuracy" in summary:
        lo, hi = summary["accuracy_ci95"]
        lines += [
            f"| answer accuracy (answerable) | {_pct(summary['accuracy'])} "
            f"(95 % CI {_pct(lo)}–{_pct(hi)}) |",
            f"| false refusals (answerable) | {_pct(summary['false_refusal_rate'])} |",
            f"| refusals (unanswerable) | {_pct(summary['refusal_rate_unanswerable'])} |",
            f"| citation support | {_pct(summary['citation_support_rate'])} |",
        ]
    for stage, v in summary["latency"].items():
        lines.append(f"| latency {stage} p50 / p95 | {v['p50']:.2f} s / {v['p95']:.2f} s |")
    lines += ["", *[f"![{p}]({p})" for p in plots], ""]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines))
    return path

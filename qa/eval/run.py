"""`qa eval`: score retrieval and answers on news-quiz sets, through the path users use.

This module runs a set and scores it (``run``, ``summarize``); ``qa.eval.report`` writes
the results, the summary and the Markdown report with its plots.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from qa.answer.citations import without_markers
from qa.config import PROJECT_ROOT, Settings

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from qa.kb import KnowledgeBase

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans({c: " " for c in string.punctuation + "‘’“”—–"})
RECALL_KS = (1, 3, 5, 10, 20)
AUDIT_DIR = PROJECT_ROOT / "eval" / "audits"
# Verdicts of a hand audit on the set's "answerable" label (see load_audit).
UNSUPPORTED = ("off-topic-only", "not-in-set", "true-false", "except", "paraphrased")
AFTER_QUESTION = "after-question"


def normalize(text: str) -> str:
    text = text.lower().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def contains_gold(text: str, answers: list[str]) -> bool:
    norm = f" {normalize(text)} "
    return any(f" {normalize(a)} " in norm for a in answers if normalize(a))


def partly_gold(text: str, answers: list[str]) -> bool:
    """At least half of some gold answer's words occur in the text: a looser, secondary score
    that forgives "Joe Biden" for "President Joe Biden" or "Bay Area" for "San Francisco Bay
    Area", which the strict rule counts wrong."""
    have = set(normalize(text).split())
    for a in answers:
        words = normalize(a).split()
        if words and sum(w in have for w in words) * 2 >= len(words):
            return True
    return False


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
    kind: str | None = None
    """How the answer was made: generated (quote-checked) or refusal."""
    raw: str | None = None
    """The model's own text before checking."""
    answer_logprobs: list[float] | None = None
    """Log-probabilities of the model's answer tokens (``Answer.answer_logprobs``)."""
    refused: bool | None = None
    correct: bool | None = None
    partly_correct: bool | None = None
    """Half of a gold answer's words are in the answer (see ``partly_gold``)."""
    cited_support: bool | None = None
    confidence: float | None = None
    timings: dict[str, float] = field(default_factory=dict)
    supported: bool | None = None
    """Answerable by the audit too (None: the set has no audit)."""
    quote_exact: bool | None = None
    """Every citation's quote is the article's text at its offsets and lies in its passage."""
    answered_from: str | None = None
    """Publication date of the cited article (for the recency measurements)."""
    key_points: list[list[str]] | None = None
    """An open question's key points, each a list of acceptable wordings (open sets)."""
    covered: list[bool] | None = None
    """Which key points the answer covers (any wording occurs in it)."""
    shape: str | None = None
    """"fact" or "open": which answer path answered."""
    sentences: list[dict] | None = None
    """Every sentence the model wrote, shown or removed, with what it cites (open answers):
    what a hand audit reads."""
    refused_by: str | None = None
    """The check that refused the answer (``qa.answer.checks``); None: answered, or refused
    where no named check decides (an open answer)."""
    refusal_reason: str | None = None
    checks: list[dict] | None = None
    """Each check's verdict (``CheckVerdict.to_dict``), in the table's order; on a refusal
    those after the refusing one are marked "after" (``qa.eval.loo`` reads them)."""
    would_answer: str | None = None
    """A refused short answer: what it would have shown with its failed checks off
    (``Answer.would_answer``); scored by ``qa.eval.loo``, never shown."""
    earlier_refused_by: list[str] | None = None
    """The check that refused each earlier draft (``Answer.earlier_refused_by``)."""
    signals: dict[str, float] | None = None
    """The candidate's soft signals (``Answer.signals``): what ``qa.eval.calibrate`` fits on."""
    calibrated: float | None = None

    @property
    def wrong_shown(self) -> bool:
        """An answer was shown and it is wrong: what costs a reader most."""
        return self.refused is False and not self.correct


def store_settings(folder: Path, settings: Settings) -> Settings:
    """Settings of the set's own embedded store, under ``<data_dir>/eval/``, kept between runs
    so a rerun on unchanged articles embeds nothing."""
    digest = hashlib.sha256(folder.resolve().as_posix().encode()).hexdigest()[:8]
    return settings.with_(data_dir=settings.data_dir / "eval" / f"{folder.name}-{digest}",
                          seed_corpus=False, chroma_url=None, collection="eval")


def load_set(folder: Path) -> tuple[Path, list[dict]]:
    articles = folder / "articles.jsonl"
    questions = folder / "questions.jsonl"
    for p in (articles, questions):
        if not p.is_file():
            from qa.errors import QAError

            raise QAError(f"{p} is missing: a dataset folder holds articles.jsonl and "
                          "questions.jsonl")
    rows = [json.loads(line) for line in questions.read_text().splitlines() if line.strip()]
    return articles, rows


def load_audit(folder: Path, path: Path | None = None) -> dict[str, dict]:
    """Hand-checked verdicts on the questions a set labels answerable, by question id.

    The sets call a question answerable when a gold string occurs anywhere in its articles,
    and many of those occurrences are accidents ("TRUE", "Rabbit" in an unrelated story, a
    2022 figure that happens to match). Retrieval cannot find an answer that no on-topic
    article gives, so recall is also reported on the questions the audit found supported: every
    answerable question not listed in the audit. Looked up at ``path``, else
    ``DATASET/audit.jsonl``, else ``audits/<set name>.jsonl`` beside the set (this project's
    ``eval/audits/``).
    """
    from qa.errors import QAError

    if path is not None and not path.is_file():
        raise QAError(f"audit file {path} not found")
    for candidate in ([path] if path else [folder / "audit.jsonl",
                                           folder.parent / "audits" / f"{folder.name}.jsonl",
                                           AUDIT_DIR / f"{folder.name}.jsonl"]):
        if candidate.is_file():
            rows = [json.loads(line) for line in candidate.read_text().splitlines()
                    if line.strip()]
            bad = [r for r in rows if r.get("verdict") not in (*UNSUPPORTED, AFTER_QUESTION)]
            if bad:
                raise QAError(f"{candidate}: unknown verdict in {bad[0]}")
            return {r["id"]: r for r in rows}
    return {}


def is_supported(row: dict, audit: dict[str, dict], as_of_dates: bool) -> bool:
    if not row.get("answerable"):
        return False
    verdict = audit.get(row["id"], {}).get("verdict")
    if verdict == AFTER_QUESTION:
        return not as_of_dates  # its only on-topic articles were published after it was asked
    return verdict is None


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
    audit_path: Path | None = None,
    llm: BaseChatModel | None = None,
) -> tuple[list[QuestionResult], dict]:
    """Index the set's articles into its own store, then retrieve (and, unless
    ``retrieval_only``, answer) every question as of its date. ``llm``: the chat model that
    answers (default: the one ``settings.llm`` names)."""
    from qa.kb import KnowledgeBase

    articles, rows = load_set(folder)
    audit = load_audit(folder, audit_path)
    _check_audit(audit, rows)
    if limit:
        rows = rows[:limit]
    # The set's articles are one trusted JSONL file, often over the size limit meant for a
    # reader's upload (realtimeqa-2024 is 23 MB): lift the limit for it alone.
    size_mb = articles.stat().st_size / 1e6
    kb = KnowledgeBase(store_settings(folder, settings).with_(
        retrieval=retrieval, top_k=k, max_file_mb=max(settings.max_file_mb, size_mb + 1)),
        llm=llm)
    t0 = time.perf_counter()
    report = kb.add(articles, progress=progress)
    index_s = time.perf_counter() - t0
    if report.failed and len(report.failed) == len(report.outcomes):
        from qa.errors import QAError

        bad = report.failed[0]
        raise QAError(f"{articles}: the set's articles were not indexed ({bad.error}); "
                      "nothing was scored")
    results: list[QuestionResult] = []
    for i, row in enumerate(rows):
        as_of = (row.get("date") or None) if use_dates else None
        r = _retrieve(kb, row, k, as_of, audit, use_dates)
        if not retrieval_only:
            asked = row["question"]
            if choices and row.get("choices"):
                asked = f"{asked} Choices: {'; '.join(row['choices'])}."
            _answer(kb, r, asked, as_of)
        results.append(r)
        if progress:
            progress(i + 1, len(rows))
    meta = {
        "dataset": folder.name, "questions": len(rows), "articles_added": report.count("added"),
        "articles_unchanged": report.count("unchanged"),
        "articles_failed": report.count("failed"), "index_seconds": round(index_s, 1),
        "chunks": kb.store.count_chunks(), "k": k, "retrieval": retrieval,
        "llm": None if retrieval_only else settings.llm, "choices": choices,
        "chunk_size": settings.chunk_size, "as_of_question_date": use_dates,
        "audited": bool(audit),
    }
    return results, meta


def _check_audit(audit: dict[str, dict], rows: list[dict]) -> None:
    unknown = sorted(set(audit) - {row["id"] for row in rows})
    if unknown:
        from qa.errors import QAError

        raise QAError(f"the audit names questions the set does not have: {', '.join(unknown)}")


def _retrieve(kb: KnowledgeBase, row: dict, k: int, as_of: str | None,
              audit: dict[str, dict], use_dates: bool) -> QuestionResult:
    """One question's retrieval scores (and its multiple-choice pick from the passages)."""
    question = row["question"]
    t = time.perf_counter()
    passages = kb.retrieve(question, max(max(RECALL_KS), k), as_of=as_of)
    retrieve_s = time.perf_counter() - t
    rank = next((n for n, p in enumerate(passages, 1) if contains_gold(p.text, row["answers"])),
                None)
    r = QuestionResult(
        id=row["id"], question=question, answers=row["answers"],
        answerable=bool(row.get("answerable")), qtype=question_type(question),
        first_hit_rank=rank, timings={"retrieve": retrieve_s},
        supported=is_supported(row, audit, use_dates) if audit else None,
        key_points=row.get("key_points") if "key_points" in row else None,
    )
    if row.get("choices"):
        r.choice = _pick_choice(row["choices"], passages[:k])
        r.choice_correct = r.choice is not None and contains_gold(r.choice, row["answers"])
    return r


def _answer(kb: KnowledgeBase, r: QuestionResult, asked: str, as_of: str | None) -> None:
    """Ask through ``kb.ask`` and score the answer into ``r``."""
    answer = kb.ask(asked, as_of=as_of)
    r.answer = answer.text
    r.kind, r.raw = answer.kind, answer.raw
    r.answer_logprobs = [round(x, 4) for x in answer.answer_logprobs]
    r.refused = answer.refused
    r.correct = (not answer.refused) and contains_gold(answer.text, r.answers)
    r.partly_correct = (not answer.refused) and partly_gold(answer.text, r.answers)
    r.cited_support = (not answer.refused) and any(
        contains_gold(c.passage.text, r.answers) for c in answer.citations)
    r.confidence = answer.confidence
    r.timings.update(answer.timings)
    r.shape = answer.shape
    r.refused_by, r.refusal_reason = answer.refused_by, answer.refusal_reason
    r.checks = [v.to_dict() for v in answer.checks]
    r.would_answer = answer.would_answer
    r.earlier_refused_by = list(answer.earlier_refused_by)
    r.signals = None if answer.signals is None else {
        k: round(v, 5) for k, v in answer.signals.items()}
    r.calibrated = answer.calibrated
    if answer.shape == "open":
        r.sentences = [{"text": s.text, "shown": s.supported, "reason": s.reason,
                        "quoted": s.quoted,
                        "cited": [{"n": c.n, "title": c.passage.title, "quote": c.quote}
                                  for c in s.citations]} for s in answer.sentences]
    if r.key_points is not None:
        shown = "" if answer.refused else without_markers(answer.text)  # "[8]" is not "8%"
        r.covered = [contains_gold(shown, wordings) for wordings in r.key_points]
    if answer.citations:
        r.quote_exact = all(
            kb.article_text(c.passage.doc_id)[c.start:c.end] == c.quote
            and c.quote in c.passage.text for c in answer.citations)
        r.answered_from = answer.citations[0].passage.published
def _retrieval_scores(rows: list[QuestionResult]) -> dict:
    n = max(1, len(rows))
    return {
        "recall": {f"@{k}": sum(1 for r in rows if r.first_hit_rank and r.first_hit_rank <= k) / n
                   for k in RECALL_KS},
        "mrr@10": sum(1 / r.first_hit_rank for r in rows
                      if r.first_hit_rank and r.first_hit_rank <= 10) / n,
    }


def _answer_scores(rows: list[QuestionResult]) -> dict:
    correct = sum(1 for r in rows if r.correct)
    return {
        "accuracy": correct / max(1, len(rows)),
        "accuracy_ci95": wilson(correct, len(rows)),
        "partial_accuracy": sum(1 for r in rows if r.partly_correct) / max(1, len(rows)),
        "false_refusal_rate": sum(1 for r in rows if r.refused) / max(1, len(rows)),
    }


def _open_scores(rows: list[QuestionResult]) -> dict:
    """An open set's scores: answered, key points covered, sentences shown and removed."""
    answerable = [r for r in rows if r.answerable]
    unanswerable = [r for r in rows if not r.answerable]
    answered = [r for r in answerable if not r.refused]
    points = sum(len(r.key_points or []) for r in answerable)
    covered = sum(sum(r.covered or []) for r in answerable)
    points_answered = sum(len(r.key_points or []) for r in answered)
    covered_answered = sum(sum(r.covered or []) for r in answered)
    sentences = [s for r in rows if not r.refused for s in (r.sentences or [])]
    return {
        "answerable": len(answerable),
        "answered": len(answered),
        "answered_rate": len(answered) / max(1, len(answerable)),
        "key_points": points,
        "key_points_covered": covered,
        "key_point_coverage": covered / max(1, points),
        "key_point_coverage_answered": covered_answered / max(1, points_answered),
        "unanswerable": len(unanswerable),
        "unanswerable_refused": sum(1 for r in unanswerable if r.refused),
        "sentences_shown": sum(1 for s in sentences if s["shown"]),
        "sentences_removed": sum(1 for s in sentences if not s["shown"]),
        "open_path": sum(1 for r in rows if r.shape == "open"),
    }


OTHER_REFUSAL = "(no named check)"
"""The key under which ``refusals_by_check`` counts refusals no named check made (an open
answer with no sentence that passed)."""


def refusals_by_check(rows: list[QuestionResult]) -> dict[str, int]:
    """How many questions each check refused, in the table's order (``qa.answer.checks``),
    with every check listed (0 included) and refusals no check made last."""
    from qa.answer.checks import CHECK_NAMES

    counts = Counter(r.refused_by or OTHER_REFUSAL for r in rows if r.refused)
    out = {name: counts.get(name, 0) for name in CHECK_NAMES}
    if counts.get(OTHER_REFUSAL):
        out[OTHER_REFUSAL] = counts[OTHER_REFUSAL]
    return out


def summarize(results: list[QuestionResult], meta: dict) -> dict:
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    s: dict = {"meta": meta, "answerable": len(answerable), "unanswerable": len(unanswerable)}
    s.update(_retrieval_scores(answerable))
    audited = any(r.supported is not None for r in results)
    supported = [r for r in results if r.supported]
    if audited:
        scores = _retrieval_scores(supported)
        s["supported"] = len(supported)
        s["recall_supported"], s["mrr@10_supported"] = scores["recall"], scores["mrr@10"]
    with_choices = [r for r in answerable if r.choice_correct is not None]
    if with_choices:
        hits = sum(1 for r in with_choices if r.choice_correct)
        s["choice_accuracy"] = hits / len(with_choices)
        s["choice_ci95"] = wilson(hits, len(with_choices))
    answered = [r for r in results if r.correct is not None]
    if answered:
        s.update(_answer_scores(answerable))
        if audited:
            s.update({f"{key}_supported": v for key, v in _answer_scores(supported).items()})
        s["wrong_shown_rate"] = sum(1 for r in answered if r.wrong_shown) / len(answered)
        s["wrong_shown"] = sum(1 for r in answered if r.wrong_shown)
        s["questions_answered"] = len(answered)
        quoted = [r for r in answered if r.quote_exact is not None]
        s["quote_exactness"] = (sum(1 for r in quoted if r.quote_exact) / len(quoted)
                                if quoted else None)
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
        s["refusals_by_check"] = refusals_by_check(answered)
        from qa.eval.loo import leave_one_out

        s["leave_one_out"] = leave_one_out(answered)
    keyed = [r for r in results if r.key_points is not None and r.refused is not None]
    if keyed:
        s["open"] = _open_scores(keyed)
    stages = Counter(key for r in results for key in r.timings)
    s["latency"] = {}
    for stage in stages:
        values = sorted(r.timings[stage] for r in results if stage in r.timings)
        s["latency"][stage] = {
            "p50": statistics.median(values),
            "p95": values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))],
        }
    return s

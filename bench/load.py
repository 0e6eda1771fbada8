"""Load test of the web app: N concurrent users x M questions through its /ask API.

Starts ``app.py`` itself on a free 127.0.0.1 port with a fresh temp data folder (seeded with
the shipped article), runs the users as threads, each with its own ``gradio_client.Client``
asking its questions one after another, then stops the app. Bounded: at most
users x questions requests, each waits at most --timeout s, and the whole run stops at
--deadline s (requests not started by then count as "not run"). Reports errors (must be 0),
wrong answers, latency p50/p95/p99 and throughput, and writes them to bench/out/.

    .venv/bin/python bench/load.py                          # 20 users x 10, QA_LLM=fake
    .venv/bin/python bench/load.py --llm embedded --users 4 --questions 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
OUT = ROOT / "bench" / "out"

from conftest import running_app  # noqa: E402

# (question, text the answer must contain; None = must be refused)
QUESTIONS = [
    ("How much did South Korea spend to renovate the liaison office?", "9.78 billion"),
    ("When was the inter-Korean liaison office established?", "2018"),
    ("What did KCNA say happened to the liaison office?", "explosion"),
    ("How much did the won weaken against the dollar?", "0.7%"),
    ("Who won the 2018 World Cup?", None),
]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    s = sorted(values)
    rank = max(1, min(len(s), round(q / 100 * len(s) + 0.5)))
    return s[rank - 1]


def run(users: int, per_user: int, llm: str, deadline_s: float, timeout_s: float) -> dict:
    import gradio_client

    results: list[dict] = []
    lock = threading.Lock()
    with tempfile.TemporaryDirectory(prefix="newsqa-load-") as tmp:
        t_start = time.monotonic()
        with running_app(Path(tmp) / "data", QA_LLM=llm) as url:
            startup = time.monotonic() - t_start
            # warm up: loads the model (embedded) and builds the keyword index
            warm = gradio_client.Client(url, verbose=False)
            t0 = time.monotonic()
            warm.predict(QUESTIONS[0][0], None, 0, api_name="/ask")
            warmup = time.monotonic() - t0
            stop_at = time.monotonic() + deadline_s

            def user(u: int) -> None:
                client = gradio_client.Client(url, verbose=False)
                for i in range(per_user):
                    question, expect = QUESTIONS[(u + i) % len(QUESTIONS)]
                    rec = {"user": u, "i": i, "question": question, "ok": False}
                    if time.monotonic() >= stop_at:
                        rec["error"] = "not run (deadline)"
                    else:
                        t = time.perf_counter()
                        try:
                            job = client.submit(question, None, 0, api_name="/ask")
                            answer = job.result(timeout=min(timeout_s,
                                                            stop_at - time.monotonic() + 1))
                            rec["latency_s"] = time.perf_counter() - t
                            rec["ok"] = True
                            rec["refused"] = answer["refused"]
                            rec["right"] = (answer["refused"] if expect is None else
                                            not answer["refused"] and expect in answer["answer"])
                        except Exception as exc:  # noqa: BLE001 (every failure is counted)
                            rec["latency_s"] = time.perf_counter() - t
                            rec["error"] = f"{type(exc).__name__}: {exc}"[:300]
                    with lock:
                        results.append(rec)

            t0 = time.monotonic()
            threads = [threading.Thread(target=user, args=(u,), daemon=True)
                       for u in range(users)]
            for th in threads:
                th.start()
            for th in threads:
                th.join(max(0.0, stop_at - time.monotonic()) + timeout_s + 5)
            wall = time.monotonic() - t0

    done = [r for r in results if r["ok"]]
    lat = [r["latency_s"] for r in done]
    errors = [r for r in results if not r["ok"]]
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "llm": llm,
        "users": users,
        "questions_per_user": per_user,
        "requests": users * per_user,
        "completed": len(done),
        "errors": len(errors) + (users * per_user - len(results)),
        "error_samples": sorted({r["error"] for r in errors})[:5],
        "wrong": sum(1 for r in done if not r["right"]),
        "refused": sum(1 for r in done if r["refused"]),
        "app_startup_s": round(startup, 1),
        "warmup_s": round(warmup, 2),
        "wall_s": round(wall, 2),
        "throughput_rps": round(len(done) / wall, 2) if wall else 0.0,
        "latency_s": {
            "p50": round(percentile(lat, 50), 3),
            "p95": round(percentile(lat, 95), 3),
            "p99": round(percentile(lat, 99), 3),
            "mean": round(statistics.fmean(lat), 3),
            "max": round(max(lat), 3),
        } if lat else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--questions", type=int, default=10, help="questions per user")
    ap.add_argument("--llm", default=os.environ.get("QA_LLM", "fake"),
                    help="QA_LLM for the app (default: fake)")
    ap.add_argument("--deadline", type=float, default=600.0,
                    help="seconds after which no new request starts")
    ap.add_argument("--timeout", type=float, default=180.0, help="seconds per request")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    if not (1 <= args.users <= 100 and 1 <= args.questions <= 100):
        ap.error("users and questions must be between 1 and 100")
    report = run(args.users, args.questions, args.llm, args.deadline, args.timeout)
    out = args.out or OUT / f"load-{args.llm.replace(':', '-')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())

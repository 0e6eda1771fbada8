"""Cold `qa` commands without a running app (issue 27): each run a fresh process, as a script,
a cron job or a quick question from the terminal runs them.

    .venv/bin/python bench/cold_cli.py [--runs 3] [--llm embedded] [--no-ask] [--before SRC]

The store holds the shipped article only (``QA_SEED_CORPUS=1``, a fresh folder, seeded by one
uncounted command). Each round runs, in this order: ``python -c "import qa"`` (the baseline:
the interpreter and the package, what no command can go below), ``qa --local list``,
``qa --local search QUESTION -k 3 --json`` and ``qa --local ask QUESTION`` (stderr on a
pseudo-terminal, as in a shell, so the first model token is seen when it is printed; the
complete time is the process's). A load spike hits every command of a round alike.

Then the same ``qa ask`` without ``--local``, as a shell runs it: the first call starts the
background worker (qa/worker.py) and is counted apart; the next ``--runs`` calls read through
it, each a fresh ``qa`` process asking another question of the article (``--no-worker`` skips
this).

Then, once, where the time of a cold ``qa ask`` goes, measured inside one fresh process:
imports and opening the store, the embedder, retrieval, loading the model (llama.cpp maps the
GGUF), the prompt's prefill (to the first token) and the rest of the answer.

Printed: median (min) seconds of the counted rounds, each as a multiple of the baseline, the
median CPU seconds (user + system) of each command, which other jobs on a shared machine change
much less than its wall time (a command that runs on one core takes about its CPU time on a
quiet machine; the model's prefill runs on two), and the load average. The issue's goals, quiet
2-core machine: list <= 1 s, search <= 2 s, ask first token <= 4 s and complete <= 8 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli_latency import PY, QA, ROOT, SEARCH, timed, timed_ask  # noqa: E402

PHASES = r"""
import json, sys, time
t0 = time.perf_counter()
marks = {}
def mark(name):
    marks[name] = time.perf_counter() - t0
from qa.config import Settings, offline_environment
offline_environment()
from qa.kb import open_kb
from qa.types import TokenEvent
kb = open_kb(settings=Settings.from_env())
mark("imports and store")
kb.embeddings.encode(["warm"])
mark("embedder")
kb.retrieve(sys.argv[1], 5)
mark("first retrieval")
from qa.llm.backends import get_chat_model
llama = getattr(get_chat_model(kb.settings), "llama", None)  # the Llama kb's model shares
mark("model load")
first = None
for event in kb.stream(sys.argv[1]):
    if first is None and isinstance(event, TokenEvent):
        first = time.perf_counter() - t0
end = time.perf_counter() - t0
marks["first token"] = first if first is not None else float("nan")
marks["complete"] = end
marks["prompt tokens"] = getattr(llama, "n_tokens", None)
print(json.dumps(marks))
"""


def cpu() -> float:
    """CPU seconds used so far by this script's finished children."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def med(xs: list[float]) -> float:
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else float("nan")


NEXT_QUESTIONS = (
    "When was the inter-Korean liaison office established?",
    "When did North Korea blow up the liaison office?",
    "Where was the liaison office?",
    "Who threatened to take action against the defectors' leaflet campaign?",
)
"""What the calls through the worker ask after the first: each a new question about the
article (the same question again would find its whole prompt cached and flatter the worker)."""


def with_worker(env: dict, n: int, runs: dict, cpus: dict) -> None:
    """``qa ask`` as a shell runs it: the first call starts the background worker, the next
    ``n`` read through it (each a fresh ``qa`` process); the worker is stopped at the end."""
    from qa.index.store import app_holding
    from qa.worker import stop

    env = {k: v for k, v in env.items() if k != "QA_NO_SERVER"} | {"QA_WORKER_IDLE_S": "900"}
    data = Path(env["QA_DATA_DIR"])
    try:
        for i in range(n + 1):
            key = "ask, starting the worker" if i == 0 else "ask through the worker"
            c = cpu()
            question = SEARCH if i == 0 else NEXT_QUESTIONS[(i - 1) % len(NEXT_QUESTIONS)]
            _, first, total = timed_ask([QA, "ask", question], env)
            runs.setdefault(f"{key}: first token", []).append(first)
            runs.setdefault(f"{key}: complete", []).append(total)
            cpus.setdefault(f"{key}: first token", [])
            cpus.setdefault(f"{key}: complete", []).append(cpu() - c)
        c = cpu()
        runs["search through the worker"] = [
            timed([QA, "search", SEARCH, "-k", "3", "--json"], env) for _ in range(n)]
        cpus["search through the worker"] = [(cpu() - c) / n]
    finally:
        pid = app_holding(data)
        if pid and pid.isdigit():
            stop(data, int(pid))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="counted rounds (default 3)")
    ap.add_argument("--llm", help="QA_LLM (default: the environment's, else the embedded model)")
    ap.add_argument("--no-ask", action="store_true", help="list and search only")
    ap.add_argument("--no-worker", action="store_true",
                    help="skip the calls through the background worker")
    ap.add_argument("--before", metavar="SRC", help="also run the commands of another newsqa "
                    "source tree (e.g. `git archive COMMIT | tar -x -C SRC`), interleaved, on "
                    "its own store: before / after in the same run")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="newsqa-cold-"))
    base_env = {k: v for k, v in os.environ.items()
                if k not in ("QA_CHROMA_URL", "QA_DATA_DIR", "PYTHONPATH")}
    base_env.update(QA_SEED_CORPUS="1", QA_NO_SERVER="1")
    if args.llm:
        base_env["QA_LLM"] = args.llm
    llm = base_env.get("QA_LLM", "embedded")
    sides = {"": {**base_env, "QA_DATA_DIR": str(tmp / "data"), "PYTHONPATH": str(ROOT)}}
    if args.before:
        sides["before: "] = {**base_env, "QA_DATA_DIR": str(tmp / "before"),
                             "PYTHONPATH": str(Path(args.before).resolve())}
    keys = ["import qa", "list", "search"] + ([] if args.no_ask else ["ask first token",
                                                                     "ask complete"])
    runs: dict[str, list[float]] = {f"{side}{k}": [] for side in sides for k in keys}
    cpus: dict[str, list[float]] = {k: [] for k in runs}
    phases = None

    def run(key: str, cmd: list[str], env: dict) -> None:
        c = cpu()
        runs[key].append(timed(cmd, env))
        cpus[key].append(cpu() - c)

    try:
        for env in sides.values():
            timed([QA, "--local", "list"], env)  # seeds the store: not counted
        for rnd in range(1, args.runs + 1):
            for side, env in sides.items():
                run(f"{side}import qa", [str(PY), "-c", "import qa"], env)
                run(f"{side}list", [QA, "--local", "list"], env)
                run(f"{side}search", [QA, "--local", "search", SEARCH, "-k", "3", "--json"],
                    env)
                if not args.no_ask:
                    c = cpu()
                    _, first, total = timed_ask([QA, "--local", "ask", SEARCH], env)
                    runs[f"{side}ask first token"].append(first)
                    runs[f"{side}ask complete"].append(total)
                    cpus[f"{side}ask complete"].append(cpu() - c)
            print(f"round {rnd}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in runs.items()),
                  file=sys.stderr, flush=True)
        if not args.no_ask and not args.no_worker:
            with_worker(sides[""], args.runs, runs, cpus)
        if not args.no_ask:
            out = subprocess.run([str(PY), "-c", PHASES, SEARCH], env=sides[""], cwd=ROOT,
                                 capture_output=True, text=True, timeout=900)
            if out.returncode == 0:
                phases = json.loads(out.stdout.strip().splitlines()[-1])
            else:
                print(f"phases failed:\n{out.stderr[-2000:]}", file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    base = med(runs["import qa"])
    load = os.getloadavg()
    print(f"\ncold `qa` commands (--local, a fresh process each), median (min) of {args.runs}, "
          f"QA_LLM={llm}, {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} "
          "(1 / 5 min) at the end\n")
    print("| command | cold, wall | x `import qa` | CPU (user + system) |")
    print("|---|---|---|---|")
    for key, xs in runs.items():
        m = med(xs)
        lo = min((x for x in xs if x == x), default=float("nan"))
        c = f"{med(cpus[key]):.2f} s" if cpus[key] else ""
        print(f"| {key} | {m:.2f} s ({lo:.2f}) | {m / base:.0f}x | {c} |")
    if phases:
        print("\nwhere a cold `qa ask` goes (one fresh process, seconds since it started):\n")
        prev = 0.0
        for name, at in phases.items():
            if name == "prompt tokens":
                continue
            print(f"- {name}: at {at:.2f} s (+{at - prev:.2f})")
            prev = at
        if phases.get("prompt tokens"):
            print(f"- tokens in the model's context at the end: {phases['prompt tokens']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Wall time of the `qa` command from the shell: cold (loads everything itself) against through a
running newsqa app (qa/app_link.py), interleaved, as a user types them.

    .venv/bin/python bench/cli_latency.py [--runs 5] [--llm fake] [--data-dir DIR]

The store holds the shipped article and the 197 articles of eval/realtimeqa-2023-mini (built
once in --data-dir, reused after). Each round runs every command once cold (``qa --local``)
and once through the app started by this script (``python app.py`` on a free port, the same
QA_LLM), so a load spike on a shared machine hits both sides alike; the first round of each is
a warm-up and not counted (file cache, the app's first model call). ``qa ask`` runs with its
stderr on a pseudo-terminal, as in a shell, so the first token is seen when it is printed.

Printed per command: median and min seconds, cold and via the app, and their ratio; plus a
baseline measured in the same run, ``python -c pass`` (the interpreter's start, what no
command can go below), with each median as a multiple of it, to compare runs on a machine
whose speed changes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pty
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = Path(sys.executable)
QA = str(PY.with_name("qa"))
QUESTIONS = (
    "How much did South Korea spend to renovate the liaison office?",
    "In which town was the inter-Korean liaison office?",
    "When was the liaison office established?",
    "Who is Kim Yo Jong?",
    "Which news agency reported the blast?",
    "What was the building's exterior made of?",
)
"""One per round, the same on both sides: the app keeps the last prompt in llama.cpp's cache,
so asking it the same question twice would measure a prompt it never has to read."""
SEARCH = "How much did Seoul spend on the building?"
LINK = ".app.json"


def timed(cmd: list[str], env: dict) -> float:
    t = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, timeout=900)
    took = time.perf_counter() - t
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr.decode()[-2000:]}")
    return took


def timed_ask(cmd: list[str], env: dict) -> tuple[float, float, float]:
    """(seconds to the instant preview, to the first model token, to the end) of ``qa ask``
    with stderr on a terminal: the preview is the first dim line, the first token comes right
    after the "…" line the command prints before it."""
    master, slave = pty.openpty()
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    seen = b""
    preview = first = float("nan")
    while True:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the command ended and closed the terminal
                break
            if not chunk:
                break
            now = time.perf_counter() - t
            seen += chunk
            if preview != preview and b"\n" in seen:
                preview = now
            if first != first and "…\x1b[0m\r\n".encode() in seen:
                rest = seen.split("…\x1b[0m\r\n".encode(), 1)[1]
                if rest:  # the first token itself has arrived
                    first = now
        elif proc.poll() is not None:
            break
    proc.wait(900)
    total = time.perf_counter() - t
    os.close(master)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {seen.decode(errors='replace')[-2000:]}")
    return preview, first, total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def app(env: dict, data: Path):
    port = free_port()
    log = open(data.parent / f"app-{port}.log", "w+")
    proc = subprocess.Popen([str(PY), "app.py"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**env, "QA_HOST": "127.0.0.1", "QA_PORT": str(port)})
    t = time.perf_counter()
    try:
        while not (data / LINK).exists() or json.loads((data / LINK).read_text())["pid"] != \
                proc.pid:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"app.py exited:\n{log.read()[-2000:]}")
            if time.perf_counter() - t > 600:
                raise RuntimeError("app.py wrote no link file within 600 s")
            time.sleep(0.2)
        yield time.perf_counter() - t
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(30)
        if proc.poll() is None:
            proc.kill()
        log.close()


def build_store(data: Path, env: dict) -> None:
    if (data / "chroma").is_dir():
        return
    print(f"building the store in {data} (once) …", file=sys.stderr, flush=True)
    for src in (ROOT / "corpus", ROOT / "eval" / "realtimeqa-2023-mini" / "articles.jsonl"):
        subprocess.run([QA, "--local", "add", str(src)], env=env, check=True,
                       stdout=subprocess.DEVNULL)


def med(xs: list[float]) -> float:
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="counted rounds (after one warm-up)")
    ap.add_argument("--llm", help="QA_LLM for both sides (default: the environment's, else "
                    "the embedded model)")
    ap.add_argument("--data-dir", help="store folder to build once and reuse")
    args = ap.parse_args()

    tmp = None
    if args.data_dir:
        data = Path(args.data_dir).resolve()
    else:
        tmp = Path(tempfile.mkdtemp(prefix="newsqa-cli-bench-"))
        data = tmp / "data"
    env = {k: v for k, v in os.environ.items()
           if k not in ("QA_CHROMA_URL", "QA_SEED_CORPUS", "QA_NO_SERVER")}
    env["QA_DATA_DIR"] = str(data)
    if args.llm:
        env["QA_LLM"] = args.llm
    llm = env.get("QA_LLM", "embedded")
    try:
        build_store(data, env)
        cold = {"list": [], "search": [], "ask_preview": [], "ask_first": [], "ask_total": []}
        warm = {k: [] for k in cold}
        base: list[float] = []
        with app(env, data) as started:
            print(f"app.py up (link file written) in {started:.1f} s", file=sys.stderr)
            for rnd in range(args.runs + 1):
                counted = rnd > 0
                b = timed([str(PY), "-c", "pass"], env)
                for side, flags, out in (("cold", ["--local"], cold), ("app", [], warm)):
                    t_list = timed([QA, *flags, "list"], env)
                    t_search = timed([QA, *flags, "search", SEARCH], env)
                    question = QUESTIONS[rnd % len(QUESTIONS)]
                    preview, first, total = timed_ask([QA, *flags, "ask", question], env)
                    if counted:
                        out["list"].append(t_list)
                        out["search"].append(t_search)
                        out["ask_preview"].append(preview)
                        out["ask_first"].append(first)
                        out["ask_total"].append(total)
                    print(f"round {rnd}{'' if counted else ' (warm-up)'} {side:4}: list "
                          f"{t_list:.2f} s, search {t_search:.2f} s, ask preview "
                          f"{preview:.2f} s, first token {first:.2f} s, total {total:.2f} s",
                          file=sys.stderr, flush=True)
                if counted:
                    base.append(b)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    b = med(base)
    load = os.getloadavg()
    print(f"\n`qa` from the shell, {args.runs} rounds (median, min), QA_LLM={llm}, "
          f"{os.cpu_count()} CPUs, load average {load[0]:.1f} at the end")
    print(f"baseline `python -c pass`: {b:.3f} s\n")
    print("| command | cold (--local) | through the app | app / cold | cold / baseline "
          "| app / baseline |")
    print("|---|---|---|---|---|---|")
    names = {"list": "qa list (never uses the app)", "search": "qa search",
             "ask_preview": "qa ask: preview", "ask_first": "qa ask: first token",
             "ask_total": "qa ask: complete"}
    for key, name in names.items():
        c, a = med(cold[key]), med(warm[key])
        cmin = min((x for x in cold[key] if x == x), default=float("nan"))
        amin = min((x for x in warm[key] if x == x), default=float("nan"))
        print(f"| {name} | {c:.2f} s ({cmin:.2f}) | {a:.2f} s ({amin:.2f}) | {a / c:.2f} "
              f"| {c / b:.0f}x | {a / b:.0f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

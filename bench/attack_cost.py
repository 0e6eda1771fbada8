"""What issue 14's attack list costs (the 21 attacks of tests/attacks.py, fake model), beside
a baseline measured in the same run.

Prints figures; it is not a test (tests/test_attacks.py checks that every attack holds and
asserts no time). The attacks are the same functions the test runs, imported from
tests/attacks.py. The baseline is what most of the attack list's time goes to, at its
smallest: open the web app's service on a copy of the seeded store and answer the renovation
question --answers times (default 5), one after another, with the fake model. It is measured
in each round right before the attack list, so a load spike on a shared machine stretches
both; the ratio (attack list / baseline) is the figure to compare across runs and machines,
the seconds only describe this run.

    .venv/bin/python bench/attack_cost.py                   # 1 round, baseline median of 3
    .venv/bin/python bench/attack_cost.py --rounds 3 --per-attack

Printed per round and as the median over rounds: wall seconds and CPU seconds (this process,
all threads; the read-only attack's `qa` subprocess is shown apart, as "children"), for the
attack list and the baseline, and their ratios; plus the load average and the cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

# the `qa` command the attacks run reads these (as tests/test_attacks.py sets them)
os.environ.update({"QA_LLM": "fake", "QA_SEED_CORPUS": "0", "QA_CHROMA_URL": ""})

from attacks import ATTACKS, RENOVATION_Q, Env, run_attacks  # noqa: E402
from conftest import build_seeded  # noqa: E402


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(fn) -> tuple[float, float, float, object]:
    """(wall s, CPU s of this process, CPU s of finished children, fn's result)."""
    from chromadb.api.client import SharedSystemClient

    wall, cpu, kids = time.perf_counter(), time.process_time(), children_cpu()
    result = fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    kids = children_cpu() - kids
    SharedSystemClient.clear_system_cache()  # as the tests' fixture does after each test
    return wall, cpu, kids, result


def fresh(seeded: Path, scratch: Path, name: str) -> tuple[Path, Path]:
    """A copy of the seeded store and an empty work folder."""
    data, work = scratch / name / "data", scratch / name / "work"
    shutil.copytree(seeded, data)
    work.mkdir()
    return data, work


def open_and_ask(data: Path, work: Path, answers: int) -> None:
    """The baseline: open the service (claiming the folder, as app.py does), then answer one
    question ``answers`` times."""
    env = Env(data, work)
    try:
        for _ in range(answers):
            assert env.service.ask(RENOVATION_Q).citations
    finally:
        env.service.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=1, help="rounds of baseline + attack list")
    ap.add_argument("--answers", type=int, default=5, help="answers in the baseline")
    ap.add_argument("--baseline-runs", type=int, default=3,
                    help="baseline runs per round (their median is the round's baseline)")
    ap.add_argument("--per-attack", action="store_true",
                    help="print each attack's wall seconds (last round)")
    args = ap.parse_args()

    print(f"python {platform.python_version()}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} at the start", flush=True)
    rows, bad = [], 0
    with tempfile.TemporaryDirectory(prefix="attack-cost-") as tmp:
        scratch = Path(tmp)
        t0 = time.perf_counter()
        seeded = build_seeded(scratch / "seeded" / "data")
        open_and_ask(*fresh(seeded, scratch, "warm-up"), 1)  # loads the embedder: not counted
        print(f"seeded store and warm-up {time.perf_counter() - t0:.1f} s (not counted)",
              flush=True)
        for rnd in range(1, args.rounds + 1):
            copies = [fresh(seeded, scratch, f"b{rnd}-{n}") for n in range(args.baseline_runs)]
            base = [measure(lambda c=c: open_and_ask(*c, args.answers)) for c in copies]
            b_wall = statistics.median(b[0] for b in base)
            b_cpu = statistics.median(b[1] for b in base)
            data, work = fresh(seeded, scratch, f"attacks{rnd}")
            wall, cpu, kids, results = measure(lambda d=data, w=work: run_attacks(d, w))
            failed = [r for r in results if not (r[1] == "held" or r[1].startswith("skipped"))]
            rows.append((wall, cpu, kids, b_wall, b_cpu))
            bad += len(failed)
            print(f"round {rnd}: attack list {wall:.1f} s wall, {cpu:.1f} s CPU (+{kids:.1f} s "
                  f"children); baseline {b_wall:.2f} s wall, {b_cpu:.2f} s CPU; "
                  f"{len(results) - len(failed)}/{len(ATTACKS)} held or skipped; load average "
                  f"{os.getloadavg()[0]:.1f}", flush=True)
            for what, outcome, _ in failed:
                print(f"  {what}: {outcome}")

    if args.per_attack:
        print("\n| # | attack | result | wall s |\n|---|---|---|---|")
        for n, (what, outcome, secs) in enumerate(results, start=1):
            print(f"| {n} | {what} | {outcome} | {secs:.1f} |")

    def med(i: int) -> float:
        return statistics.median(r[i] for r in rows)

    wall, cpu, kids, b_wall, b_cpu = (med(i) for i in range(5))
    print(f"\nthe attack list ({len(ATTACKS)} attacks, QA_LLM=fake), median of {args.rounds} "
          f"round(s); baseline: open the service + {args.answers} answers one after another, "
          f"median of {args.baseline_runs} per round\n")
    print("| | attack list | baseline | attack list / baseline |")
    print("|---|---|---|---|")
    print(f"| wall | {wall:.1f} s | {b_wall:.2f} s | {wall / b_wall:.1f} |")
    print(f"| CPU (this process) | {cpu:.1f} s | {b_cpu:.2f} s | {cpu / b_cpu:.1f} |")
    print(f"| CPU (children) | {kids:.1f} s | | |")
    print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end (the "
          "attack list's own 20 parallel questions count in it)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

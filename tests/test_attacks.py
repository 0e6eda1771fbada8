"""Issue 14's attack list, all 21 (tests/attacks.py), run in one test with the fake model.

They run against the web app's service layer and the ``qa`` command in this process, on one
store. ``pytest tests/test_attacks.py -s`` prints the table kept in docs/reliability.md. What
the list costs is measured, not asserted: bench/attack_cost.py. Slower, more literal
versions: tests/test_hardening.py (app.py and ``qa add`` as two processes), tests/test_kill.py
(real kill -9), tests/test_app_bad_input.py (raw multipart uploads).
"""

from __future__ import annotations

import shutil

from attacks import ATTACKS, run_attacks


def test_the_whole_attack_list_holds(seeded_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("QA_SEED_CORPUS", "0")
    monkeypatch.setenv("QA_LLM", "fake")
    data = tmp_path / "data"
    shutil.copytree(seeded_dir, data)
    work = tmp_path / "work"
    work.mkdir()
    results = run_attacks(data, work)
    with capsys.disabled():
        print("\n| # | attack | result |\n|---|---|---|")
        for n, (what, outcome, _) in enumerate(results, start=1):
            print(f"| {n} | {what} | {outcome} |")
    failed = [r[:2] for r in results if r[1].startswith("FAILED")]
    assert not failed, failed
    assert len(results) == len(ATTACKS) == 21

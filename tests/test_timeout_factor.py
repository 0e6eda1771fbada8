"""QA_TEST_TIMEOUT_FACTOR scales the hang detectors (tests/conftest.py): the helpers' waits
through ``scaled()``, and the per-test limit pytest-timeout enforces."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import pytest_timeout
from conftest import FACTOR_ENV, default_timeout, scaled, timeout_factor
from testdata import ROOT


def test_scaled_multiplies_by_the_factor(monkeypatch):
    monkeypatch.delenv(FACTOR_ENV, raising=False)
    assert timeout_factor() == 1 and scaled(30) == 30
    monkeypatch.setenv(FACTOR_ENV, "4")
    assert scaled(30) == 120 and scaled(5_000) == 20_000
    monkeypatch.setenv(FACTOR_ENV, "2.5")
    assert scaled(2) == 5
    for bad in ("0", "-1", "four", "inf", "nan"):
        monkeypatch.setenv(FACTOR_ENV, bad)
        with pytest.raises(ValueError, match=FACTOR_ENV):
            scaled(1)


def _limit(item) -> float:
    """The limit pytest-timeout puts on this test, found as pytest-timeout finds it."""
    return pytest_timeout._get_item_settings(item).timeout


@pytest.mark.timeout(1800)
def test_a_marked_limit_is_scaled(request):
    print(f"marked limit {_limit(request.node):g}")
    assert _limit(request.node) == scaled(1800)


def test_the_default_limit_is_scaled(request):
    print(f"default limit {_limit(request.node):g}")
    assert _limit(request.node) == scaled(default_timeout(request.config))


def test_the_factor_reaches_pytest_timeout():
    """The two tests above in a pytest of their own with the factor 3: the limits
    pytest-timeout reads are 3x. A factor that is not a positive number stops pytest before
    any test runs."""

    def pytest_run(factor: str) -> subprocess.CompletedProcess:
        env = {**os.environ, FACTOR_ENV: factor}
        env.pop("PYTEST_TIMEOUT", None)
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
             f"{__file__}::test_a_marked_limit_is_scaled",
             f"{__file__}::test_the_default_limit_is_scaled"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=scaled(300))

    out = pytest_run("3")
    assert out.returncode == 0 and "2 passed" in out.stdout, out.stdout + out.stderr
    # 1800 s from the marker, 900 s from pyproject.toml's `timeout`
    assert "marked limit 5400" in out.stdout and "default limit 2700" in out.stdout, out.stdout
    out = pytest_run("fast")
    assert out.returncode == pytest.ExitCode.USAGE_ERROR, out.stdout + out.stderr
    assert f"{FACTOR_ENV}='fast'" in out.stderr

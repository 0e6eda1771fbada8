"""The README's Python example runs as written."""

import re

import pytest

from qa.config import PROJECT_ROOT


@pytest.mark.slow
def test_readme_python_example_runs(tmp_path, monkeypatch):
    readme = (PROJECT_ROOT / "README.md").read_text()
    block = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    block = block.replace('"/tmp/newsqa-demo"', repr(str(tmp_path / "demo")))
    monkeypatch.chdir(PROJECT_ROOT)
    exec(compile(block, "README.md", "exec"), {})

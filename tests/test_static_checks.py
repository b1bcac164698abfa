"""ruff and mypy over selector/, with the rules in pyproject.toml, so CI keeps the code passing them.

Both come with the `test` extra; a test skips (with the reason) only where the tool is not installed.
The two "catches" tests prove the configuration is live: a seeded fault in a scratch file fails.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import selector

ROOT = Path(selector.__file__).resolve().parent.parent
CONFIG = ROOT / "pyproject.toml"


def need(tool: str) -> None:
    if importlib.util.find_spec(tool) is None:
        pytest.skip(f"{tool} is not installed in this environment (pip install -e '.[test]' brings it)")


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def test_ruff_passes_on_selector():
    need("ruff")
    result = run("ruff", "check", "--no-cache", "selector")
    assert result.returncode == 0, "ruff found problems:\n" + result.stdout + result.stderr


def test_ruff_config_catches_a_seeded_fault(tmp_path):
    need("ruff")
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n\n\ndef f(x=[]):\n    return x\n")
    result = run("ruff", "check", "--no-cache", "--config", str(CONFIG), str(bad), cwd=tmp_path)
    assert result.returncode == 1
    assert "F401" in result.stdout and "B006" in result.stdout


@pytest.mark.slow
def test_mypy_passes_on_selector():
    need("mypy")
    result = run("mypy", "--config-file", str(CONFIG))
    assert result.returncode == 0, "mypy found problems:\n" + result.stdout + result.stderr


def test_mypy_config_catches_a_seeded_fault(tmp_path):
    need("mypy")
    bad = tmp_path / "bad.py"
    bad.write_text("def half(x: int) -> int:\n    return x / 2\n")
    result = run("mypy", "--config-file", str(CONFIG), "--cache-dir", str(tmp_path / "cache"),
                 str(bad), cwd=tmp_path)
    assert result.returncode == 1
    assert "bad.py:2: error" in result.stdout

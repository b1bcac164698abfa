"""The framework's fixed memory cost on this machine, measured once and cached.

On CPU the fixed cost is the RSS of a Python process with torch, timm and transformers
imported (with one transformers model module: they load lazily) and one op run: everything a
probe or a user's script pays before the model. It is
measured in a fresh process (``measure_cpu_baseline``) and cached in ``cache_dir()`` per torch
version; until then the figure measured when this was written (``CPU_BASELINE_MIB``) is used.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from selector.core.paths import cache_dir

_CACHE_NAME = "cpu-baseline.json"
_CHILD = (
    "import torch, timm, transformers, psutil\n"
    "from transformers import BertForSequenceClassification\n"
    "(torch.ones(8, 8) @ torch.ones(8, 8)).sum().item()\n"
    "print(psutil.Process().memory_info().rss / 2**20, torch.__version__)\n"
)
_memo: dict[str, float] = {}
_key: list[str] = []


def _cache_path() -> Path:
    return cache_dir() / _CACHE_NAME


def _torch_version() -> str | None:
    """torch's version without importing it (importing torch takes seconds)."""
    try:
        from importlib.metadata import version

        return version("torch")
    except Exception:  # noqa: BLE001 - any failure means "unknown"
        return None


def _baseline_key() -> str:
    if not _key:
        _key.append(f"{_torch_version()}|{platform.machine()}")
    return _key[0]


def cpu_baseline_mib() -> float:
    """The cached measurement for this torch version, or the shipped default."""
    key = _baseline_key()
    if key in _memo:
        return _memo[key]
    from selector.core.estimate.memory import CPU_BASELINE_MIB

    value = CPU_BASELINE_MIB
    try:
        data = json.loads(_cache_path().read_text())
        if data.get("key") == key:
            value = float(data["baseline_mib"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    _memo[key] = value
    return value


def measure_cpu_baseline(timeout: float = 120) -> float:
    """Measure the baseline RSS in a fresh process and cache it; returns MiB."""
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=timeout, env=env
    )
    if proc.returncode != 0:
        raise RuntimeError("baseline measurement failed: " + proc.stderr.strip()[-300:])
    rss = float(proc.stdout.split()[0])
    key = _baseline_key()
    from selector.core.fileio import atomic_write_text

    atomic_write_text(_cache_path(), json.dumps({"key": key, "baseline_mib": rss}))
    _memo[key] = rss
    return rss

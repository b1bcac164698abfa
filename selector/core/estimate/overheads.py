"""The framework's fixed memory cost on a device: per backend, and on this CPU measured once.

On a GPU the fixed cost is the backend's context outside the allocator's counters
(``BACKEND_CONTEXT_MIB``; CUDA's own is ``memory.CUDA_CONTEXT_MIB``, measured). Where the GPU's
memory is system RAM (Apple silicon, APUs, integrated graphics) the process's own RAM, the CPU
baseline below, draws on the same pool as the model: :func:`backend_overhead_mib` adds it there,
once, and nowhere else (the fit then compares with that one pool's free memory).

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
from typing import Any

from selector.core.paths import cache_dir

BACKEND_CONTEXT_MIB = {"rocm": 600.0, "xpu": 500.0, "mps": 300.0}
"""The backend's context outside its allocator's counters, MiB: allowances, not measured by
selector (no such device here). ROCm: the HIP context with rocBLAS/MIOpen handles, taken a
little under CUDA's 680 MiB; XPU: the Level Zero context and oneDNN/oneMKL kernels; MPS: the
Metal device and MPSGraph caches (the torch process itself is counted separately, as unified
memory's CPU baseline)."""
ALWAYS_UNIFIED = frozenset({"mps"})
"""Backends whose memory is always system RAM."""
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


def backend_overhead_mib(kind: str, unified: bool = False) -> float:
    """Fixed cost on a device of ``kind`` (MiB): the CPU baseline on ``cpu``; the backend's
    context on a GPU, plus the CPU baseline once where memory is unified (one pool)."""
    if kind == "cpu":
        return cpu_baseline_mib()
    from selector.core.estimate.memory import CUDA_CONTEXT_MIB

    context = BACKEND_CONTEXT_MIB.get(kind, CUDA_CONTEXT_MIB)
    if unified or kind in ALWAYS_UNIFIED:
        return context + cpu_baseline_mib()
    return context


def device_overhead_mib(device: Any) -> float:
    """:func:`backend_overhead_mib` for a ``hardware.MemoryDevice`` (its kind and pool)."""
    return backend_overhead_mib(device.kind, bool(getattr(device, "unified", False)))


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

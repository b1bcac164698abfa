"""Apple silicon GPUs (Metal Performance Shaders, torch's ``mps`` device): unified memory.

The GPU shares RAM with the CPU, and macOS lets a process wire only part of it for Metal:
``recommendedMaxWorkingSetSize`` (``torch.mps.recommended_max_memory()``). Without torch the
limit is the ``iogpu.wired_limit_mb`` sysctl when a user raised it, else macOS's default
(:func:`default_wired_limit_mib`). Free memory is that limit less what this process's Metal
driver holds, capped by the RAM available: one pool, counted once.
"""

from __future__ import annotations

import platform
import subprocess
from typing import Any

from selector.core.devices.common import GpuInfo, PlatformReport, cap_by_ram, mib, query

SMALL_MAC_GIB = 36
"""Up to this much RAM macOS lets Metal wire about 2/3 of it; above, about 3/4."""


def default_wired_limit_mib(ram_total_mib: float) -> float:
    """macOS's default GPU working-set limit: ~2/3 of RAM up to 36 GiB, ~3/4 above
    (recommendedMaxWorkingSetSize as llama.cpp and MLX users report it; the safe side)."""
    share = 2 / 3 if ram_total_mib <= SMALL_MAC_GIB * 1024 else 3 / 4
    return round(ram_total_mib * share, 1)


def read_sysctl(name: str) -> str | None:
    """``sysctl -n NAME``; None when it fails or is unknown."""
    try:
        out = subprocess.run(["sysctl", "-n", name], capture_output=True, text=True, timeout=2)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def precisions(mac_version: str) -> list[str]:
    """fp32, fp16 and AMP on MPS; bf16 from macOS 14 on."""
    try:
        major = int((mac_version or "0").split(".")[0])
    except ValueError:
        major = 0
    return ["fp32", "fp16", "amp"] + (["bf16"] if major >= 14 else [])


def detect(torch: Any = None, ram_total_mib: float = 0.0,
           ram_available_mib: float | None = None) -> PlatformReport:
    report = PlatformReport("apple")
    if platform.system() != "Darwin":
        report.status = "not macOS: no Apple GPU"
        return report
    if platform.machine() != "arm64":
        report.status = "an Intel Mac: no Apple-silicon GPU for torch (MPS needs Apple silicon)"
        return report
    if torch is not None and not query(lambda: bool(torch.backends.mps.is_available())):
        report.status = (f"Apple silicon, but torch {getattr(torch, '__version__', '?')} cannot use "
                         "its GPU (MPS not available: macOS 12.3 or later and an arm64 Python are needed)")
        return report
    limit_mib, how = _wired_limit(torch, ram_total_mib)
    held = query(lambda: torch.mps.driver_allocated_memory()) if torch is not None else None
    free = cap_by_ram(limit_mib - (mib(held) or 0.0), ram_available_mib)
    gpu = GpuInfo(
        index=0, name=_chip_name(), vendor="apple", backend="mps", unified_memory=True,
        source="torch.mps" if torch is not None else "sysctl",
        memory_total_mib=limit_mib, memory_free_mib=free, memory_used_mib=mib(held),
        precisions=precisions(platform.mac_ver()[0]),
        memory_note=(f"unified memory: total is what macOS lets Metal wire ({how}), not the whole "
                     "RAM; free is that less this process's Metal memory, capped by free RAM"),
    )
    report.gpus = [gpu]
    report.status = "1 Apple GPU (MPS) with unified memory"
    return report


def _wired_limit(torch: Any, ram_total_mib: float) -> tuple[float, str]:
    if torch is not None:
        value = query(lambda: torch.mps.recommended_max_memory())
        if value:
            return mib(value) or 0.0, "recommendedMaxWorkingSetSize"
    raised = query(lambda: int(read_sysctl("iogpu.wired_limit_mb") or 0))
    if raised:
        return float(raised), "iogpu.wired_limit_mb"
    return default_wired_limit_mib(ram_total_mib), "macOS default: ~2/3 of RAM up to 36 GiB, ~3/4 above"


def _chip_name() -> str:
    return read_sysctl("machdep.cpu.brand_string") or "Apple silicon GPU"

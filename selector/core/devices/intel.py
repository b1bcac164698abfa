"""Intel GPUs: torch's XPU backend first, the kernel's PCI list (sysfs) when torch has none.

``torch.xpu`` (Level Zero underneath) names each device and reports its memory:
``mem_get_info`` where torch has it (free as the driver sees it), else the device's total less
what this process reserved (other processes then unknown, and said so). Integrated graphics
(Core Ultra "Arc Graphics", Iris Xe) use system RAM: ``unified_memory``, free capped by free
RAM. Without an XPU torch, sysfs tells only that an Intel GPU is there, not its memory.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from selector.core.devices.common import (
    GpuInfo,
    PlatformReport,
    cap_by_ram,
    drm_cards,
    mib,
    plural,
    query,
    read_sysfs,
)

SYSFS_DRM = Path("/sys/class/drm")
INTEL_VENDOR = "0x8086"
_DISCRETE_NAME = re.compile(r"arc\S*\s+(\(tm\)\s*)?[ab]\d{3}|data center gpu|flex|max \d{4}", re.I)
_DISCRETE_PCI = re.compile(r"0x(56|e2)[0-9a-f]{2}$", re.I)
"""PCI device ids of the discrete Alchemist (DG2, 0x56xx) and Battlemage (0xe2xx) cards."""


def is_discrete(name: str) -> bool:
    return bool(_DISCRETE_NAME.search(name or ""))


def detect(torch: Any = None, ram_available_mib: float | None = None,
           sysfs: Path | None = None) -> PlatformReport:
    report = PlatformReport("intel")
    gpus, reason = _from_torch(torch, ram_available_mib)
    if gpus:
        report.gpus = gpus
        report.status = f"{plural(len(gpus), 'Intel GPU')} found through torch.xpu"
        return report
    present = _from_sysfs(sysfs or SYSFS_DRM)
    if present:
        report.gpus = present
        report.status = (f"{plural(len(present), 'Intel GPU')} in the PCI list, memory unknown: "
                         f"{reason}")
    else:
        report.status = f"no Intel GPU found ({reason})"
    return report


def _from_torch(torch: Any, ram_available_mib: float | None) -> tuple[list[GpuInfo], str]:
    if torch is None:
        return [], "torch's XPU view not read"
    xpu: Any = getattr(torch, "xpu", None)
    try:
        count = xpu.device_count() if xpu is not None and xpu.is_available() else 0
    except Exception as err:  # noqa: BLE001 - a broken Level Zero loader raises here
        return [], f"torch.xpu failed ({type(err).__name__}: {err})"
    if not count:
        return [], f"torch {getattr(torch, '__version__', '?')} has no XPU device"
    gpus = []
    for i in range(count):
        props = query(lambda n: xpu.get_device_properties(n), i)
        name = str(getattr(props, "name", "") or f"Intel GPU {i}")
        gpu = GpuInfo(index=i, name=name, vendor="intel", backend="xpu", source="torch.xpu",
                      driver_version=getattr(props, "driver_version", None),
                      unified_memory=not is_discrete(name))
        precisions = ["fp32"]
        if getattr(props, "has_fp16", True):
            precisions += ["fp16", "amp"]
        if getattr(props, "has_bfloat16_conversions", True):
            precisions.append("bf16")
        gpu.precisions = precisions
        total = getattr(props, "total_memory", None)
        info = query(lambda n: xpu.mem_get_info(n), i) if hasattr(xpu, "mem_get_info") else None
        if info is not None:
            free, total = info
            note = "torch.xpu.mem_get_info"
        elif total is not None:
            reserved = query(lambda n: xpu.memory_reserved(n), i) or 0
            free = total - reserved
            note = "torch.xpu: total less this process's reservation (other processes unknown)"
        else:
            free, note = None, "torch.xpu did not report this GPU's memory"
        gpu.memory_total_mib, gpu.memory_free_mib = mib(total), mib(free)
        if gpu.unified_memory:
            gpu.memory_free_mib = cap_by_ram(gpu.memory_free_mib, ram_available_mib)
            note += "; integrated: system RAM, free capped by free RAM (one pool with the CPU)"
        gpu.memory_note = note
        gpus.append(gpu)
    return gpus, ""


def _from_sysfs(root: Path) -> list[GpuInfo]:
    gpus: list[GpuInfo] = []
    for dev in drm_cards(root, INTEL_VENDOR):
        pci = read_sysfs(dev / "device")
        discrete = bool(_DISCRETE_PCI.match(pci))
        gpus.append(GpuInfo(
            index=len(gpus), name=f"Intel {'discrete' if discrete else 'integrated'} GPU (PCI {pci or '?'})",
            vendor="intel", backend="xpu", source="sysfs", unified_memory=not discrete,
            memory_note="memory unknown: torch with XPU support reads it (pip install torch "
                        "--index-url https://download.pytorch.org/whl/xpu)",
        ))
    return gpus


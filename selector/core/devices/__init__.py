"""Every accelerator on this machine, behind one interface: one module per platform.

``detect_all`` asks each platform (:mod:`.nvidia` NVML, :mod:`.amd` amdsmi / amdgpu sysfs /
ROCm torch, :mod:`.intel` torch.xpu / sysfs, :mod:`.apple` MPS) and returns one
:class:`PlatformReport` each: its GPUs with total and free memory as that platform defines
them, or in plain words why it found none. No platform's failure stops another's. ``torch``
is passed in when the caller has imported it (the XPU, MPS and ROCm views need it); without it
each platform answers from its own library or the kernel's files.
"""

from __future__ import annotations

from typing import Any

from selector.core.devices import amd, apple, intel, nvidia
from selector.core.devices.common import GpuInfo, PlatformReport, plural

__all__ = ["GpuInfo", "PlatformReport", "detect_all", "summary"]


def detect_all(ram_total_mib: float, ram_available_mib: float | None,
               torch: Any = None) -> list[PlatformReport]:
    """One report per platform, NVIDIA first; GPU indices are per backend, as torch numbers them."""
    reports = [
        nvidia.detect(),
        amd.detect(torch, ram_available_mib),
        intel.detect(torch, ram_available_mib),
        apple.detect(torch, ram_total_mib, ram_available_mib),
    ]
    nvidia_count = len(reports[0].gpus)
    rocm = reports[1]
    if nvidia_count and rocm.gpus:
        rocm.status += (f"; note: {plural(nvidia_count, 'NVIDIA GPU')} also found: a CUDA torch "
                        "cannot run on the AMD ones, a ROCm torch not on the NVIDIA ones")
    return reports


def summary(reports: list[PlatformReport]) -> str:
    """What was found, platform by platform; when nothing was, NVIDIA's reason (the usual one)."""
    found = [r.status for r in reports if r.gpus]
    if found:
        return "; ".join(found)
    return reports[0].status if reports else "no GPU detection ran"

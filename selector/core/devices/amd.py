"""AMD GPUs: ``amdsmi`` first, the amdgpu driver's sysfs files next, ROCm torch's view last.

ROCm builds of torch address AMD GPUs as ``cuda:N`` (HIP), so these devices carry that id
with backend ``rocm``. ``amdsmi`` (the ``selector[amd]`` extra) is a thin wrapper that loads
``libamd_smi.so`` from a ROCm install when imported: installed without ROCm it fails to import
(with a KeyError, not an ImportError), which is said as such.

APUs (Ryzen AI and other Radeon integrated graphics, Instinct MI300A) have a small VRAM
carve-out and map system RAM through GTT: total is carve-out plus GTT, and free is capped by
what RAM has free, since a model there shares one pool with the process (``unified_memory``).
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

from selector.core.devices.common import (
    GpuInfo,
    PlatformReport,
    drm_cards,
    mib,
    plural,
    query,
    read_sysfs,
    read_sysfs_int,
    text,
)

SYSFS_DRM = Path("/sys/class/drm")
AMD_VENDOR = "0x1002"
PRECISIONS = ["fp32", "fp16", "bf16", "amp"]
_APU_NAME = re.compile(r"radeon(?![^,]*\brx\b)[^,]*\b(\d{3}m|\d{4}s|graphics)\b|mi300a|ryzen",
                       re.IGNORECASE)
"""Integrated Radeons: ``Radeon 890M``, ``Radeon 8060S`` (Strix Halo), ``Radeon Graphics``;
not a laptop's discrete ``Radeon RX 6800M``."""


def import_amdsmi() -> tuple[Any, str]:
    """``(amdsmi, "")``, or ``(None, why not)``. Its import prints to stdout when ROCm's library
    is missing: that is swallowed, as stdout may be JSON (``selector hw --json``)."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import amdsmi
    except ImportError:
        return None, "amdsmi is not installed (pip install 'selector[amd]')"
    except Exception as err:  # noqa: BLE001 - amdsmi fails to import without libamd_smi.so
        return None, ("amdsmi cannot load the ROCm library libamd_smi.so "
                      f"({type(err).__name__}: {err})")
    return amdsmi, ""


def is_apu(name: str) -> bool:
    """Integrated Radeon graphics (see ``_APU_NAME``) or an Instinct MI300A."""
    return bool(_APU_NAME.search(name or ""))


def detect(torch: Any = None, ram_available_mib: float | None = None,
           sysfs: Path | None = None) -> PlatformReport:
    """AMD GPUs, each with total and free memory as the best available source reports them."""
    report = PlatformReport("amd")
    amdsmi, smi_reason = import_amdsmi()
    if amdsmi is not None:
        gpus, smi_reason = _from_amdsmi(amdsmi, ram_available_mib)
        if gpus:
            report.gpus = gpus
            report.driver = gpus[0].driver_version
            report.status = f"{plural(len(gpus), 'AMD GPU')} found through amdsmi"
            return report
    gpus = _from_sysfs(sysfs or SYSFS_DRM, ram_available_mib)
    torch_gpus = _from_torch(torch, ram_available_mib)
    if torch_gpus:
        report.gpus = torch_gpus
        report.status = f"{plural(len(torch_gpus), 'AMD GPU')} found through ROCm torch ({smi_reason})"
    elif gpus:
        report.gpus = gpus
        report.status = f"{plural(len(gpus), 'AMD GPU')} found through the amdgpu driver ({smi_reason})"
    else:
        report.status = f"no AMD GPU found: {smi_reason}, and the amdgpu driver lists none"
    return report


def _from_amdsmi(amdsmi: Any, ram_available_mib: float | None) -> tuple[list[GpuInfo], str]:
    try:
        amdsmi.amdsmi_init()
    except Exception as err:  # noqa: BLE001 - AmdSmiLibraryException and friends
        return [], f"amdsmi could not start ({err})"
    try:
        try:
            handles = amdsmi.amdsmi_get_processor_handles()
        except Exception as err:  # noqa: BLE001
            return [], f"amdsmi could not list GPUs ({err})"
        gpus = [_read_smi(amdsmi, i, h, ram_available_mib) for i, h in enumerate(handles)]
        return gpus, "" if gpus else "amdsmi reports no GPU"
    finally:
        query(amdsmi.amdsmi_shut_down)


def _read_smi(amdsmi: Any, index: int, handle: Any, ram_available_mib: float | None) -> GpuInfo:
    asic = query(lambda: amdsmi.amdsmi_get_gpu_asic_info(handle)) or {}
    name = text(asic.get("market_name") or f"AMD GPU {index}")
    driver = query(lambda: amdsmi.amdsmi_get_gpu_driver_info(handle)) or {}
    gpu = GpuInfo(index=index, name=name, uuid=query(lambda: amdsmi.amdsmi_get_gpu_device_uuid(handle)),
                  driver_version=driver.get("driver_version"), vendor="amd", backend="rocm",
                  source="amdsmi", precisions=list(PRECISIONS))
    kinds = getattr(amdsmi, "AmdSmiMemoryType", None)
    vram = gtt = vram_used = gtt_used = None
    if kinds is not None:
        vram = query(lambda: amdsmi.amdsmi_get_gpu_memory_total(handle, kinds.VRAM))
        vram_used = query(lambda: amdsmi.amdsmi_get_gpu_memory_usage(handle, kinds.VRAM))
        gtt = query(lambda: amdsmi.amdsmi_get_gpu_memory_total(handle, kinds.GTT))
        gtt_used = query(lambda: amdsmi.amdsmi_get_gpu_memory_usage(handle, kinds.GTT))
    _set_memory(gpu, vram, vram_used, gtt, gtt_used, ram_available_mib, "amdsmi")
    power = query(lambda: amdsmi.amdsmi_get_power_info(handle)) or {}
    limit = power.get("power_limit")
    gpu.power_limit_w = float(limit) if isinstance(limit, (int, float)) and limit > 0 else None
    util = query(lambda: amdsmi.amdsmi_get_gpu_activity(handle)) or {}
    gfx = util.get("gfx_activity")
    gpu.utilization_pct = float(gfx) if isinstance(gfx, (int, float)) else None
    return gpu


def _set_memory(gpu: GpuInfo, vram: Any, vram_used: Any, gtt: Any, gtt_used: Any,
                ram_available_mib: float | None, source: str) -> None:
    """Fill total/free: VRAM for a discrete card; carve-out plus GTT, capped by RAM, for an APU."""
    if vram is None:
        gpu.memory_note = f"{source} did not report this GPU's memory"
        return
    vram_free = max(0, vram - (vram_used or 0))
    if not is_apu(gpu.name):
        gpu.memory_total_mib, gpu.memory_free_mib = mib(vram), mib(vram_free)
        gpu.memory_used_mib = mib(vram_used)
        gpu.memory_note = f"{source}: VRAM, free is what no process holds"
        return
    gpu.unified_memory = True
    total = vram + (gtt or 0)
    free = vram_free + max(0, (gtt or 0) - (gtt_used or 0))
    free_mib = mib(free) or 0.0
    if ram_available_mib is not None:
        free_mib = min(free_mib, (mib(vram_free) or 0.0) + ram_available_mib)
    gpu.memory_total_mib, gpu.memory_free_mib = mib(total), round(free_mib, 1)
    gpu.memory_used_mib = mib((vram_used or 0) + (gtt_used or 0))
    gpu.memory_note = (f"{source}: APU, {mib(vram)} MiB carve-out plus {mib(gtt or 0)} MiB of system "
                       "RAM through GTT; free capped by free RAM (one pool with the CPU)")


def _from_sysfs(root: Path, ram_available_mib: float | None) -> list[GpuInfo]:
    """The amdgpu driver's own counters: ``mem_info_vram_total`` and friends, in bytes."""
    gpus: list[GpuInfo] = []
    for dev in drm_cards(root, AMD_VENDOR):
        name = read_sysfs(dev / "product_name") or f"AMD GPU (PCI {read_sysfs(dev / 'device') or '?'})"
        gpu = GpuInfo(index=len(gpus), name=name, vendor="amd", backend="rocm",
                      source="amdgpu sysfs", precisions=list(PRECISIONS))
        vram, vram_used, gtt, gtt_used = (read_sysfs_int(dev / f"mem_info_{k}") for k in
                                          ("vram_total", "vram_used", "gtt_total", "gtt_used"))
        _set_memory(gpu, vram, vram_used, gtt, gtt_used, ram_available_mib, "amdgpu sysfs")
        gpus.append(gpu)
    return gpus


def _from_torch(torch: Any, ram_available_mib: float | None) -> list[GpuInfo]:
    """ROCm torch: ``torch.cuda`` over HIP, free memory from ``mem_get_info``."""
    if torch is None or not getattr(getattr(torch, "version", None), "hip", None):
        return []
    try:
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception:  # noqa: BLE001
        return []
    gpus = []
    for i in range(count):
        name = query(lambda n: torch.cuda.get_device_name(n), i) or f"AMD GPU {i}"
        gpu = GpuInfo(index=i, name=name, vendor="amd", backend="rocm", source="ROCm torch",
                      precisions=list(PRECISIONS))
        info = query(lambda n: torch.cuda.mem_get_info(n), i)
        if info is not None:
            free, total = info
            gpu.memory_total_mib, gpu.memory_free_mib = mib(total), mib(free)
            gpu.memory_note = "ROCm torch: hipMemGetInfo"
            if is_apu(name):
                gpu.unified_memory = True
                if ram_available_mib is not None and gpu.memory_free_mib is not None:
                    gpu.memory_free_mib = min(gpu.memory_free_mib, ram_available_mib)
                gpu.memory_note += "; APU: free capped by free RAM (one pool with the CPU)"
        else:
            gpu.memory_note = "ROCm torch did not report this GPU's memory"
        gpus.append(gpu)
    return gpus


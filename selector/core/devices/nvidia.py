"""NVIDIA GPUs through NVML (the ``nvidia-ml-py`` package), as ``cuda:N`` devices.

Never raises: every failure becomes a plain reason in the report's ``status``. Each NVML
query is made on its own, so a card that does not report, say, its power limit leaves that
one field empty. Free memory is NVML's: what no process (this one included) holds.
"""

from __future__ import annotations

import os
from typing import Any

from selector.core.devices.common import GpuInfo, PlatformReport, mib, plural, query, text


def detect() -> PlatformReport:
    """GPUs through NVML, with the driver version and the highest CUDA version it supports."""
    report = PlatformReport("nvidia")
    try:
        import pynvml
    except ImportError:
        report.status = "no NVIDIA GPU support: the nvidia-ml-py package is not installed"
        return report
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as err:
        report.status = init_reason(pynvml, err)
        return report
    except OSError as err:  # a broken libnvidia-ml can fail below NVML's own checks
        report.status = f"no NVIDIA driver found ({err})"
        return report
    try:
        report.driver = query(lambda: text(pynvml.nvmlSystemGetDriverVersion()))
        report.runtime = query(lambda: cuda_version_text(pynvml.nvmlSystemGetCudaDriverVersion()))
        try:
            count = pynvml.nvmlDeviceGetCount()
        except pynvml.NVMLError as err:
            report.status = f"the NVIDIA driver could not list GPUs ({err})"
            return report
        report.gpus = [g for g in (_read_gpu(pynvml, i, report.driver) for i in range(count))
                       if g is not None]
        if not report.gpus:
            report.status = "the NVIDIA driver is loaded but reports no GPU"
        else:
            report.status = f"{plural(len(report.gpus), 'NVIDIA GPU')} found through NVML"
        return report
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:  # noqa: BLE001
            pass


def init_reason(pynvml: Any, err: Exception) -> str:
    names = {
        "NVML_ERROR_LIBRARY_NOT_FOUND": "no NVIDIA driver found (the NVML library libnvidia-ml is not installed)",
        "NVML_ERROR_DRIVER_NOT_LOADED": "no NVIDIA driver found (the driver is installed but not loaded)",
        "NVML_ERROR_NO_PERMISSION": "the NVIDIA driver refused access to NVML (no permission)",
        "NVML_ERROR_INSUFFICIENT_POWER": "the NVIDIA GPU reports insufficient power",
    }
    value = getattr(err, "value", None)
    for constant, reason in names.items():
        if value is not None and value == getattr(pynvml, constant, object()):
            return reason
    return f"NVIDIA driver not usable: NVML failed to start ({err})"


def precisions(compute_capability: str | None) -> list[str]:
    """fp16 and AMP everywhere torch runs; bf16 from Ampere (compute capability 8.0) on."""
    out = ["fp32", "fp16", "amp"]
    try:
        major = int((compute_capability or "").split(".")[0])
    except ValueError:
        return []
    return out + ["bf16"] if major >= 8 else out


def _read_gpu(pynvml: Any, index: int, driver: str | None) -> GpuInfo | None:
    try:
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    except pynvml.NVMLError:
        return None
    gpu = GpuInfo(
        index=index,
        name=query(lambda: text(pynvml.nvmlDeviceGetName(handle))) or f"NVIDIA GPU {index}",
        uuid=query(lambda: text(pynvml.nvmlDeviceGetUUID(handle))),
        driver_version=driver, vendor="nvidia", backend="cuda", source="NVML",
    )
    mem = query(lambda: pynvml.nvmlDeviceGetMemoryInfo(handle))
    if mem is not None:
        gpu.memory_total_mib, gpu.memory_free_mib = mib(mem.total), mib(mem.free)
        gpu.memory_used_mib = mib(mem.used)
        gpu.memory_note = "NVML: free is what no process holds"
    else:
        gpu.memory_note = "NVML did not report this GPU's memory"
    gpu.memory_other_processes_mib = query(lambda: _other_process_memory_mib(pynvml, handle))
    cc = query(lambda: pynvml.nvmlDeviceGetCudaComputeCapability(handle))
    if cc is not None:
        gpu.compute_capability = f"{cc[0]}.{cc[1]}"
    gpu.precisions = precisions(gpu.compute_capability)
    power = query(lambda: pynvml.nvmlDeviceGetPowerManagementLimit(handle))
    gpu.power_limit_w = round(power / 1000.0, 1) if power is not None else None
    gpu.temperature_c = query(
        lambda: float(pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU))
    )
    util = query(lambda: pynvml.nvmlDeviceGetUtilizationRates(handle))
    gpu.utilization_pct = float(util.gpu) if util is not None else None
    return gpu


def _other_process_memory_mib(pynvml: Any, handle: Any) -> float:
    me = os.getpid()
    total = 0
    seen: set[int] = set()
    for getter in ("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetGraphicsRunningProcesses"):
        fn = getattr(pynvml, getter, None)
        if fn is None:
            continue
        try:
            procs = fn(handle)
        except pynvml.NVMLError:
            continue
        for proc in procs:
            if proc.pid == me or proc.pid in seen:
                continue
            seen.add(proc.pid)
            total += proc.usedGpuMemory or 0
    return round(total / 2**20, 1)


def cuda_version_text(value: int) -> str:
    return f"{value // 1000}.{(value % 1000) // 10}"

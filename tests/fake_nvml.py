"""A fake NVML installed at the ``pynvml`` function boundary.

Only the functions selector calls are replaced; pynvml's own error classes and constants
stay real, so the code under test sees exactly what the real library raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import pynvml

MIB = 1024 * 1024


@dataclass
class FakeGpu:
    name: str
    total_mib: int
    free_mib: int
    cc: tuple[int, int] = (8, 9)
    power_mw: int | None = 300_000
    temperature: int = 40
    util: int = 5
    processes: list[tuple[int, int]] = field(default_factory=list)
    """(pid, used MiB) of processes on this GPU."""
    fail: set[str] = field(default_factory=set)
    """Names of NVML functions that raise NVML_ERROR_NOT_SUPPORTED for this card."""


def install(monkeypatch, gpus: list[FakeGpu], *, init_error: int | None = None,
            driver: str = "550.54.15", cuda: int = 12040) -> None:
    def init():
        if init_error is not None:
            raise pynvml.NVMLError(init_error)

    def card(handle):
        return gpus[handle]

    def maybe_fail(handle, fn_name):
        if fn_name in card(handle).fail:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)

    def wrap(fn_name, getter):
        def fn(handle, *args):
            maybe_fail(handle, fn_name)
            return getter(card(handle), *args)
        return fn

    def memory(gpu):
        used = gpu.total_mib - gpu.free_mib
        return SimpleNamespace(total=gpu.total_mib * MIB, free=gpu.free_mib * MIB, used=used * MIB)

    def processes(gpu):
        return [SimpleNamespace(pid=pid, usedGpuMemory=mib * MIB) for pid, mib in gpu.processes]

    replacements = {
        "nvmlInit": init,
        "nvmlShutdown": lambda: None,
        "nvmlSystemGetDriverVersion": lambda: driver,
        "nvmlSystemGetCudaDriverVersion": lambda: cuda,
        "nvmlDeviceGetCount": lambda: len(gpus),
        "nvmlDeviceGetHandleByIndex": lambda i: i,
        "nvmlDeviceGetName": wrap("nvmlDeviceGetName", lambda g: g.name),
        "nvmlDeviceGetUUID": wrap("nvmlDeviceGetUUID", lambda g: f"GPU-fake-{g.name}"),
        "nvmlDeviceGetMemoryInfo": wrap("nvmlDeviceGetMemoryInfo", memory),
        "nvmlDeviceGetComputeRunningProcesses": wrap("nvmlDeviceGetComputeRunningProcesses", processes),
        "nvmlDeviceGetGraphicsRunningProcesses": lambda h: [],
        "nvmlDeviceGetCudaComputeCapability": wrap("nvmlDeviceGetCudaComputeCapability", lambda g: g.cc),
        "nvmlDeviceGetPowerManagementLimit": wrap("nvmlDeviceGetPowerManagementLimit", lambda g: g.power_mw),
        "nvmlDeviceGetTemperature": wrap("nvmlDeviceGetTemperature", lambda g, sensor: g.temperature),
        "nvmlDeviceGetUtilizationRates": wrap(
            "nvmlDeviceGetUtilizationRates", lambda g: SimpleNamespace(gpu=g.util, memory=0)
        ),
    }
    for name, fn in replacements.items():
        monkeypatch.setattr(pynvml, name, fn)


def two_gpus() -> list[FakeGpu]:
    """A roomy card and a nearly full one whose power limit cannot be read."""
    return [
        FakeGpu("NVIDIA GeForce RTX 4090", 24564, 23800, processes=[(999_001, 500)]),
        FakeGpu("Tesla T4", 15360, 1200, cc=(7, 5), processes=[(999_002, 13_800)],
                fail={"nvmlDeviceGetPowerManagementLimit"}),
    ]

"""What every platform module shares: units, safe queries, and the one GPU record.

A :class:`GpuInfo` is one accelerator as its own platform library sees it. ``backend`` names
the torch backend that runs on it (``cuda``, ``rocm``, ``xpu``, ``mps``) and so its torch
device string (:attr:`GpuInfo.device_id`: ROCm builds of torch address AMD GPUs as
``cuda:N``). ``unified_memory`` marks a GPU that draws on system RAM (Apple silicon, AMD
APUs, Intel integrated graphics): its free memory is already capped by what RAM has free,
and a model on it shares that pool with the process's own RAM.

All memory figures are MiB (2**20 bytes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

MIB = 1024 * 1024
BACKENDS = ("cuda", "rocm", "xpu", "mps")


@dataclass
class GpuInfo:
    index: int
    name: str
    uuid: str | None = None
    memory_total_mib: float | None = None
    """All the memory the device can address (for unified memory: what this process may use
    of system RAM, e.g. the macOS wired limit, not the whole RAM)."""
    memory_free_mib: float | None = None
    """Free as the platform defines it (``memory_note`` says how); None when unknown."""
    memory_used_mib: float | None = None
    memory_other_processes_mib: float | None = None
    """Memory held by processes other than this one, as the driver reports them."""
    driver_version: str | None = None
    compute_capability: str | None = None
    power_limit_w: float | None = None
    temperature_c: float | None = None
    utilization_pct: float | None = None
    vendor: str = "nvidia"
    """``nvidia``, ``amd``, ``intel`` or ``apple``."""
    backend: str = "cuda"
    """The torch backend that runs on it: ``cuda``, ``rocm``, ``xpu`` or ``mps``."""
    unified_memory: bool = False
    """True when the GPU's memory is system RAM (one pool with the CPU)."""
    source: str = ""
    """Which library answered: ``NVML``, ``amdsmi``, ``amdgpu sysfs``, ``torch.xpu``, ..."""
    memory_note: str = ""
    """How total and free were read, or why they could not be."""
    precisions: list[str] = field(default_factory=list)
    """Workload dtypes the backend runs on this device (``fp32``, ``fp16``, ``bf16``, ``amp``);
    empty when unknown (then nothing is refused)."""

    @property
    def device_id(self) -> str:
        """The torch device string: ``cuda:N`` (CUDA and ROCm), ``xpu:N`` or ``mps``."""
        if self.backend == "mps":
            return "mps"
        prefix = "xpu" if self.backend == "xpu" else "cuda"
        return f"{prefix}:{self.index}"


@dataclass
class PlatformReport:
    """What one platform's detection found: its GPUs, or in plain words why none."""

    platform: str
    gpus: list[GpuInfo] = field(default_factory=list)
    status: str = ""
    driver: str | None = None
    runtime: str | None = None
    """NVIDIA: the highest CUDA version the driver supports (``13.0``)."""


def query(fn: Callable[..., Any], *args: Any) -> Any:
    """One library call; any failure (unsupported, not permitted, ...) leaves the field empty."""
    try:
        return fn(*args)
    except Exception:  # noqa: BLE001 - each field is optional
        return None


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def mib(n_bytes: float | int | None) -> float | None:
    return None if n_bytes is None else round(float(n_bytes) / MIB, 1)


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def cap_by_ram(free_mib: float | None, ram_available_mib: float | None) -> float | None:
    """Unified memory: the GPU's free memory can never exceed what RAM has free (one pool)."""
    if free_mib is None:
        return ram_available_mib
    if ram_available_mib is None:
        return free_mib
    return round(min(free_mib, ram_available_mib), 1)


def drm_cards(root: Path, vendor: str) -> Iterator[Path]:
    """The ``device`` folder of each DRM card under ``root`` (``/sys/class/drm``) whose PCI
    vendor id is ``vendor`` (``0x1002``), in card order; connectors (``card0-DP-1``) skipped."""
    for card in sorted(root.glob("card[0-9]*")):
        dev = card / "device"
        if "-" not in card.name and read_sysfs(dev / "vendor") == vendor:
            yield dev


def read_sysfs(path: Path) -> str:
    """A sysfs attribute's text, stripped; empty when it is missing or unreadable."""
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def read_sysfs_int(path: Path) -> int | None:
    """A sysfs attribute as an integer (bytes, for ``mem_info_*``); None when absent or not one."""
    try:
        return int(read_sysfs(path))
    except ValueError:
        return None

"""What this machine can do: CPU, RAM, every accelerator (NVIDIA, AMD, Intel, Apple) and
torch's view of them.

``detect_hardware()`` reads the live machine into a :class:`HardwareProfile`, a plain,
JSON-serialisable value. It never raises because a GPU, a driver or a platform library is
missing: each platform (:mod:`selector.core.devices`) says in ``accelerators`` what it found
or why nothing, and ``gpu_status`` sums that up in plain words.

All memory figures are MiB (2**20 bytes). The torch part of the profile is optional because
importing torch costs about two seconds; the GUI fills it in the background.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import platform
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selector.core.devices import detect_all, nvidia, summary
from selector.core.devices.common import GpuInfo
from selector.core.fileio import atomic_write_text, special_file_kind

__all__ = ["CpuInfo", "GpuInfo", "HardwareProfile", "MemoryDevice", "MemoryInfo", "TorchInfo"]

SCHEMA_VERSION = 1
MIB = 1024 * 1024


@dataclass
class CpuInfo:
    model: str = "unknown CPU"
    architecture: str = ""
    physical_cores: int | None = None
    logical_cores: int | None = None
    torch_threads: int | None = None
    """Intra-op threads torch uses (``torch.get_num_threads()``); None until torch is asked."""
    freq_current_mhz: float | None = None
    freq_max_mhz: float | None = None


@dataclass
class MemoryInfo:
    total_mib: float = 0.0
    available_mib: float = 0.0
    swap_total_mib: float = 0.0
    swap_free_mib: float = 0.0


@dataclass
class TorchInfo:
    version: str | None = None
    cuda_runtime: str | None = None
    cudnn_version: str | None = None
    cuda_available: bool = False
    cuda_device_count: int = 0
    mps_available: bool = False
    hip_runtime: str | None = None
    """ROCm (HIP) version of a ROCm build of torch; its ``cuda`` devices are AMD GPUs."""
    xpu_available: bool = False
    xpu_device_count: int = 0
    num_threads: int | None = None


@dataclass
class MemoryDevice:
    """One place a model can live, with the memory that decides whether it fits."""

    id: str
    """The torch device: ``cpu``, ``cuda:N`` (CUDA or ROCm), ``xpu:N`` or ``mps``."""
    name: str
    total_mib: float
    free_mib: float
    kind: str = ""
    """``cpu``, ``cuda``, ``rocm``, ``xpu`` or ``mps`` (from ``id`` when not given): which
    backend's overheads and precisions apply."""
    unified: bool = False
    """GPU memory that is system RAM: the process's own RAM draws on the same pool."""
    precisions: tuple[str, ...] = ()
    """Dtypes the backend runs here; empty: unknown (nothing refused)."""

    def __post_init__(self) -> None:
        if not self.kind:
            head = self.id.split(":")[0]
            self.kind = head if head in ("cuda", "rocm", "xpu", "mps") else "cpu"


@dataclass
class HardwareProfile:
    name: str
    source: str = "live"
    """``live`` (read from this machine), ``reference`` (shipped) or ``file`` (opened)."""
    captured_at: str = ""
    os: str = ""
    python: str = ""
    cpu: CpuInfo = field(default_factory=CpuInfo)
    memory: MemoryInfo = field(default_factory=MemoryInfo)
    gpus: list[GpuInfo] = field(default_factory=list)
    gpu_status: str = ""
    """Plain-words summary of GPU detection: what was found, or why nothing was."""
    accelerators: dict[str, str] = field(default_factory=dict)
    """Each platform's detection in plain words: ``{"nvidia": ..., "amd": ..., "intel": ...,
    "apple": ...}`` (what was found, or why nothing)."""
    nvidia_driver: str | None = None
    cuda_driver: str | None = None
    """Highest CUDA version the driver supports, e.g. ``13.0``."""
    torch: TorchInfo | None = None
    description: str = ""
    schema_version: int = SCHEMA_VERSION

    # ------------------------------------------------------------------ views
    def memory_devices(self) -> list[MemoryDevice]:
        """The CPU (RAM) and every GPU with known memory, in that order."""
        devices = [
            MemoryDevice("cpu", self.cpu.model, self.memory.total_mib, self.memory.available_mib)
        ]
        for gpu in self.gpus:
            if gpu.memory_total_mib is None:
                continue
            free = gpu.memory_free_mib if gpu.memory_free_mib is not None else gpu.memory_total_mib
            devices.append(MemoryDevice(gpu.device_id, gpu.name, gpu.memory_total_mib, free,
                                        kind=gpu.backend, unified=gpu.unified_memory,
                                        precisions=tuple(gpu.precisions)))
        return devices

    def device(self, device_id: str) -> MemoryDevice:
        """The device ``cpu``, ``cuda:1``, ``xpu:0``, ``mps``; a bare ``cuda``/``xpu`` is index 0."""
        for dev in self.memory_devices():
            if dev.id == device_id or dev.id == f"{device_id}:0":
                return dev
        known = ", ".join(d.id for d in self.memory_devices())
        raise KeyError(f"no device {device_id!r} in profile {self.name!r} (has: {known})")

    # ---------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "HardwareProfile":
        if not isinstance(data, dict) or "name" not in data:
            raise ValueError("not a hardware profile: expected a JSON object with a 'name'")
        version = data.get("schema_version", SCHEMA_VERSION)
        if version > SCHEMA_VERSION:
            raise ValueError(
                f"hardware profile schema {version} is newer than this app understands "
                f"({SCHEMA_VERSION}); update selector"
            )
        values = _known_fields(cls, data)
        values["cpu"] = CpuInfo(**_known_fields(CpuInfo, data.get("cpu") or {}))
        values["memory"] = MemoryInfo(**_known_fields(MemoryInfo, data.get("memory") or {}))
        values["gpus"] = [GpuInfo(**_known_fields(GpuInfo, g)) for g in data.get("gpus") or []]
        torch_data = data.get("torch")
        values["torch"] = TorchInfo(**_known_fields(TorchInfo, torch_data)) if torch_data else None
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> "HardwareProfile":
        return cls.from_dict(json.loads(text))


def _known_fields(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


# ------------------------------------------------------------------ detection
def detect_hardware(include_torch: bool = True) -> HardwareProfile:
    """Read the live machine. ``include_torch=False`` skips torch's (slow) import."""
    import psutil

    profile = HardwareProfile(
        name=socket.gethostname() or "this machine",
        source="live",
        captured_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        os=f"{platform.system()} {platform.release()}".strip(),
        python=platform.python_version(),
        cpu=_detect_cpu(psutil),
        memory=_detect_memory(psutil),
    )
    _detect_accelerators(profile, None)
    if include_torch:
        add_torch_view(profile)
    return profile


def add_torch_view(profile: HardwareProfile) -> HardwareProfile:
    """Fill ``profile.torch`` and ``cpu.torch_threads`` from torch itself (imports torch), and
    re-read the accelerators that only torch sees (XPU, MPS's working-set limit, ROCm)."""
    profile.torch = detect_torch()
    profile.cpu.torch_threads = profile.torch.num_threads
    try:
        import torch
    except Exception:  # noqa: BLE001 - detect_torch said why
        return profile
    _detect_accelerators(profile, torch)
    return profile


def _detect_accelerators(profile: HardwareProfile, torch: Any) -> None:
    reports = detect_all(profile.memory.total_mib, profile.memory.available_mib, torch)
    profile.gpus = [gpu for report in reports for gpu in report.gpus]
    profile.gpu_status = summary(reports)
    profile.accelerators = {report.platform: report.status for report in reports}
    profile.nvidia_driver, profile.cuda_driver = reports[0].driver, reports[0].runtime


def _detect_cpu(psutil: Any) -> CpuInfo:
    info = CpuInfo(
        model=_cpu_model_name(),
        architecture=platform.machine(),
        physical_cores=psutil.cpu_count(logical=False),
        logical_cores=psutil.cpu_count(logical=True),
    )
    try:
        freq = psutil.cpu_freq()
    except Exception:  # not available in some VMs and containers
        freq = None
    if freq is not None:
        info.freq_current_mhz = round(freq.current, 1) if freq.current else None
        info.freq_max_mhz = round(freq.max, 1) if freq.max else None
    return info


def _cpu_model_name() -> str:
    system = platform.system()
    if system == "Linux":
        try:
            for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
    elif system == "Darwin":
        import subprocess

        try:
            out = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"],
                capture_output=True, text=True, timeout=2,
            )
            if out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _detect_memory(psutil: Any) -> MemoryInfo:
    vm = psutil.virtual_memory()
    swap = psutil.swap_memory()
    return MemoryInfo(
        total_mib=round(vm.total / MIB, 1),
        available_mib=round(vm.available / MIB, 1),
        swap_total_mib=round(swap.total / MIB, 1),
        swap_free_mib=round(swap.free / MIB, 1),
    )


def detect_nvidia_gpus() -> tuple[list[GpuInfo], str, str | None, str | None]:
    """NVIDIA GPUs alone: ``(gpus, status, driver_version, cuda_driver_version)`` (the probes'
    pre-flight check asks only NVML). Never raises."""
    report = nvidia.detect()
    return report.gpus, report.status, report.driver, report.runtime


def detect_torch() -> TorchInfo:
    """torch's own view: version, CUDA/HIP runtime, devices, MPS, XPU, threads. Imports torch."""
    try:
        import torch
    except Exception as err:  # noqa: BLE001 - a broken torch install must not crash detection
        return TorchInfo(version=f"not importable ({err.__class__.__name__}: {err})")
    info = TorchInfo(version=torch.__version__, cuda_runtime=torch.version.cuda)
    info.num_threads = torch.get_num_threads()
    try:
        info.cuda_available = bool(torch.cuda.is_available())
        info.cuda_device_count = torch.cuda.device_count() if info.cuda_available else 0
        if info.cuda_available and torch.backends.cudnn.is_available():
            info.cudnn_version = str(torch.backends.cudnn.version())
    except Exception:  # a driver/runtime mismatch raises here
        info.cuda_available = False
    try:
        info.mps_available = bool(torch.backends.mps.is_available())
    except Exception:
        info.mps_available = False
    info.hip_runtime = getattr(torch.version, "hip", None)
    try:
        xpu: Any = getattr(torch, "xpu", None)
        info.xpu_available = bool(xpu is not None and xpu.is_available())
        info.xpu_device_count = xpu.device_count() if info.xpu_available else 0
    except Exception:  # a broken Level Zero loader raises here
        info.xpu_available = False
    return info


# -------------------------------------------------------------- profile files
def load_profile(path: str | os.PathLike[str]) -> HardwareProfile:
    """Open a saved or reference profile; a clear ``ValueError`` for anything else."""
    path = Path(path)
    kind = special_file_kind(path)
    if kind:
        raise ValueError(f"{path} is {kind}, not a hardware profile")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ValueError(f"cannot read hardware profile {path}: {err.strerror or err}") from err
    try:
        profile = HardwareProfile.from_json(text)
    except (json.JSONDecodeError, TypeError, ValueError) as err:
        raise ValueError(f"{path} is not a hardware profile: {err}") from err
    if profile.source == "live":
        profile.source = "file"
    return profile


def save_profile(profile: HardwareProfile, path: str | os.PathLike[str]) -> Path:
    """Write the profile as JSON (atomically), to open on another machine."""
    return atomic_write_text(Path(path), profile.to_json() + "\n")


def reference_profiles() -> dict[str, HardwareProfile]:
    """The shipped "what if I ran this on ..." profiles, keyed by their file stem."""
    from selector.core.paths import resource

    folder = resource("hardware")
    profiles = {}
    for path in sorted(folder.glob("*.json")):
        profile = load_profile(path)
        profile.source = "reference"
        profiles[path.stem] = profile
    return profiles


def resolve_profile(spec: str | None) -> HardwareProfile:
    """``None``: the live machine; a reference name (``t4``); or a path to a profile file."""
    if spec is None:
        return detect_hardware()
    refs = reference_profiles()
    if spec in refs:
        return refs[spec]
    if Path(spec).exists():
        return load_profile(spec)
    raise ValueError(
        f"unknown hardware profile {spec!r}: not a file, and not one of the references "
        f"({', '.join(refs)})"
    )


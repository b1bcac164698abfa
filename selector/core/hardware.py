"""What this machine can do: CPU, RAM, NVIDIA GPUs (NVML) and torch's view of them.

``detect_hardware()`` reads the live machine into a :class:`HardwareProfile`, a plain,
JSON-serialisable value. It never raises because a GPU, a driver or the NVML library is
missing: the GPU list is then empty and ``gpu_status`` says why in plain words. Each NVML
query is made on its own, so a card that does not report, say, its power limit leaves that
one field empty.

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
from typing import Any, Callable

from selector.core.fileio import atomic_write_text, special_file_kind

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
class GpuInfo:
    index: int
    name: str
    uuid: str | None = None
    memory_total_mib: float | None = None
    memory_free_mib: float | None = None
    memory_used_mib: float | None = None
    memory_other_processes_mib: float | None = None
    """Memory held by processes other than this one, as NVML reports them."""
    driver_version: str | None = None
    compute_capability: str | None = None
    power_limit_w: float | None = None
    temperature_c: float | None = None
    utilization_pct: float | None = None


@dataclass
class TorchInfo:
    version: str | None = None
    cuda_runtime: str | None = None
    cudnn_version: str | None = None
    cuda_available: bool = False
    cuda_device_count: int = 0
    mps_available: bool = False
    num_threads: int | None = None


@dataclass
class MemoryDevice:
    """One place a model can live, with the memory that decides whether it fits."""

    id: str
    """``cpu`` or ``cuda:N``."""
    name: str
    total_mib: float
    free_mib: float


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
            devices.append(MemoryDevice(f"cuda:{gpu.index}", gpu.name, gpu.memory_total_mib, free))
        return devices

    def device(self, device_id: str) -> MemoryDevice:
        for dev in self.memory_devices():
            if dev.id == device_id or (device_id == "cuda" and dev.id == "cuda:0"):
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
    gpus, status, driver, cuda_driver = detect_nvidia_gpus()
    profile.gpus, profile.gpu_status = gpus, status
    profile.nvidia_driver, profile.cuda_driver = driver, cuda_driver
    if include_torch:
        add_torch_view(profile)
    return profile


def add_torch_view(profile: HardwareProfile) -> HardwareProfile:
    """Fill ``profile.torch`` and ``cpu.torch_threads`` from torch itself (imports torch)."""
    profile.torch = detect_torch()
    profile.cpu.torch_threads = profile.torch.num_threads
    return profile


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
    """GPUs through NVML: ``(gpus, status, driver_version, cuda_driver_version)``.

    Never raises: every failure becomes a plain reason in ``status``.
    """
    try:
        import pynvml
    except ImportError:
        return [], "no NVIDIA GPU support: the nvidia-ml-py package is not installed", None, None

    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as err:
        return [], _nvml_init_reason(pynvml, err), None, None
    except OSError as err:  # a broken libnvidia-ml can fail below NVML's own checks
        return [], f"no NVIDIA driver found ({err})", None, None
    try:
        driver = _query(lambda: _text(pynvml.nvmlSystemGetDriverVersion()))
        cuda_driver = _query(lambda: _cuda_version_text(pynvml.nvmlSystemGetCudaDriverVersion()))
        try:
            count = pynvml.nvmlDeviceGetCount()
        except pynvml.NVMLError as err:
            return [], f"the NVIDIA driver could not list GPUs ({err})", driver, cuda_driver
        gpus = [g for g in (_read_gpu(pynvml, i, driver) for i in range(count)) if g is not None]
        if not gpus:
            status = "the NVIDIA driver is loaded but reports no GPU"
        else:
            status = f"{len(gpus)} NVIDIA GPU{'s' if len(gpus) > 1 else ''} found through NVML"
        return gpus, status, driver, cuda_driver
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:
            pass


def _nvml_init_reason(pynvml: Any, err: Exception) -> str:
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


def _read_gpu(pynvml: Any, index: int, driver: str | None) -> GpuInfo | None:
    try:
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    except pynvml.NVMLError:
        return None
    gpu = GpuInfo(
        index=index,
        name=_query(lambda: _text(pynvml.nvmlDeviceGetName(handle))) or f"NVIDIA GPU {index}",
        uuid=_query(lambda: _text(pynvml.nvmlDeviceGetUUID(handle))),
        driver_version=driver,
    )
    mem = _query(lambda: pynvml.nvmlDeviceGetMemoryInfo(handle))
    if mem is not None:
        gpu.memory_total_mib = round(mem.total / MIB, 1)
        gpu.memory_free_mib = round(mem.free / MIB, 1)
        gpu.memory_used_mib = round(mem.used / MIB, 1)
    gpu.memory_other_processes_mib = _query(lambda: _other_process_memory_mib(pynvml, handle))
    cc = _query(lambda: pynvml.nvmlDeviceGetCudaComputeCapability(handle))
    if cc is not None:
        gpu.compute_capability = f"{cc[0]}.{cc[1]}"
    power = _query(lambda: pynvml.nvmlDeviceGetPowerManagementLimit(handle))
    gpu.power_limit_w = round(power / 1000.0, 1) if power is not None else None
    gpu.temperature_c = _query(
        lambda: float(pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU))
    )
    util = _query(lambda: pynvml.nvmlDeviceGetUtilizationRates(handle))
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
    return round(total / MIB, 1)


def _query(fn: Callable[[], Any]) -> Any:
    """One NVML call; any failure (unsupported, not permitted, ...) leaves the field empty."""
    try:
        return fn()
    except Exception:
        return None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _cuda_version_text(value: int) -> str:
    return f"{value // 1000}.{(value % 1000) // 10}"


def detect_torch() -> TorchInfo:
    """torch's own view: version, CUDA runtime, devices, MPS, threads. Imports torch."""
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


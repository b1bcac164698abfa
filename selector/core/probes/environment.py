"""The software and device a probe ran on, recorded with every row (used in probe children)."""

from __future__ import annotations

import platform
from importlib import metadata


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def software_versions() -> dict[str, str]:
    """Versions that change a measurement: python, torch (+CUDA, cuDNN), timm, transformers."""
    import torch

    from selector import __version__

    versions = {
        "selector": __version__,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "torch": torch.__version__,
        "timm": _version("timm"),
        "transformers": _version("transformers"),
        "numpy": _version("numpy"),
    }
    if torch.cuda.is_available():
        versions["cuda"] = torch.version.cuda
        versions["cudnn"] = str(torch.backends.cudnn.version())
        versions["rocm"] = getattr(torch.version, "hip", None)
    return {k: v for k, v in versions.items() if v}


def resolve_device(device: str) -> str:
    """``cpu``, ``cuda:N`` (NVIDIA, or AMD under ROCm torch), ``xpu:N`` or ``mps``; a clear
    error when the backend is asked for but not there."""
    import torch

    if device == "cpu":
        return "cpu"
    if device == "mps":
        if not torch.backends.mps.is_available():
            raise ProbeSettingError(f"mps was asked for, but torch {torch.__version__} cannot use an "
                                    "Apple GPU here (Apple silicon, macOS 12.3+ and an arm64 Python)")
        return "mps"
    if device.split(":")[0] == "xpu":
        xpu = getattr(torch, "xpu", None)
        if xpu is None or not xpu.is_available():
            raise ProbeSettingError(f"{device} was asked for, but torch {torch.__version__} sees no "
                                    "Intel XPU device (a torch built for XPU and its driver are needed)")
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= xpu.device_count():
            raise ProbeSettingError(f"{device}: torch sees only {xpu.device_count()} XPU device(s)")
        return f"xpu:{index}"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ProbeSettingError(
                f"{device} was asked for, but torch sees no CUDA device on this machine "
                f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'})"
            )
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise ProbeSettingError(f"{device}: torch sees only {torch.cuda.device_count()} GPU(s)")
        return f"cuda:{index}"
    raise ProbeSettingError(f"unknown device {device!r}: use cpu, cuda[:N], xpu[:N] or mps")


def device_name(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(device)
    if device.startswith("xpu"):
        return torch.xpu.get_device_name(device)
    if device == "mps":
        return "Apple silicon GPU (MPS)"
    from selector.core.hardware import _cpu_model_name

    return _cpu_model_name()


class ProbeSettingError(ValueError):
    """A probe was asked for something this machine or model cannot do."""

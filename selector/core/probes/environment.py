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
    return {k: v for k, v in versions.items() if v}


def resolve_device(device: str) -> str:
    """``cpu`` or ``cuda:N``; a clear error when CUDA is asked for but not there."""
    import torch

    if device == "cpu":
        return "cpu"
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
    raise ProbeSettingError(f"unknown device {device!r}: use cpu, cuda or cuda:N")


def device_name(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(device)
    from selector.core.hardware import _cpu_model_name

    return _cpu_model_name()


class ProbeSettingError(ValueError):
    """A probe was asked for something this machine or model cannot do."""

"""Energy a measurement cost, from the device's own energy counter (used in probe children).

One counter per device, read before and after the measured window:

- ``cuda:N`` (NVIDIA): NVML's total energy since the driver loaded
  (``nvmlDeviceGetTotalEnergyConsumption``, mJ; Volta and later), the whole board;
- ``cuda:N`` on a ROCm torch (AMD): ``amdsmi_get_energy_count`` (accumulator x resolution, uJ);
- ``cpu``: Intel RAPL through ``/sys/class/powercap`` (``energy_uj`` of each CPU package,
  wrap-around handled; AMD Zen CPUs expose the same files). The whole package: whatever else
  runs on the CPU is counted too, so a noisy row's energy is noisy as well.

Where nothing can be read (no counter on this GPU, ``energy_uj`` readable by root only as on
most Linux since 5.10, a VM without RAPL, MPS and XPU which expose none) the reading is
``energy_j = None`` with the reason in ``note``: never a guess.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

POWERCAP = Path("/sys/class/powercap")


@dataclass
class EnergyReading:
    """Joules over one window and the average power, or None with the reason."""

    energy_j: float | None
    method: str | None
    """``NVML total energy``, ``amdsmi energy counter``, ``RAPL package (powercap)``."""
    avg_power_w: float | None
    note: str
    seconds: float

    def fields(self, samples: int) -> dict[str, Any]:
        """The row's energy fields; ``energy_per_sample_j`` over ``samples`` samples."""
        per_sample = None
        if self.energy_j is not None and samples > 0:
            per_sample = round(self.energy_j / samples, 6)
        return {"energy_j": self.energy_j, "energy_method": self.method,
                "avg_power_w": self.avg_power_w, "energy_note": self.note,
                "energy_per_sample_j": per_sample}


class _Counter:
    """A monotonic joule reader; ``read()`` raises when the counter fails."""

    def __init__(self, method: str, read: Callable[[], float], note: str = "",
                 close: Callable[[], None] | None = None) -> None:
        self.method, self.read, self.note, self._close = method, read, note, close

    def close(self) -> None:
        if self._close is not None:
            try:
                self._close()
            except Exception:  # noqa: BLE001
                pass


class EnergyMeter:
    """``start()`` then ``stop()`` around a measured window; see the module for the counters."""

    def __init__(self, device: str, powercap: Path | None = None, rocm: bool | None = None) -> None:
        self.counter: _Counter | None = None
        self.reason = ""
        self._start_j: float | None = None
        self._t0 = 0.0
        try:
            self.counter = _counter_for(device, powercap or POWERCAP, rocm)
        except _NoCounter as err:
            self.reason = str(err)

    def start(self) -> "EnergyMeter":
        self._t0 = time.perf_counter()
        self._start_j = self._read()
        return self

    def stop(self) -> EnergyReading:
        seconds = time.perf_counter() - self._t0
        end = self._read()
        if self.counter is None or self._start_j is None or end is None:
            return EnergyReading(None, None, None, self.reason or "the energy counter failed", seconds)
        joules = max(0.0, end - self._start_j)
        power = round(joules / seconds, 3) if seconds > 0 else None
        return EnergyReading(round(joules, 6), self.counter.method, power, self.counter.note, seconds)

    def close(self) -> None:
        if self.counter is not None:
            self.counter.close()

    def _read(self) -> float | None:
        if self.counter is None:
            return None
        try:
            return float(self.counter.read())
        except Exception as err:  # noqa: BLE001 - a failing counter is a reason, not a crash
            self.reason = f"{self.counter.method} failed ({type(err).__name__}: {err})"
            return None


class _NoCounter(Exception):
    pass


def _counter_for(device: str, powercap: Path, rocm: bool | None) -> _Counter:
    kind = device.split(":")[0]
    if kind == "cpu":
        return rapl_counter(powercap)
    if kind == "cuda":
        index = int(device.split(":")[1]) if ":" in device else 0
        if rocm is None:
            rocm = _torch_is_rocm()
        return amdsmi_counter(index) if rocm else nvml_counter(index)
    raise _NoCounter(f"no energy counter for {kind}: torch and the driver expose none for it")


def _torch_is_rocm() -> bool:
    try:
        import torch

        return bool(getattr(torch.version, "hip", None))
    except Exception:  # noqa: BLE001
        return False


def _visible_index(index: int, variable: str) -> int:
    """The driver's index of torch's ``cuda:index`` when ``variable`` renumbers devices."""
    visible = os.environ.get(variable, "").split(",")
    try:
        return int(visible[index])
    except (IndexError, ValueError):
        return index


def nvml_counter(index: int) -> _Counter:
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception as err:  # noqa: BLE001 - ImportError, NVMLError, OSError
        raise _NoCounter(f"no NVML energy counter: NVML not available ({err})") from err
    try:
        handle = pynvml.nvmlDeviceGetHandleByIndex(_visible_index(index, "CUDA_VISIBLE_DEVICES"))
        pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    except Exception as err:  # noqa: BLE001 - NOT_SUPPORTED before Volta
        pynvml.nvmlShutdown()
        raise _NoCounter(f"this GPU has no NVML energy counter ({err})") from err
    return _Counter("NVML total energy",
                    lambda: pynvml.nvmlDeviceGetTotalEnergyConsumption(handle) / 1000.0,
                    "the whole GPU board (other processes on it included); the CPU not counted",
                    pynvml.nvmlShutdown)


def amdsmi_counter(index: int) -> _Counter:
    from selector.core.devices.amd import import_amdsmi

    amdsmi, reason = import_amdsmi()
    if amdsmi is None:
        raise _NoCounter(f"no AMD energy counter: {reason}")
    try:
        amdsmi.amdsmi_init()
    except Exception as err:  # noqa: BLE001 - init refused (no driver, no permission)
        raise _NoCounter(f"no AMD energy counter: amdsmi could not start ({err})") from err
    try:
        handle = amdsmi.amdsmi_get_processor_handles()[_visible_index(index, "HIP_VISIBLE_DEVICES")]

        def read() -> float:
            count = amdsmi.amdsmi_get_energy_count(handle)
            return float(count["energy_accumulator"]) * float(count["counter_resolution"]) / 1e6

        read()
    except Exception as err:  # noqa: BLE001
        amdsmi.amdsmi_shut_down()
        raise _NoCounter(f"this AMD GPU's energy counter cannot be read ({err})") from err
    return _Counter("amdsmi energy counter", read,
                    "the whole GPU (other processes on it included); the CPU not counted",
                    amdsmi.amdsmi_shut_down)


def rapl_counter(powercap: Path) -> _Counter:
    """The sum of every CPU package's RAPL counter, wrap-around handled."""
    if not powercap.is_dir():
        raise _NoCounter(f"no RAPL energy counter: {powercap} does not exist (no powercap "
                         "driver, as in most VMs and on macOS and Windows)")
    zones = []
    for zone in sorted(powercap.glob("*-rapl:[0-9]*")):
        if ":" in zone.name.split("rapl:", 1)[1]:
            continue  # a sub-zone (core, uncore, dram) of a package
        name = _read_text(zone / "name")
        if name.startswith("package"):
            zones.append(zone)
    if not zones:
        raise _NoCounter(f"no RAPL energy counter: {powercap} has no CPU package zone "
                         "(a VM, or a CPU without RAPL)")
    unreadable = [z for z in zones if not os.access(z / "energy_uj", os.R_OK)]
    if unreadable:
        raise _NoCounter(f"RAPL energy counter {unreadable[0] / 'energy_uj'} is readable by root only "
                         "(Linux restricts it since 5.10); run with access to it to measure energy")
    ranges = [int(_read_text(z / "max_energy_range_uj") or 0) for z in zones]
    last = [int(_read_text(z / "energy_uj")) for z in zones]
    total_uj = [0]

    def read() -> float:
        now = [int(_read_text(z / "energy_uj")) for z in zones]
        for i, value in enumerate(now):
            delta = value - last[i]
            if delta < 0:  # the counter wrapped
                delta += ranges[i]
            total_uj[0] += delta
            last[i] = value
        return total_uj[0] / 1e6

    return _Counter("RAPL package (powercap)", read,
                    f"whole CPU package{'s' if len(zones) > 1 else ''}: everything else running on "
                    "the CPU is counted too")


def _read_text(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""

"""Peak memory of the probe process, measured while it works (used in probe children).

- Resident memory (RSS): on Linux the kernel's own high-water mark (``VmHWM``, reset through
  ``/proc/self/clear_refs``), which misses no spike however short; elsewhere a background
  thread polls it every ``poll_s`` (10 ms by default). Where the kernel keeps the peak, the
  thread polls only every ``RELAXED_POLL_S``: a Python thread waking 100 times a second
  costs the measured model a few percent on a busy machine (it competes for the GIL and,
  when the CPU is oversubscribed, can be preempted while holding it).
- CUDA: ``torch.cuda.max_memory_allocated`` / ``max_memory_reserved`` (reset per window).
- NVML: the GPU memory the driver attributes to this process (CUDA context included),
  polled every ``nvml_every_s`` when NVML and the process are visible.

``reset()`` starts a new window (one latency row, one fine-tune); ``peaks()`` reads it.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

MIB = 2**20
RELAXED_POLL_S = 0.25


def current_rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / MIB


def _read_hwm_mib() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        return None
    return None


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


class NvmlProcessMemory:
    """GPU memory NVML attributes to this process on one GPU; ``read()`` is None when unknown
    (no NVML, another PID namespace in a container, a driver that does not say)."""

    def __init__(self, index: int, pid: int | None = None) -> None:
        self.pid = os.getpid() if pid is None else pid
        self.handle: Any = None
        self.note = ""
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml = pynvml
            self.handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        except Exception as err:  # noqa: BLE001 - any NVML failure means "not available"
            self.note = f"NVML not available ({err})"

    def read(self) -> float | None:
        if self.handle is None:
            return None
        try:
            procs = self._nvml.nvmlDeviceGetComputeRunningProcesses(self.handle)
        except Exception:  # noqa: BLE001
            return None
        for proc in procs:
            used = getattr(proc, "usedGpuMemory", None)
            if proc.pid == self.pid and used is not None:
                return used / MIB
        return None


class MemoryMonitor:
    """Background poller of this process's memory. Use as a context manager or start/stop."""

    def __init__(self, device: str = "cpu", poll_s: float = 0.01, nvml_every_s: float = 0.1) -> None:
        self.device = device
        self.poll_s = poll_s
        self.nvml_every_s = nvml_every_s
        self._cuda = device.startswith("cuda")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._peak_rss = 0.0
        self._peak_nvml: float | None = None
        self._hwm_ok = False
        self.nvml: NvmlProcessMemory | None = None
        if self._cuda:
            index = int(device.split(":")[1]) if ":" in device else 0
            self.nvml = NvmlProcessMemory(index)

    @property
    def interval_s(self) -> float:
        """The poll interval in use: ``poll_s``, or relaxed when the kernel keeps the peak."""
        if not self._hwm_ok:
            return self.poll_s
        return max(self.poll_s, min(RELAXED_POLL_S, self.nvml_every_s) if self._cuda else RELAXED_POLL_S)

    @property
    def method(self) -> str:
        if self._hwm_ok:
            return "kernel high-water mark (VmHWM)"
        return f"polled every {self.poll_s * 1000:g} ms"

    def start(self) -> "MemoryMonitor":
        self.reset()
        self._thread = threading.Thread(target=self._poll, name="memory-monitor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)

    def __enter__(self) -> "MemoryMonitor":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _poll(self) -> None:
        import psutil

        proc = psutil.Process()
        next_nvml = 0.0
        while not self._stop.wait(self.interval_s):
            rss = proc.memory_info().rss / MIB
            with self._lock:
                self._peak_rss = max(self._peak_rss, rss)
            now = time.perf_counter()
            if self.nvml is not None and now >= next_nvml:
                next_nvml = now + self.nvml_every_s
                used = self.nvml.read()
                if used is not None:
                    with self._lock:
                        self._peak_nvml = max(self._peak_nvml or 0.0, used)

    def reset(self) -> None:
        """Start a new measuring window."""
        with self._lock:
            self._peak_rss = current_rss_mib()
            self._peak_nvml = None
        self._hwm_ok = _reset_hwm()
        if self._cuda:
            import torch

            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        elif self.device != "cpu":
            from selector.core.devices.backend import reset_peaks

            reset_peaks(self.device)

    def peaks(self) -> dict[str, Any]:
        """Peaks since the last ``reset()``, in MiB."""
        rss = current_rss_mib()
        with self._lock:
            self._peak_rss = max(self._peak_rss, rss)
            peak, nvml = self._peak_rss, self._peak_nvml
        if self.nvml is not None:
            used = self.nvml.read()
            if used is not None:
                nvml = max(nvml or 0.0, used)
        hwm = _read_hwm_mib() if self._hwm_ok else None
        out: dict[str, Any] = {
            "peak_rss_mib": round(max(peak, hwm or 0.0), 1),
            "peak_rss_method": self.method,
            "rss_poll_ms": round(self.interval_s * 1000, 1),
            "cuda_max_allocated_mib": None, "cuda_max_reserved_mib": None,
            "nvml_process_mib": None if nvml is None else round(nvml, 1),
        }
        if self._cuda:
            import torch

            out["cuda_max_allocated_mib"] = round(torch.cuda.max_memory_allocated(self.device) / MIB, 1)
            out["cuda_max_reserved_mib"] = round(torch.cuda.max_memory_reserved(self.device) / MIB, 1)
        elif self.device != "cpu":  # XPU's peaks, MPS's current figures (devices.backend)
            from selector.core.devices.backend import allocator_peaks

            out["cuda_max_allocated_mib"], out["cuda_max_reserved_mib"] = allocator_peaks(self.device)
        return out

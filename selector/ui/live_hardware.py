"""LiveHardware: this machine's profile for the window, without importing torch in the app.

Two steps, so the hardware panel fills at once: psutil and NVML (milliseconds), then torch's
view (version, CUDA runtime, threads). torch's view comes from a child process
(``selector hw --json``): importing torch takes seconds and, in a worker thread, holds the
GIL through the loading of its libraries, which froze the GUI thread for 1.3-2.7 s in the
window's first second (measured with ``tests/benchmarks/first_second.py`` on a busy 2-core VM).
Probes run in child processes too, so the child's view is the one they see. ``stop()`` kills
the child (the window calls it on close), so nothing outlives the app.
"""

from __future__ import annotations

import copy
import json
import logging
import subprocess
import sys
import threading
from typing import Iterator

from selector.core import hardware
from selector.core.hardware import HardwareProfile

log = logging.getLogger(__name__)
TORCH_VIEW_TIMEOUT_S = 180.0
"""A torch import on a loaded machine can take a minute; past this, the view is left out."""


def hw_command() -> list[str]:
    """``selector hw --json`` for this interpreter, or this frozen app."""
    base = [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m", "selector"]
    return [*base, "hw", "--json"]


class LiveHardware:
    """Detects this machine in two steps (see the module); one detection at a time."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._stopped = threading.Event()
        self._lock = threading.Lock()

    def detect(self) -> Iterator[HardwareProfile]:
        """Worker generator: the profile without torch, then a copy with torch's view."""
        profile = hardware.detect_hardware(include_torch=False)
        yield profile
        view = self._torch_view()
        if view is not None and not self._stopped.is_set():
            full = copy.deepcopy(profile)  # never mutate what the GUI holds
            full.torch, full.cpu.torch_threads = view.torch, view.cpu.torch_threads
            if view.accelerators:  # what only torch sees: XPU, MPS's limit, ROCm's view
                full.gpus, full.gpu_status = view.gpus, view.gpu_status
                full.accelerators = view.accelerators
            yield full

    def _torch_view(self) -> HardwareProfile | None:
        with self._lock:
            if self._stopped.is_set():
                return None
            self._proc = subprocess.Popen(hw_command(), stdout=subprocess.PIPE,
                                          stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        try:
            out, _ = self._proc.communicate(timeout=TORCH_VIEW_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.communicate()
            log.warning("torch's view of this machine took over %.0f s; left out", TORCH_VIEW_TIMEOUT_S)
            return None
        finally:
            with self._lock:
                self._proc = None
        if self._stopped.is_set():
            return None
        try:
            return HardwareProfile.from_dict(json.loads(out))
        except (ValueError, TypeError, KeyError) as err:
            log.warning("torch's view of this machine could not be read: %s", err)
            return None

    def stop(self) -> None:
        """Kill the child if one runs (the window is closing); no later detection starts."""
        with self._lock:
            self._stopped.set()
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()

"""Running on a device: torch's backend for a device string, its synchronisation, step timing
and memory counters (used in probe children; imports torch lazily).

- ``cuda:N`` (NVIDIA, and AMD under a ROCm torch: HIP keeps the ``torch.cuda`` API) and
  ``xpu:N`` (Intel) time a step with an event pair on the device's stream, then synchronise.
- ``mps`` (Apple) times with ``torch.mps.event.Event`` where torch has it, else synchronises
  around ``perf_counter``. Memory: MPS keeps no peak, so ``driver_allocated_memory`` (what the
  Metal driver holds for this process, the cache included) is read at the end of a window.
- ``cpu``: ``perf_counter``; nothing to synchronise.
"""

from __future__ import annotations

import time
from typing import Any, Callable

MIB = 2**20
BACKENDS = ("cpu", "cuda", "xpu", "mps")


def backend_of(device: str) -> str:
    """``cuda:1`` -> ``cuda``; ``xpu:0`` -> ``xpu``; ``mps`` -> ``mps``; else ``cpu``."""
    head = device.split(":")[0]
    return head if head in BACKENDS else "cpu"


def _module(device: str) -> Any:
    import torch

    return getattr(torch, backend_of(device))


def synchronize(device: str) -> None:
    """Wait for the device's queued work (a no-op on the CPU)."""
    backend = backend_of(device)
    if backend == "cpu":
        return
    module = _module(device)
    module.synchronize() if backend == "mps" else module.synchronize(device)


def empty_cache(device: str) -> None:
    if backend_of(device) != "cpu":
        _module(device).empty_cache()


def timing_method(device: str) -> str:
    """What a latency row's ``timing`` says: ``cuda_events``, ``xpu_events``, ``mps_events``,
    ``mps_sync`` (perf_counter between synchronisations) or ``perf_counter``."""
    backend = backend_of(device)
    if backend == "cpu":
        return "perf_counter"
    if backend == "mps" and _event_class(device) is None:
        return "mps_sync"
    return f"{backend}_events"


def _event_class(device: str) -> Any:
    backend = backend_of(device)
    if backend == "mps":
        event = getattr(_module(device), "event", None)
        return getattr(event, "Event", None)
    return getattr(_module(device), "Event", None)


def step_timer(device: str) -> Callable[[Callable[[], Any]], float]:
    """A function that runs ``work()`` once and returns its time on the device, ms."""
    backend = backend_of(device)
    if backend == "cpu":
        def cpu(work: Callable[[], Any]) -> float:
            start = time.perf_counter()
            work()
            return (time.perf_counter() - start) * 1000.0
        return cpu
    event = _event_class(device)
    if event is None:
        def synced(work: Callable[[], Any]) -> float:
            synchronize(device)
            start = time.perf_counter()
            work()
            synchronize(device)
            return (time.perf_counter() - start) * 1000.0
        return synced

    def events(work: Callable[[], Any]) -> float:
        begin, end = event(enable_timing=True), event(enable_timing=True)
        begin.record()
        work()
        end.record()
        end.synchronize()
        return float(begin.elapsed_time(end))
    return events


def reset_peaks(device: str) -> None:
    """Start a new window for the backend's allocator peaks (CUDA, ROCm, XPU)."""
    backend = backend_of(device)
    if backend in ("cuda", "xpu"):
        synchronize(device)
        _module(device).reset_peak_memory_stats(device)


def allocator_peaks(device: str) -> tuple[float | None, float | None]:
    """``(allocated, reserved)`` MiB from the backend's own counters: the window's peaks on
    CUDA/ROCm/XPU; on MPS what is allocated now and what the Metal driver holds (no peaks)."""
    backend = backend_of(device)
    if backend == "cpu":
        return None, None
    try:
        module = _module(device)
        if backend in ("cuda", "xpu"):
            return (round(module.max_memory_allocated(device) / MIB, 1),
                    round(module.max_memory_reserved(device) / MIB, 1))
        if backend == "mps":
            return (round(module.current_allocated_memory() / MIB, 1),
                    round(module.driver_allocated_memory() / MIB, 1))
    except Exception:  # noqa: BLE001 - an older torch without the counter
        return None, None
    return None, None

"""What a probe kind sees in the child: its spec, a clock with a budget, and ``emit``."""

from __future__ import annotations

import threading
import time
from typing import IO, Any

from selector.core.probes import events as ev
from selector.core.probes.spec import ProbeSpec

PROGRESS_INTERVAL_S = 0.1
"""Progress events without a loss are sent at most this often (10 per second)."""


def is_oom(err: BaseException) -> bool:
    """Whether an exception means "out of memory": ``MemoryError``, torch's
    ``OutOfMemoryError``, or the allocator's messages (CUDA, cuBLAS, the CPU allocator, MPS)."""
    if isinstance(err, MemoryError) or type(err).__name__ == "OutOfMemoryError":
        return True
    text = str(err)
    return (
        "out of memory" in text.lower()
        or "CUBLAS_STATUS_ALLOC_FAILED" in text
        or ("DefaultCPUAllocator" in text and "allocate" in text)
    )


class ProbeContext:
    """Handed to a probe kind: ``emit`` events, know the budget, notice a stop request.

    ``emit`` is thread-safe; events go to the parent as JSON lines on a dedicated stream
    (the child's real stdout, while ``print`` and library noise go to stderr).
    """

    def __init__(self, spec: ProbeSpec, stream: IO[bytes], t0: float | None = None) -> None:
        self.spec = spec
        self._stream = stream
        self._lock = threading.Lock()
        self.t0 = time.perf_counter() if t0 is None else t0
        self.budget_t0 = self.t0
        self.stop_requested = threading.Event()
        """Set when the parent asks the probe to wrap up (a soft stop)."""
        self._last_progress = 0.0
        self.current_phase = ""

    # ------------------------------------------------------------------ clock
    def elapsed(self) -> float:
        """Seconds since the child started (the budget's clock)."""
        return time.perf_counter() - self.t0

    def start_budget(self) -> None:
        """Start the budget's clock now. Kinds call it once the model is loaded, so the
        budget buys measuring time, not imports and loading (the hard timeout covers those)."""
        self.budget_t0 = time.perf_counter()

    def time_left(self) -> float:
        """Seconds of the soft budget left (negative when overrun)."""
        return self.spec.budget_s - (time.perf_counter() - self.budget_t0)

    def should_stop(self) -> bool:
        """True when the budget is spent or the parent asked to stop: wrap up and report."""
        return self.stop_requested.is_set() or self.time_left() <= 0

    # ----------------------------------------------------------------- events
    def emit(self, type: str, **fields: Any) -> None:
        """Send one event to the parent (``type`` is one of ``events.EVENT_TYPES``)."""
        event = {"type": type, "t": round(self.elapsed(), 4)}
        event.update({k: v for k, v in fields.items() if v is not None})
        line = ev.encode(ev.sanitize(event))
        with self._lock:
            try:
                self._stream.write(line)
                self._stream.flush()
            except (BrokenPipeError, ValueError, OSError):
                pass  # the parent is gone; the watchdog ends this process

    def phase(self, name: str, message: str = "", **fields: Any) -> None:
        self.current_phase = name
        self.emit(ev.PHASE, phase=name, message=message, **fields)

    def progress(self, step: int | None = None, total: int | None = None, *,
                 fraction: float | None = None, eta_s: float | None = None,
                 loss: float | None = None, force: bool = False, **figures: Any) -> None:
        """A step of the current phase. Throttled to 10 per second, except steps with a
        ``loss`` (every training step is sent, for the live loss plot) and ``force``."""
        now = time.perf_counter()
        if loss is None and not force and now - self._last_progress < PROGRESS_INTERVAL_S:
            return
        self._last_progress = now
        if fraction is not None:
            fraction = min(1.0, max(0.0, fraction))
        self.emit(ev.PROGRESS, phase=self.current_phase, step=step, total=total,
                  fraction=fraction, eta_s=None if eta_s is None else max(0.0, eta_s),
                  loss=loss, data=figures or None)

    def row(self, row: dict[str, Any]) -> None:
        """One finished measurement row; the parent keeps it even if the probe fails later."""
        self.emit(ev.ROW, data=row)

    def log(self, message: str, level: str = "info") -> None:
        self.emit(ev.LOG, message=message, data={"level": level})

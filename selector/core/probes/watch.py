"""The runner's side of the contention record: which stretch of a probe each record covers.

The parent watches the child from the moment it starts (``probes.contention.Sampler``) and
cuts the watch into windows at the child's events: the whole probe runs from ``ready`` to
its result (or error); each row's window opens at the first measuring phase after the
previous row (not loading, not the reference workload) and closes when the row arrives. So a
latency row's record covers its warm-up and timed iterations, a fine-tune's its evaluation
and training. Nothing here may fail a probe: without psutil readings the records are None.
"""

from __future__ import annotations

from typing import Any

from selector.core.probes import contention as cn

NOT_MEASURING = {"start", "ready", "data", "load", "reference", "export", "parity", None}
"""Phases that open no row window: setting up is not measuring."""


class ProbeWatch:
    """Windows over one probe; the runner calls ``start``, ``poll`` and ``on_*`` as events
    arrive, then ``records`` at the end."""

    def __init__(self) -> None:
        self.sampler: cn.Sampler | None = None
        self.reference: dict[str, float] = {}
        """Reference workload speed in the child, GMAC/s: ``before`` and ``after``."""
        self._probe: list[cn.Snapshot | None] = [None, None]
        self._row_open: cn.Snapshot | None = None
        self._rows: list[tuple[cn.Snapshot, cn.Snapshot] | None] = []

    def start(self, pid: int, device: str) -> None:
        try:
            self.sampler = cn.Sampler(pid, device)
        except Exception:  # noqa: BLE001 - no psutil reading: the records stay empty
            self.sampler = None

    def close(self) -> None:
        if self.sampler is not None:
            self.sampler.close()

    def members(self) -> list:
        """The child's process tree as last listed (psutil processes), for the RSS poll."""
        return self.sampler.tree.members if self.sampler is not None else []

    def poll(self, now: float | None = None, gpu_idle: bool = False) -> None:
        if self.sampler is not None:
            try:
                self.sampler.poll(now, gpu_idle=gpu_idle)
            except Exception:  # noqa: BLE001
                pass

    def _snap(self) -> cn.Snapshot | None:
        try:
            return self.sampler.snapshot() if self.sampler is not None else None
        except Exception:  # noqa: BLE001
            return None

    # ---------------------------------------------------------------- events
    def on_phase(self, phase: str | None, data: dict[str, Any]) -> None:
        if phase == "ready":
            self._probe[0] = self._snap()
        elif phase == "reference":
            if data.get("gmacs"):
                self.reference[str(data.get("when"))] = float(data["gmacs"])
            if data.get("when") == "before":  # the probe has not touched the GPU yet: what
                self.poll(gpu_idle=True)      # NVML sees busy now is other processes' work
        elif phase not in NOT_MEASURING and self._row_open is None:
            self._row_open = self._snap()

    def on_row(self) -> None:
        end = self._snap()
        self._rows.append((self._row_open, end) if self._row_open and end else None)
        self._row_open = None

    def on_end(self) -> None:
        """The child reported its result or an error: the whole probe's window closes."""
        if self._probe[1] is None:
            self._probe[1] = self._snap()

    # ---------------------------------------------------------------- records
    def records(self, rows: list[dict], threads: int | None) -> dict[str, Any] | None:
        """The whole probe's record; each row dict gets its own window's (``contention``)."""
        start, end = self._probe
        end = end or self._snap()
        if self.sampler is None or start is None or end is None:
            return None
        before, after = self.reference.get("before"), self.reference.get("after")
        calibration = cn.calibration_reference()
        whole = self.sampler.record(start, end, threads=threads, before=before, after=after,
                                    calibration=calibration)
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                continue
            window = self._rows[i] if i < len(self._rows) else None
            rec = (self.sampler.record(*window, threads=row.get("threads") or threads, before=before,
                                       after=after, calibration=calibration) if window else whole)
            row["contention"] = rec.to_dict()
        return whole.to_dict()

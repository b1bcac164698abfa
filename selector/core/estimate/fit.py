"""Does a workload fit on a device? Against its FREE memory, with a safety margin.

``fit(entry, workload, device)`` estimates the peak (:func:`estimate_memory`) and compares it
with ``device.free_mib`` (available RAM for the CPU, free memory for a GPU as NVML reports it,
from a live or a reference :class:`HardwareProfile`):

- ``fits``: the estimate leaves at least ``margin`` (10 %) of the free memory;
- ``tight``: it fits, but within the margin (estimates can be off by that much);
- ``no``: it needs more than is free.

The reason is one line with the numbers: ``fine-tuning needs 9.8 GiB, 7.1 GiB free on cuda:0``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from selector.core.catalog.entry import CatalogEntry
from selector.core.estimate.memory import MemoryEstimate, Workload, device_kind_of, estimate_memory
from selector.core.hardware import MemoryDevice
from selector.core.units import fmt_mib

FITS, TIGHT, NO = "fits", "tight", "no"
STATUSES = (FITS, TIGHT, NO)


@dataclass
class FitResult:
    status: str
    """``fits``, ``tight`` or ``no``."""
    device_id: str
    needed_mib: float
    free_mib: float
    estimate: MemoryEstimate
    reason: str

    @property
    def runs(self) -> bool:
        """Fits or tight: worth trying."""
        return self.status != NO

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["estimate"] = self.estimate.to_dict()
        return data


def fit(
    entry: CatalogEntry,
    workload: Workload,
    device: MemoryDevice,
    margin: float = 0.10,
    overhead_mib: float | None = None,
) -> FitResult:
    """Fit status of ``workload`` for ``entry`` on ``device`` (free memory, ``margin`` kept)."""
    if not 0.0 <= margin < 1.0:
        raise ValueError(f"margin must be in [0, 1), not {margin}")
    estimate = estimate_memory(entry, workload, device_kind_of(device.id), overhead_mib)
    return fit_estimate(estimate, device, margin)


def fit_estimate(estimate: MemoryEstimate, device: MemoryDevice, margin: float = 0.10) -> FitResult:
    """The fit verdict for an estimate already made (the filter reuses estimates)."""
    needed, free = estimate.total_mib, max(0.0, device.free_mib)
    what = "fine-tuning" if estimate.workload.training else "inference"
    head = f"{what} needs {fmt_mib(needed)}, {fmt_mib(free)} free on {device.id}"
    if needed <= free * (1.0 - margin):
        status, reason = FITS, head
    elif needed <= free:
        status = TIGHT
        reason = f"{head}: within the {margin:.0%} safety margin"
    else:
        status = NO
        reason = f"{head}: {fmt_mib(needed - free)} short"
    return FitResult(status, device.id, needed, free, estimate, reason)

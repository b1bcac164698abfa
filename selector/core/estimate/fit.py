"""Does a workload fit on a device? Against its FREE memory, with a safety margin.

``fit(entry, workload, device)`` estimates the peak (:func:`estimate_memory`) and compares it
with ``device.free_mib`` (available RAM for the CPU, free memory for a GPU as its platform
reports it; for unified memory the one pool's, with the process's RAM counted in the need),
from a live or a reference :class:`HardwareProfile`; a dtype the backend cannot run is ``no``:

- ``fits``: the estimate leaves at least ``margin`` (10 %) of the free memory;
- ``tight``: it fits, but within the margin (estimates can be off by that much);
- ``no``: it needs more than is free.

The reason is one line with the numbers: ``fine-tuning needs 9.8 GiB, 7.1 GiB free on cuda:0``.

This module is the one home of that decision: the catalog filter, the GUI's badges, ``selector
list``, the one-click shortlist (:func:`fit_request`, on :func:`request_device`) and the probes'
pre-flight check (:func:`fit_status`) all call it, and :func:`free_for_verdicts` says which
free memory a recommendation checks against (what was free when the probes ran, or now).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from selector.core.catalog.entry import CatalogEntry
from selector.core.estimate.memory import MemoryEstimate, Workload, device_kind_of, estimate_memory
from selector.core.estimate.overheads import device_overhead_mib
from selector.core.hardware import MemoryDevice
from selector.core.units import fmt_mib

if TYPE_CHECKING:  # pragma: no cover
    from selector.core.hardware import HardwareProfile
    from selector.core.request import Request

FITS, TIGHT, NO = "fits", "tight", "no"
STATUSES = (FITS, TIGHT, NO)
MARGIN = 0.10
"""Share of the free memory kept as a safety margin: an estimate within it is ``tight``."""


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

    def passes(self, include_tight: bool = True) -> bool:
        """Whether a "what fits" filter keeps it: fits, or tight too when ``include_tight``."""
        return self.status == FITS or (include_tight and self.status == TIGHT)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["estimate"] = self.estimate.to_dict()
        return data


def fit(
    entry: CatalogEntry,
    workload: Workload,
    device: MemoryDevice,
    margin: float = MARGIN,
    overhead_mib: float | None = None,
) -> FitResult:
    """Fit status of ``workload`` for ``entry`` on ``device`` (free memory, ``margin`` kept)."""
    if not 0.0 <= margin < 1.0:
        raise ValueError(f"margin must be in [0, 1), not {margin}")
    if overhead_mib is None:
        overhead_mib = device_overhead_mib(device)
    estimate = estimate_memory(entry, workload, device.kind or device_kind_of(device.id), overhead_mib)
    result = fit_estimate(estimate, device, margin)
    positions = entry.input_size[0] if entry.is_decoder and entry.input_size else None
    if positions and workload.seq_len > positions and result.status != NO:
        reason = f"{workload.seq_len} tokens is beyond the {positions} positions {entry.id} was built for"
        return dataclasses.replace(result, status=NO, reason=reason)
    return result


def fit_status(needed_mib: float, free_mib: float, margin: float = MARGIN) -> str:
    """``fits``, ``tight`` or ``no`` for a need against free memory (MiB), ``margin`` kept."""
    if not 0.0 <= margin < 1.0:
        raise ValueError(f"margin must be in [0, 1), not {margin}")
    free = max(0.0, free_mib)
    if needed_mib <= free * (1.0 - margin):
        return FITS
    return TIGHT if needed_mib <= free else NO


def fit_estimate(estimate: MemoryEstimate, device: MemoryDevice, margin: float = MARGIN) -> FitResult:
    """The fit verdict for an estimate already made (the filter reuses estimates)."""
    needed, free = estimate.total_mib, max(0.0, device.free_mib)
    what = "fine-tuning" if estimate.workload.training else "inference"
    head = f"{what} needs {fmt_mib(needed)}, {fmt_mib(free)} free on {device.id}"
    status = fit_status(needed, free, margin)
    dtype = estimate.workload.dtype
    if device.precisions and dtype not in device.precisions:
        runs = ", ".join(device.precisions)
        reason = f"{dtype} does not run on {device.id} ({device.kind}: {runs})"
        return FitResult(NO, device.id, needed, free, estimate, reason)
    if status == FITS:
        reason = head
    elif status == TIGHT:
        reason = f"{head}: within the {margin:.0%} safety margin"
    else:
        reason = f"{head}: {fmt_mib(needed - free)} short"
    return FitResult(status, device.id, needed, free, estimate, reason)


# ----------------------------------------------------------------- a request's fit
def request_device(request: "Request", profile: "HardwareProfile", *,
                   with_budget: bool = True) -> MemoryDevice:
    """The device a request is checked on: its device (the CPU when the profile has no such
    device), its free memory capped by the request's memory budget when ``with_budget``."""
    from selector.core.request import MIB_PER_GIB

    try:
        device = profile.device(request.device)
    except KeyError:
        device = profile.device("cpu")
    if with_budget and request.memory_budget_gib is not None:
        budget = request.memory_budget_gib * MIB_PER_GIB
        device = dataclasses.replace(device, free_mib=min(device.free_mib, budget))
    return device


@dataclass
class RequestFit:
    """An entry's fit for a request: inference at the request's batch, a training step at its
    training batch, and which of the two the request checks (its ``memory_mode``)."""

    inference: FitResult
    finetune: FitResult
    memory_mode: str = "inference"

    @property
    def checked(self) -> FitResult:
        return self.finetune if self.memory_mode == "finetune" else self.inference


def fit_request(entry: CatalogEntry, request: "Request", device: MemoryDevice,
                margin: float = MARGIN, overhead_mib: float | None = None) -> RequestFit:
    """Both fits of ``entry`` for ``request`` on ``device`` (see :func:`request_device`)."""
    return RequestFit(
        fit(entry, request.inference_workload(), device, margin, overhead_mib),
        fit(entry, request.train_workload(), device, margin, overhead_mib),
        request.memory_mode,
    )


# -------------------------------------------------------- which free memory counts
def free_for_verdicts(device: str, recorded: "dict[str, Any] | HardwareProfile | None" = None,
                      live: "HardwareProfile | None" = None) -> float | None:
    """The free memory (MiB) on ``device`` that a recommendation checks against.

    A probe session's verdicts use what was free when its probes ran: the hardware recorded
    with the session (``recorded``), so a session reopened or exported later reads the same in
    the GUI and in ``selector export``. Only when nothing was recorded (an unprobed "what
    fits", models named from the catalog) does the live machine's free memory now count.
    None when neither knows the device.
    """
    from selector.core.hardware import HardwareProfile

    for source in (recorded, live):
        if not source:
            continue
        try:
            profile = source if isinstance(source, HardwareProfile) else HardwareProfile.from_dict(source)
            return profile.device(device).free_mib
        except (KeyError, ValueError, TypeError):
            if source is recorded:
                return None  # recorded, but without this device: now says nothing of then
    return None

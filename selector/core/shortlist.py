"""Which models the one-click benchmark measures: a short, varied list of what fits.

The rule, in order (each step says why a model is in or out):

1. The request's task; test architectures (timm's ``test_*``) are left out.
2. Inference must fit in the memory that is free on the request's device (or the memory
   budget), by the estimator; fine-tuning must fit too when memory is checked for it.
3. With a latency budget, a model whose *estimated* latency is over three times the budget
   is left out (estimates are rough; the probe will measure the rest).
4. Ranked by published accuracy (the prior), models with pretrained weights on this machine
   first (without weights, accuracy and transfer scores cannot be measured).
5. Variety: at most ``per_family`` models of one family, and the fastest model that passes
   (fewest MACs) is always included, so the Pareto front has a fast end.

The user can then add or remove models before the run starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from selector.core.catalog import filters
from selector.core.catalog.entry import CatalogEntry
from selector.core.estimate.fit import NO, fit_estimate
from selector.core.estimate.memory import default_overhead_mib, device_kind_of, estimate_memory
from selector.core.hardware import HardwareProfile, MemoryDevice
from selector.core.request import MIB_PER_GIB, Request
from selector.core.units import fmt_mib, fmt_ms

if TYPE_CHECKING:  # pragma: no cover
    from selector.core.estimate.calibration import Calibration

LATENCY_SLACK = 3.0
"""Keep models estimated up to this many times over the latency budget."""


@dataclass
class ShortlistItem:
    entry: CatalogEntry
    reason: str
    """Why it was picked, with the numbers."""
    estimated_ms: float | None = None
    needed_mib: float | None = None


def _budget_device(request: Request, profile: HardwareProfile) -> MemoryDevice:
    try:
        device = profile.device(request.device)
    except KeyError:
        device = profile.device("cpu")
    if request.memory_budget_gib is not None:
        budget = request.memory_budget_gib * MIB_PER_GIB
        device = MemoryDevice(device.id, device.name, device.total_mib, min(device.free_mib, budget))
    return device


def shortlist(
    entries: list[CatalogEntry],
    request: Request,
    profile: HardwareProfile,
    n: int = 6,
    *,
    per_family: int = 2,
    prefer_local_weights: bool = True,
    calibration: "Calibration | None" = None,
) -> list[ShortlistItem]:
    """Up to ``n`` candidates for ``request`` on ``profile``, best prior first."""
    from selector.core.estimate.latency import estimate_latency

    device = _budget_device(request, profile)
    kind = device_kind_of(device.id)
    overhead = default_overhead_mib(kind)
    infer_w, train_w = request.inference_workload(), request.train_workload()
    device_name = device.name if kind == "cuda" else ""
    passed: list[ShortlistItem] = []
    for entry in entries:
        if entry.task != request.task or entry.family == "test":
            continue
        infer = fit_estimate(estimate_memory(entry, infer_w, kind, overhead), device)
        if infer.status == NO:
            continue
        checked = infer
        if request.memory_mode == "finetune":
            checked = fit_estimate(estimate_memory(entry, train_w, kind, overhead), device)
            if checked.status == NO:
                continue
        latency = estimate_latency(entry, infer_w, device.id, calibration, device_name=device_name)
        ms = latency.ms_per_batch if latency else None
        if request.latency_budget_ms and ms is not None and ms > LATENCY_SLACK * request.latency_budget_ms:
            continue
        passed.append(ShortlistItem(entry, "", ms, checked.needed_mib))

    def prior(item: ShortlistItem) -> tuple:
        acc = filters.accuracy(item.entry)
        local = bool(item.entry.weights_cached or item.entry.local_path)
        return (not local if prefer_local_weights else False, -(acc if acc is not None else -1.0),
                item.entry.params or 0, item.entry.id)

    passed.sort(key=prior)
    chosen: list[ShortlistItem] = []
    per: dict[str, int] = {}
    for item in passed:
        if len(chosen) >= n:
            break
        fam = item.entry.family
        if per.get(fam, 0) >= per_family:
            continue
        per[fam] = per.get(fam, 0) + 1
        chosen.append(item)
    fastest = min(passed, key=lambda i: (i.entry.macs or float("inf"), i.entry.id), default=None)
    if fastest is not None and fastest not in chosen:
        if len(chosen) >= n:
            chosen.pop()
        chosen.append(fastest)
    for item in chosen:
        item.reason = _reason(item, device, request, item is fastest)
    return chosen


def _reason(item: ShortlistItem, device: MemoryDevice, request: Request, fastest: bool) -> str:
    parts = []
    acc = filters.accuracy(item.entry)
    if acc is not None:
        parts.append(f"published accuracy {acc:.1f}%")
    what = "fine-tuning" if request.memory_mode == "finetune" else "inference"
    parts.append(f"{what} needs ~{fmt_mib(item.needed_mib)} of {fmt_mib(device.free_mib)} on {device.id}")
    if item.estimated_ms is not None:
        parts.append(f"~{fmt_ms(item.estimated_ms)} per batch of {request.batch_size} (estimate)")
    if not (item.entry.weights_cached or item.entry.local_path):
        parts.append("weights not on this machine")
    if fastest:
        parts.append("the fastest that fits")
    return "; ".join(parts)

"""Which models the one-click benchmark measures: a short, varied list of what fits.

The rule, in order (each step says why a model is in or out):

1. The request's task; test architectures (timm's ``test_*``) are left out.
2. Inference must fit in the memory that is free on the request's device (or the memory
   budget), by the estimator; fine-tuning must fit too when memory is checked for it.
3. With a latency budget, a model whose *estimated* latency is over three times the budget
   is left out (estimates are rough; the probe will measure the rest). Without one, on a CPU,
   a model estimated at more than :data:`SLOW_FACTOR` times the fastest candidate's time per
   batch (and over :data:`SLOW_FLOOR_MS`), or over :data:`SLOW_CAP_MS`, is left out too: on
   a small CPU the best-published models take tens of seconds per image, and a probe of them
   measures one or two iterations while the rest of the run waits. Each such model is listed
   with its reason (:attr:`Shortlist.left_out`), so the user can still tick it.
4. Ranked by published accuracy (the prior), models with pretrained weights on this machine
   first (without weights, accuracy and transfer scores cannot be measured).
5. Variety: at most ``per_family`` models of one family, and the fastest model that passes
   (fewest MACs) is always included, so the Pareto front has a fast end.

The user can then add or remove models before the run starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from selector.core.catalog import filters
from selector.core.catalog.entry import CatalogEntry
from selector.core.estimate.fit import fit_request, request_device
from selector.core.estimate.memory import device_kind_of
from selector.core.estimate.overheads import device_overhead_mib
from selector.core.hardware import HardwareProfile, MemoryDevice
from selector.core.request import Request
from selector.core.units import fmt_mib, fmt_ms

if TYPE_CHECKING:  # pragma: no cover
    from selector.core.estimate.calibration import Calibration

LATENCY_SLACK = 3.0
"""Keep models estimated up to this many times over the latency budget."""
SLOW_FACTOR = 20.0
"""On a CPU without a latency budget: leave out models estimated at more than this many
times the fastest candidate's ms per batch."""
SLOW_FLOOR_MS = 1_000.0
"""...but never a model estimated under this many ms per batch: probing it costs seconds,
however fast the fastest candidate is (a 2 ms MobileNet must not push out an 80 ms ResNet-50)."""
SLOW_CAP_MS = 10_000.0
"""On a CPU without a latency budget: leave out models estimated at more than this many ms
per batch, however slow the fastest is (a 60 s probe would measure a handful of passes)."""


@dataclass
class ShortlistItem:
    entry: CatalogEntry
    reason: str
    """Why it was picked (or, in ``Shortlist.left_out``, why not), with the numbers."""
    estimated_ms: float | None = None
    needed_mib: float | None = None


@dataclass
class Shortlist:
    chosen: list[ShortlistItem]
    """What the one-click benchmark measures, best prior first."""
    left_out: list[ShortlistItem]
    """Models that would have been chosen but are far too slow on this CPU, each with why."""


def shortlist(entries: list[CatalogEntry], request: Request, profile: HardwareProfile, n: int = 6,
              **options: Any) -> list[ShortlistItem]:
    """Up to ``n`` candidates for ``request`` on ``profile``, best prior first: the ``chosen``
    of :func:`plan_shortlist`, which takes the same ``options`` (``per_family``,
    ``prefer_local_weights``, ``calibration``)."""
    return plan_shortlist(entries, request, profile, n, **options).chosen


def plan_shortlist(
    entries: list[CatalogEntry],
    request: Request,
    profile: HardwareProfile,
    n: int = 6,
    *,
    per_family: int = 2,
    prefer_local_weights: bool = True,
    calibration: "Calibration | None" = None,
) -> Shortlist:
    """The shortlist and the too-slow models it left out (see the module's rule)."""
    from selector.core.estimate.latency import estimate_latency

    device = request_device(request, profile)
    kind = device_kind_of(device.id)
    device_name = device.name if kind != "cpu" else ""
    overhead = device_overhead_mib(device)
    infer_w = request.inference_workload()
    passed: list[ShortlistItem] = []
    for entry in entries:
        if entry.task != request.task or entry.family == "test":
            continue
        fits = fit_request(entry, request, device, overhead_mib=overhead)
        if not fits.checked.runs or not fits.inference.runs:
            continue
        latency = estimate_latency(entry, infer_w, device.id, calibration, device_name=device_name)
        ms = latency.ms_per_batch if latency else None
        if request.latency_budget_ms and ms is not None and ms > LATENCY_SLACK * request.latency_budget_ms:
            continue
        passed.append(ShortlistItem(entry, "", ms, fits.checked.needed_mib))

    def prior(item: ShortlistItem) -> tuple:
        acc = filters.accuracy(item.entry)
        local = bool(item.entry.weights_cached or item.entry.local_path)
        return (not local if prefer_local_weights else False, -(acc if acc is not None else -1.0),
                item.entry.params or 0, item.entry.id)

    passed.sort(key=prior)
    slow = _too_slow(passed, request, device)
    left_out = [i for i in _pick(passed, n, per_family) if i.entry.id in slow]
    for item in left_out:
        item.reason = slow[item.entry.id]
    chosen = _pick([i for i in passed if i.entry.id not in slow], n, per_family)
    fastest = next((i for i in chosen if i.reason == _FASTEST), None)
    for item in chosen:
        item.reason = _reason(item, device, request, item is fastest)
    return Shortlist(chosen, left_out)


_FASTEST = "\0fastest"


def _pick(passed: list[ShortlistItem], n: int, per_family: int) -> list[ShortlistItem]:
    """The first ``n`` of ``passed`` (ranked), ``per_family`` at most of one family, and the
    fastest by MACs always in (its ``reason`` marked :data:`_FASTEST`)."""
    chosen: list[ShortlistItem] = []
    per: dict[str, int] = {}
    for item in passed:
        item.reason = ""
        if len(chosen) >= n:
            continue
        fam = item.entry.family
        if per.get(fam, 0) >= per_family:
            continue
        per[fam] = per.get(fam, 0) + 1
        chosen.append(item)
    fastest = min(passed, key=lambda i: (i.entry.macs or float("inf"), i.entry.id), default=None)
    if fastest is not None:
        if fastest not in chosen:
            if len(chosen) >= n:
                chosen.pop()
            chosen.append(fastest)
        fastest.reason = _FASTEST
    return chosen


def _too_slow(passed: list[ShortlistItem], request: Request, device: MemoryDevice) -> dict[str, str]:
    """Model id -> why it is left out as too slow for this CPU (empty on a GPU, with a latency
    budget, which the user set and rule 3 applies, or without estimates)."""
    if device_kind_of(device.id) != "cpu" or request.latency_budget_ms:
        return {}
    timed = [i for i in passed if i.estimated_ms is not None]
    if not timed:
        return {}
    fastest = min(timed, key=lambda i: i.estimated_ms or 0.0)
    floor = fastest.estimated_ms or 0.0
    limit = min(max(SLOW_FACTOR * floor, SLOW_FLOOR_MS), SLOW_CAP_MS)
    out = {}
    for item in timed:
        ms = item.estimated_ms or 0.0
        if ms <= limit:
            continue
        if ms > SLOW_FACTOR * floor:
            why = f"{ms / floor:.0f}x the fastest ({fastest.entry.id}, ~{fmt_ms(floor)})"
        else:
            why = f"over the {fmt_ms(SLOW_CAP_MS)} cap"
        out[item.entry.id] = (f"left out: ~{fmt_ms(ms)} per batch of {request.batch_size} on this CPU "
                              f"(estimate), {why}; tick to measure it anyway")
    return out


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

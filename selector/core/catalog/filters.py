"""Filtering and sorting the catalog: plain core, no Qt, fast enough to run as the user types.

A :class:`CatalogFilter` says what the user asked for (task, family, words, parameter range,
minimum published accuracy, weights cached, fits on a device at a workload) and how to sort.
``apply(entries, flt, profile)`` returns ``[(entry, FitResult | None)]``: the fit is there
when the filter names a device (or sorts by memory). The cheap tests run first; the fit
estimate (a few microseconds per entry, no torch) only for what is left.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from selector.core.catalog.entry import CatalogEntry
from selector.core.estimate.memory import Workload

if TYPE_CHECKING:  # pragma: no cover
    from selector.core.estimate.calibration import Calibration
    from selector.core.estimate.fit import FitResult
    from selector.core.hardware import HardwareProfile

SORT_KEYS = ("top1", "params", "macs", "latency", "memory", "name")
"""``top1`` sorts best first; the others smallest (fastest, leanest) first."""
ACCURACY_METRICS = {"image-classification": "imagenet_top1", "text-classification": "glue",
                    "text-generation": "mmlu"}


@dataclass
class CatalogFilter:
    task: str | None = None
    """``image-classification`` or ``text-classification``; None: both."""
    families: list[str] = field(default_factory=list)
    """Architecture families (``resnet``, ``vit``); empty: all."""
    search: str = ""
    """Words that must all appear in the id, architecture, family or pretraining data."""
    params_min: float | None = None
    params_max: float | None = None
    min_accuracy: float | None = None
    """Minimum published accuracy, percent (ImageNet top-1 for images, GLUE for text unless
    ``accuracy_metric`` says otherwise). Entries without a published figure are left out."""
    accuracy_metric: str | None = None
    cached_only: bool = False
    fits_on: str | None = None
    """A device id (``cpu``, ``cuda:0``): keep what fits (or is tight) there for ``workload``."""
    include_tight: bool = True
    workload: Workload = field(default_factory=Workload)
    margin: float = 0.10
    """Safety margin of the fit (``estimate.fit.MARGIN``): within it the fit is ``tight``."""
    sort: str = "top1"
    descending: bool | None = None
    """None: the key's natural order (best accuracy first, smallest first otherwise)."""
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.sort not in SORT_KEYS:
            raise ValueError(f"sort must be one of {', '.join(SORT_KEYS)}, not {self.sort!r}")
        if self.params_min is not None and self.params_max is not None and self.params_min > self.params_max:
            raise ValueError("the minimum parameter count is above the maximum")
        if not 0.0 <= self.margin < 1.0:
            raise ValueError(f"the safety margin must be at least 0 and below 1, not {self.margin:g}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be at least 1, not {self.limit}")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["workload"] = self.workload.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CatalogFilter":
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["workload"] = Workload.from_dict(values.get("workload") or {})
        return cls(**values)


def accuracy_metric(entry: CatalogEntry) -> str:
    """The published metric that stands for the entry's accuracy: its task's usual one (a text
    model without a GLUE score falls back to SST-2)."""
    metric = ACCURACY_METRICS.get(entry.task, "imagenet_top1")
    if entry.is_text and metric not in entry.published:
        metric = "sst2"
    return metric


def accuracy(entry: CatalogEntry, metric: str | None = None) -> float | None:
    """The entry's published accuracy (percent) for ``metric`` or its task's usual one."""
    value = entry.published.get(metric or accuracy_metric(entry))
    return float(value) if value is not None else None


def _haystack(entry: CatalogEntry) -> str:
    return " ".join(
        s for s in (entry.id, entry.architecture, entry.family, entry.pretrain_data or "",
                    entry.hf_hub_id or "", entry.source) if s
    ).lower()


def _matches(entry: CatalogEntry, flt: CatalogFilter, words: list[str], families: set[str]) -> bool:
    if flt.task and entry.task != flt.task:
        return False
    if families and entry.family.lower() not in families:
        return False
    if flt.cached_only and not entry.weights_cached:
        return False
    if flt.params_min is not None or flt.params_max is not None:
        params = entry.params or entry.published_params
        if params is None:
            return False
        if flt.params_min is not None and params < flt.params_min:
            return False
        if flt.params_max is not None and params > flt.params_max:
            return False
    if flt.min_accuracy is not None:
        value = accuracy(entry, flt.accuracy_metric)
        if value is None or value < flt.min_accuracy:
            return False
    if words:
        hay = _haystack(entry)
        return all(w in hay for w in words)
    return True


def apply(
    entries: Iterable[CatalogEntry],
    flt: CatalogFilter,
    profile: "HardwareProfile | None" = None,
    calibration: "Calibration | None" = None,
) -> list[tuple[CatalogEntry, "FitResult | None"]]:
    """Entries that pass ``flt``, sorted, each with its fit on ``flt.fits_on`` (or None).

    ``profile`` supplies the device's free memory (live or reference); it is needed when the
    filter names a device or sorts by memory. ``calibration`` is needed to sort by CPU latency.
    Raises ``ValueError`` for a device the profile does not have.
    """
    from selector.core.estimate.fit import fit
    from selector.core.estimate.overheads import device_overhead_mib

    words = [w for w in re.split(r"\s+", flt.search.lower().strip()) if w]
    families = {f.lower() for f in flt.families if f}
    kept = [e for e in entries if _matches(e, flt, words, families)]
    device = None
    device_id = flt.fits_on or ("cpu" if flt.sort == "memory" else None)
    if device_id is not None:
        if profile is None:
            raise ValueError(f"a hardware profile is needed to check the fit on {device_id}")
        try:
            device = profile.device(device_id)
        except KeyError as err:
            raise ValueError(str(err.args[0])) from err
    rows: list[tuple[CatalogEntry, Any]] = []
    if device is None:
        rows = [(e, None) for e in kept]
    else:
        overhead = device_overhead_mib(device)
        for entry in kept:
            result = fit(entry, flt.workload, device, flt.margin, overhead)
            if flt.fits_on is None or result.passes(flt.include_tight):
                rows.append((entry, result))
    rows = _sorted(rows, flt, profile, calibration)
    return rows[: flt.limit] if flt.limit else rows


def _sorted(rows: list, flt: CatalogFilter, profile: Any, calibration: Any) -> list:
    key = flt.sort
    descending = flt.descending if flt.descending is not None else key == "top1"
    missing = float("-inf") if descending else float("inf")
    if key == "name":
        return sorted(rows, key=lambda r: r[0].id.lower(), reverse=bool(flt.descending))
    if key == "top1":
        def value(row):  # noqa: ANN001, ANN202
            v = accuracy(row[0], flt.accuracy_metric)
            return missing if v is None else v
    elif key == "params":
        def value(row):  # noqa: ANN001, ANN202
            return row[0].params or row[0].published_params or missing
    elif key == "macs":
        def value(row):  # noqa: ANN001, ANN202
            return row[0].macs or row[0].published_macs or missing
    elif key == "memory":
        def value(row):  # noqa: ANN001, ANN202
            return row[1].needed_mib if row[1] is not None else missing
    else:
        value = _latency_key(flt, profile, calibration, missing)
    return sorted(rows, key=lambda r: (value(r), r[0].id), reverse=descending)


def latency_device(flt: CatalogFilter, profile: Any) -> tuple[str, str]:
    """``(device id, device name)`` latency is predicted for: the filter's device, else the CPU."""
    device_id = flt.fits_on or "cpu"
    if profile is None or device_id == "cpu":
        return device_id, ""
    try:
        return device_id, profile.device(device_id).name
    except KeyError:
        return device_id, ""


def _latency_key(flt: CatalogFilter, profile: Any, calibration: Any, missing: float):
    from selector.core.estimate.latency import estimate_latency

    device_id, name = latency_device(flt, profile)

    def value(row):  # noqa: ANN001, ANN202
        est = estimate_latency(row[0], flt.workload, device_id, calibration, device_name=name)
        return est.ms_per_batch if est is not None else missing

    return value


def parse_count(text: str) -> float:
    """``50M`` -> 5e7; ``1.5G``, ``300k``, ``12000`` too. ``ValueError`` with a plain message."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmMgGbBtT]?)\s*", text or "")
    if not match:
        raise ValueError(f"not a count: {text!r} (try 50M, 1.5G, 300k)")
    scale = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "b": 1e9, "t": 1e12}[match.group(2).lower()]
    return float(match.group(1)) * scale

"""Latency estimates per runtime, where this machine's measurements support them.

The estimator (:mod:`selector.core.estimate.latency`) predicts eager PyTorch. A runtime's
speed-up is not a constant one can look up: it depends on the model's kind of layers and on
the CPU. So selector estimates a runtime only from ratios it measured here: for every model
probed both in eager fp32 and under the runtime (same batch and threads, parity ok, row not
noisy), ``eager p50 / runtime p50``. The ratios are grouped by runtime, precision and the
model's modality (image or text); a group with at least :data:`MIN_MODELS` models gives the
median ratio, and an entry's runtime estimate is its eager estimate over that median. The
method string names the models and their ratios, and the spread (min-max) goes with it; with
fewer models there is no runtime estimate, and the reason says how many more to probe.
"""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass, field
from typing import Any

from selector.core.runtimes import LABELS

MIN_MODELS = 2
"""Models measured under a runtime (and in eager) before its ratio is used for others."""


@dataclass
class RuntimeRatio:
    runtime: str
    dtype: str
    modality: str
    """``image`` or ``text``."""
    ratios: dict[str, float] = field(default_factory=dict)
    """Model id -> eager p50 / runtime p50 (above 1: faster than eager)."""

    @property
    def supported(self) -> bool:
        return len(self.ratios) >= MIN_MODELS

    @property
    def median(self) -> float:
        return statistics.median(self.ratios.values())

    def describe(self) -> str:
        models = ", ".join(f"{m} {r:.2g}x" for m, r in sorted(self.ratios.items()))
        label = f"{LABELS.get(self.runtime, self.runtime)} {self.dtype}"
        if not self.supported:
            return (f"no {label} estimate: measured on {len(self.ratios)} {self.modality} model(s) here "
                    f"({models or 'none'}); probe {MIN_MODELS - len(self.ratios)} more")
        low, high = min(self.ratios.values()), max(self.ratios.values())
        return (f"eager estimate / {self.median:.2g} (median speed-up of {label} over eager on "
                f"{len(self.ratios)} {self.modality} models measured on this machine: {models}; "
                f"range {low:.2g}-{high:.2g}x)")


def measured_ratios(results: list[Any], device: str = "cpu") -> dict[tuple[str, str, str], RuntimeRatio]:
    """``(runtime, dtype, modality) -> RuntimeRatio`` from stored latency ``ProbeResult``s."""
    eager: dict[tuple[str, int, int | None], float] = {}
    runtime_rows: list[tuple[str, str, Any]] = []
    for result in results:
        if result.kind != "latency" or result.device != device:
            continue
        modality = "text" if "text" in (result.task or "") else "image"
        for row in result.latency_rows():
            if row.p50_ms is None or row.error or row.noisy or not row.parity_ok:
                continue
            if row.runtime == "eager" and row.dtype == "fp32":
                eager[(row.model_id, row.batch_size, row.threads)] = row.p50_ms
            elif row.runtime != "eager":
                runtime_rows.append((result.model_id, modality, row))
    groups: dict[tuple[str, str, str], RuntimeRatio] = {}
    for model_id, modality, row in runtime_rows:
        base = eager.get((row.model_id, row.batch_size, row.threads))
        if base is None:
            continue
        key = (row.runtime, row.dtype, modality)
        group = groups.setdefault(key, RuntimeRatio(row.runtime, row.dtype, modality))
        group.ratios[model_id] = round(base / row.p50_ms, 4)
    return groups


def runtime_estimate(estimate: Any, ratio: RuntimeRatio) -> Any | None:
    """The eager ``LatencyEstimate`` scaled to the runtime, or None when the ratio is not
    supported by enough models; its ``method`` says how."""
    if not ratio.supported:
        return None
    ms = estimate.ms_per_batch / ratio.median
    return dataclasses.replace(estimate, ms_per_batch=ms, samples_per_s=estimate.samples_per_s * ratio.median,
                               method=f"{ratio.describe()}; eager: {estimate.method}")

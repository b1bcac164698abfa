"""From a Sheet (a live session's or one opened from a file) to what the window shows.

One path for both: the recommendation panel gets the sheet's recommendation, the plots get
plain points derived here. Accuracy on the Pareto plot is the core's rule
(``recommend.checks.shown_accuracy``, which the sheets' plot draws too): fine-tuned held-out
accuracy with pretrained weights (measured), else published (marked as such); latency is the
verdict's p50 figure, measured or estimated as labelled.
"""

from __future__ import annotations

from dataclasses import dataclass

from selector.core.export.plots import point_name
from selector.core.export.sheet import Sheet
from selector.core.export.table import csv_rows
from selector.core.recommend.checks import FINETUNED, shown_accuracy
from selector.core.recommend.result import PARETO, RECOMMENDED
from selector.ui.plots import ParetoPoint


@dataclass
class SheetView:
    sheet: Sheet
    points: list[ParetoPoint]
    memory: dict[str, tuple[float, float]]
    """Model id -> (estimated, measured) peak MiB of the checked mode."""
    losses: dict[str, list[float]]
    latency_samples: dict[str, list[float]]
    """Model id -> per-iteration latencies (ms) of its latency probe, when recorded."""


def present(sheet: Sheet) -> SheetView:
    rec = sheet.recommendation
    by_id = {c.model_id: c for c in sheet.candidates}
    points = []
    for v in rec.verdicts:
        cand = by_id.get(v.model_id)
        if cand is None or v.latency is None:
            continue
        shown = shown_accuracy(cand, rec.metric)
        if shown.value is None:
            continue
        acc, kind = shown.value, ("measured" if shown.kind == FINETUNED else "published")
        memory = v.memory.value if v.memory is not None else None
        points.append(ParetoPoint(v.model_id, v.latency.value, float(acc), kind,
                                  latency_kind=v.latency.source, memory_mib=memory,
                                  on_front=v.status in (RECOMMENDED, PARETO), name=point_name(v)))
    mode = rec.constraints.memory_mode
    memory_pairs: dict[str, tuple[float, float]] = {}
    for row in csv_rows(sheet):
        est, meas = row.get(f"{mode}_memory_estimated_mib"), row.get(f"{mode}_memory_measured_mib")
        if est and meas:
            memory_pairs[row["model_id"]] = (float(est), float(meas))
    losses = {c.model_id: [loss for _, loss in c.loss_curve] for c in sheet.candidates if c.loss_curve}
    return SheetView(sheet, points, memory_pairs, losses, _latency_samples(sheet))


def _latency_samples(sheet: Sheet) -> dict[str, list[float]]:
    """Per-iteration latencies of the checked batch, from the probe rows behind the sheet."""
    batch = sheet.recommendation.constraints.batch
    out: dict[str, list[float]] = {}
    for result in sheet.results:
        if result.get("kind") != "latency":
            continue
        for row in result.get("rows") or []:
            samples = row.get("samples_ms")
            if samples and row.get("batch_size") == batch:
                out.setdefault(result.get("model_id", ""), list(samples))
    return out

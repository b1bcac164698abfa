"""The catalog table's rows: each entry's fit badges for a request, and what decided them.

``compute_rows`` runs in a worker (about 1,850 entries, two estimates each); ``breakdown_html``
is the text of the breakdown box. Neither touches a widget.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from selector.core.catalog import filters
from selector.core.catalog.entry import CatalogEntry
from selector.core.estimate.fit import FITS, NO, TIGHT, FitResult, fit_request, request_device
from selector.core.estimate.overheads import device_overhead_mib
from selector.core.hardware import HardwareProfile
from selector.core.request import Request
from selector.core.units import fmt_count, fmt_mib

BADGES = {FITS: ("fits", "#2e7d32"), TIGHT: ("tight", "#ef6c00"), NO: ("does not fit", "#c62828")}
"""Fit status -> (label, colour)."""


@dataclass
class CatalogRow:
    entry: CatalogEntry
    accuracy: float | None = None
    inference: FitResult | None = None
    finetune: FitResult | None = None
    checked_mib: float | None = None


def compute_rows(entries: list[CatalogEntry], request: Request,
                 profile: HardwareProfile | None) -> list[CatalogRow]:
    """Rows with fit badges for ``request`` on its device (no profile: no badges). The badges
    are against the device's free memory (the memory budget is the shortlist's business)."""
    device = request_device(request, profile, with_budget=False) if profile is not None else None
    overhead = device_overhead_mib(device) if device else 0.0
    rows = []
    for entry in entries:
        row = CatalogRow(entry, filters.accuracy(entry))
        if device is not None:
            fits = fit_request(entry, request, device, overhead_mib=overhead)
            row.inference, row.finetune = fits.inference, fits.finetune
            row.checked_mib = fits.checked.needed_mib
        rows.append(row)
    return rows


def runs_here(row: CatalogRow, request: Request) -> bool:
    fit = row.finetune if request.memory_mode == "finetune" else row.inference
    return fit is None or fit.runs


def breakdown_html(row: CatalogRow, request: Request) -> str:
    """What decided the badges: the memory breakdown of both modes, and the entry's facts."""
    e = row.entry
    esc = html.escape
    parts = [f"<h3>{esc(e.id)}</h3>"]
    facts = [
        ("Task", e.task), ("Architecture", e.architecture), ("Parameters", fmt_count(e.params)),
        ("MACs / sample", fmt_count(e.macs)),
        ("Published", ", ".join(f"{k} {v:.1f}" for k, v in e.published.items()) or "—"),
        ("Pretraining data", e.pretrain_data or "—"), ("Licence", e.license or "—"),
        ("Weights", "available locally" if e.weights_cached or e.local_path
         else "not downloaded: probes measure the architecture only"),
    ]
    parts.append("<table>" + "".join(
        f"<tr><td><b>{esc(k)}</b>&nbsp;</td><td>{esc(str(v))}</td></tr>" for k, v in facts) + "</table>")
    for title, fit in (("Inference", row.inference), ("Fine-tuning", row.finetune)):
        if fit is None:
            continue
        est = fit.estimate
        label, colour = BADGES[fit.status]
        parts.append(f"<h4>{title}: <span style='color:{colour}'>{label}</span></h4>"
                     f"<p>{esc(fit.reason)}<br><i>{esc(est.workload.describe())}</i></p>")
        lines = [("weights", est.weights_mib), ("gradients", est.gradients_mib),
                 ("optimizer state", est.optimizer_mib), ("activations", est.activations_mib),
                 ("allocator", est.allocator_mib), ("framework overhead", est.overhead_mib),
                 ("total", est.total_mib)]
        parts.append("<table>" + "".join(
            f"<tr><td>{esc(k)}</td><td align='right'>{fmt_mib(v)}</td></tr>"
            for k, v in lines if v or k == "total") + "</table>")
        parts.append(f"<p><small>{esc(est.method)}</small></p>")
    return "".join(parts)

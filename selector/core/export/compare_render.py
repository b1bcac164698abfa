"""Writing a :class:`Comparison` (several machines) as HTML, Markdown, CSV or JSON."""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path

from selector import __version__
from selector.core.errors import SelectorError
from selector.core.export import plots as _plots
from selector.core.export.compare import Comparison, ComparisonCell
from selector.core.export.render import (
    Output, format_for, md_escape, template_environment, write_outputs,
)
from selector.core.units import fmt_mib, fmt_ms

COMPARE_CSV_FIELDS = [
    "model_id", "machine", "status", "rank", "latency_p50_ms", "latency_source", "latency_batch",
    "latency_dtype", "latency_threads", "peak_memory_mib", "peak_memory_source", "accuracy_kind",
    "accuracy_value",
]
_TAG = {"measured": "M", "estimated": "E", "published": "P"}


def export_comparison(comparison: Comparison, path: str | Path, fmt: str | None = None, *,
                      overwrite: bool = False, title: str | None = None) -> list[Path]:
    path = Path(path)
    fmt = format_for(path, fmt)
    title = title or "The same models on several machines"
    if fmt == "json":
        data = json.dumps(comparison.to_dict(), indent=2, ensure_ascii=False) + "\n"
    elif fmt == "csv":
        data = comparison_csv(comparison)
    elif fmt == "html":
        data = comparison_html(comparison, title)
    elif fmt == "md":
        data = comparison_markdown(comparison, title)
    else:
        raise SelectorError("a comparison is written as html, md, csv or json")
    return write_outputs([Output(path, data.encode("utf-8"))], overwrite=overwrite)


def comparison_csv(comparison: Comparison) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COMPARE_CSV_FIELDS, lineterminator="\n",
                            extrasaction="ignore")
    writer.writeheader()
    for cell in comparison.cells:
        writer.writerow({k: ("" if v is None else v) for k, v in cell.to_dict().items()})
    return out.getvalue()


def _cell_text(cell: ComparisonCell | None) -> dict[str, str]:
    if cell is None:
        return {"text": "not in this sheet", "sub": "", "status": ""}
    lat = "—"
    if cell.latency_p50_ms is not None:
        lat = f"{fmt_ms(cell.latency_p50_ms)} ({_TAG.get(cell.latency_source or '', '?')})"
    sub = cell.status
    if cell.peak_memory_mib is not None:
        sub += f", {fmt_mib(cell.peak_memory_mib)} ({_TAG.get(cell.peak_memory_source or '', '?')})"
    return {"text": lat, "sub": sub, "status": cell.status}


def _rows(comparison: Comparison) -> list[dict]:
    return [{"model": m, "cells": [_cell_text(comparison.cell(m, machine))
                                   for machine in comparison.machines]}
            for m in comparison.models]


def comparison_html(comparison: Comparison, title: str) -> str:
    fig = _plots.comparison_figure(comparison)
    plot = base64.b64encode(_plots.to_svg(fig)).decode("ascii") if fig is not None else ""
    return template_environment(True).get_template("compare.html.j2").render(
        comparison=comparison, rows=_rows(comparison), plot=plot, title=title, version=__version__)


def comparison_markdown(comparison: Comparison, title: str) -> str:
    lines = [f"# {md_escape(title)}", "", "## Machines", "",
             "| Machine | Details | Recommended | Constraints |", "|---|---|---|---|"]
    for s in comparison.sheets:
        lines.append(f"| {md_escape(s.machine)} | {md_escape(s.machine_detail)} | "
                     f"{md_escape(s.recommended or '—')} | {md_escape('; '.join(s.constraints))} |")
    lines += ["", "## p50 latency and status by model and machine", "",
              "| Model | " + " | ".join(md_escape(m) for m in comparison.machines) + " |",
              "|---|" + "---|" * len(comparison.machines)]
    for row in _rows(comparison):
        cells = [md_escape(f"{c['text']}; {c['sub']}" if c["sub"] else c["text"]) for c in row["cells"]]
        lines.append(f"| {md_escape(row['model'])} | " + " | ".join(cells) + " |")
    lines += ["", "M = measured, E = estimated."]
    lines += [f"- {md_escape(n)}" for n in comparison.notes]
    return "\n".join(lines) + "\n"

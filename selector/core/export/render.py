"""Rendering a sheet to bytes (HTML, Markdown, CSV, JSON, PDF) and writing it safely.

HTML and Markdown come from the jinja2 templates in ``resources/templates/``. The HTML is
self-contained (inline CSS, plots as base64 SVG ``<img>``, a Content-Security-Policy that
forbids scripts) and autoescaped, so a model or folder named ``<script>`` is shown, not run.
Markdown escapes user text the same way and puts its plots beside it as SVG files.

Writing renders everything first, then writes each file atomically: an existing file is kept
unless ``overwrite`` is given, and an unwritable path is a :class:`SelectorError`.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from selector.core.errors import SelectorError
from selector.core.export import plots as _plots
from selector.core.export.sheet import Sheet
from selector.core.export.table import (
    DISPLAY_HEADERS, FIGURE_HEADERS, LEGEND, display_rows, figure_rows, memory_header, noisy_lines, to_csv,
)
from selector.core.fileio import OutputExistsError, atomic_write_bytes
from selector.core.units import fmt_mib

FORMATS = ("pdf", "html", "md", "csv", "json")
_SUFFIX = {".pdf": "pdf", ".html": "html", ".htm": "html", ".md": "md", ".markdown": "md",
           ".csv": "csv", ".json": "json"}
CAPTIONS = {
    "accuracy_latency": "filled markers: measured latency; hollow: estimated; crosses: rejected. "
                        "The step line joins the Pareto front of the candidates within the constraints.",
    "memory": "light bars: estimated peak memory; dark bars: measured peak memory.",
    "loss": "training loss per optimizer step of the quick fine-tune on your data.",
}


@dataclass
class Output:
    """One file to write."""

    path: Path
    data: bytes


def format_for(path: str | Path, fmt: str | None = None) -> str:
    """The format asked for, or the one the file name's suffix names."""
    if fmt:
        fmt = fmt.lower().lstrip(".")
        fmt = {"markdown": "md", "htm": "html"}.get(fmt, fmt)
        if fmt not in FORMATS:
            raise SelectorError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIX:
        raise SelectorError(
            f"cannot tell the format from {Path(path).name!r}; give --format "
            f"({', '.join(FORMATS)})"
        )
    return _SUFFIX[suffix]


def render_outputs(sheet: Sheet, path: str | Path, fmt: str | None = None) -> list[Output]:
    """Everything ``export_sheet`` would write, as bytes, without touching the disk."""
    path = Path(path)
    fmt = format_for(path, fmt)
    if fmt == "json":
        return [Output(path, sheet.to_json().encode("utf-8"))]
    if fmt == "csv":
        return [Output(path, to_csv(sheet).encode("utf-8"))]
    if fmt == "html":
        return [Output(path, render_html(sheet).encode("utf-8"))]
    if fmt == "md":
        folder = path.with_name(f"{path.stem}-plots")
        figures = _plots.sheet_figures(sheet)
        outputs = [Output(folder / f"{name}.svg", _plots.to_svg(fig)) for name, fig in figures.items()]
        hrefs = {name: plot_href(folder.name, f"{name}.svg") for name in figures}
        return [Output(path, render_markdown(sheet, hrefs).encode("utf-8")), *outputs]
    from selector.core.export.pdf import render_pdf

    return [Output(path, render_pdf(sheet))]


def plot_href(folder: str, name: str) -> str:
    """A relative link to a plot beside the sheet, percent-encoded: the folder is named after
    the user's file, and a space, ``)`` or ``<`` in it would end the link or start HTML."""
    return f"{quote(folder, safe='')}/{quote(name, safe='')}"


def export_sheet(
    sheet: Sheet, path: str | Path, fmt: str | None = None, *, overwrite: bool = False
) -> list[Path]:
    """Write ``sheet`` to ``path``; returns the files written (Markdown adds its plots)."""
    outputs = render_outputs(sheet, path, fmt)
    return write_outputs(outputs, overwrite=overwrite)


def write_outputs(outputs: list[Output], *, overwrite: bool = False) -> list[Path]:
    if not overwrite:
        existing = [o.path for o in outputs if o.path.exists()]
        if existing:
            raise SelectorError(f"{existing[0]} already exists (use --force to overwrite it)")
    written = []
    for out in outputs:
        try:
            written.append(atomic_write_bytes(out.path, out.data, overwrite=overwrite))
        except OutputExistsError as err:
            raise SelectorError(str(err)) from err
        except OSError as err:
            reason = err.strerror or str(err)
            raise SelectorError(f"cannot write {out.path}: {reason}") from err
    return written


# -------------------------------------------------------------------------- context
def sheet_context(sheet: Sheet) -> dict[str, Any]:
    """What the templates (and the PDF) show, computed once."""
    rec = sheet.recommendation
    statuses = [v.status for v in rec.verdicts]
    words = [("recommended", "recommended"), ("pareto", "on the Pareto front"),
             ("dominated", "dominated"), ("unverified", "unverified"), ("rejected", "rejected")]
    counts = ", ".join(f"{statuses.count(s)} {w}" for s, w in words if statuses.count(s))
    headers = list(DISPLAY_HEADERS)
    headers[headers.index("Memory")] = memory_header(sheet)
    rows = display_rows(sheet)
    for row in rows:
        row[headers[5]] = row["Memory"]
    return {
        "sheet": sheet,
        "rec": rec,
        "top": rec.verdicts[0] if rec.recommended else None,
        "created": sheet.created_at.replace("T", " ").replace("+00:00", " UTC"),
        "constraints": rec.constraints.describe(),
        "counts": f"{len(statuses)}: {counts}" if statuses else "none",
        "headers": headers,
        "rows": rows,
        "legend": LEGEND,
        "noisy": noisy_lines(sheet),
        "memory_header": headers[5],
        "figure_headers": FIGURE_HEADERS,
        "figures": figure_rows(sheet),
        "hardware": hardware_pairs(sheet.hardware),
        "software": sorted(sheet.software.items()),
    }


def hardware_pairs(hardware: dict[str, Any] | None) -> list[tuple[str, str]]:
    if not hardware:
        return [("machine", "not recorded")]
    cpu = hardware.get("cpu") or {}
    mem = hardware.get("memory") or {}
    torch = hardware.get("torch") or {}
    pairs = [("Name", str(hardware.get("name") or "—")), ("OS", str(hardware.get("os") or "—")),
             ("CPU", str(cpu.get("model") or "—")),
             ("Cores", f"{cpu.get('physical_cores') or '—'} physical, "
                       f"{cpu.get('logical_cores') or '—'} logical"),
             ("RAM", f"{fmt_mib(mem.get('available_mib'))} available of "
                     f"{fmt_mib(mem.get('total_mib'))}")]
    gpus = hardware.get("gpus") or []
    if gpus:
        for g in gpus:
            pairs.append((f"GPU {g.get('index', '')}",
                          f"{g.get('name', '')}: {fmt_mib(g.get('memory_free_mib'))} free of "
                          f"{fmt_mib(g.get('memory_total_mib'))}"))
    else:
        pairs.append(("GPU", str(hardware.get("gpu_status") or "none")))
    if hardware.get("nvidia_driver"):
        pairs.append(("NVIDIA driver", f"{hardware['nvidia_driver']} "
                                       f"(CUDA {hardware.get('cuda_driver') or '—'})"))
    if torch.get("num_threads"):
        pairs.append(("torch threads", str(torch["num_threads"])))
    if hardware.get("captured_at"):
        pairs.append(("Profile captured", str(hardware["captured_at"])))
    return pairs


# ----------------------------------------------------------------------- templates
def template_environment(autoescape: bool):  # noqa: ANN202 - jinja2.Environment
    import jinja2

    from selector.core.paths import resource

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource("templates"))),
        autoescape=autoescape, undefined=jinja2.StrictUndefined,
        trim_blocks=False, lstrip_blocks=False, keep_trailing_newline=True,
    )
    env.filters["md"] = md_escape
    env.filters["cell"] = md_escape
    env.filters["code"] = lambda s: str(s).replace("`", "'").replace("\n", " ")
    return env


def render_html(sheet: Sheet) -> str:
    context = sheet_context(sheet)
    context["plots"] = [
        {"title": _plots.PLOT_TITLES[name], "caption": CAPTIONS.get(name, ""),
         "data": base64.b64encode(_plots.to_svg(fig)).decode("ascii")}
        for name, fig in _plots.sheet_figures(sheet).items()
    ]
    return template_environment(True).get_template("sheet.html.j2").render(context)


def render_markdown(sheet: Sheet, plot_hrefs: dict[str, str] | None = None) -> str:
    context = sheet_context(sheet)
    context["plots"] = [{"title": md_escape(_plots.PLOT_TITLES[name]), "href": href}
                        for name, href in (plot_hrefs or {}).items()]
    text = template_environment(False).get_template("sheet.md.j2").render(context)
    return re.sub(r"\n{3,}", "\n\n", text)


_MD_SPECIAL = re.compile(r"([\\`*\[\]|~#])")
_MD_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def md_escape(value: Any) -> str:
    """Markdown-safe text: no emphasis, links, table breaks or raw HTML from user values."""
    text = str(value).replace("\r", " ").replace("\n", " ")
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return _MD_UNDERSCORE.sub(r"\\_", text)

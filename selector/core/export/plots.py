"""The sheets' plots, drawn headless with matplotlib (no pyplot, no Qt, no display).

Each ``*_figure`` returns a matplotlib ``Figure`` or None when there is nothing to draw;
:func:`to_svg` / :func:`to_png` turn it into bytes for the HTML (SVG) and PDF (PNG) sheets.
Model and machine names are drawn as plain text: their ``$`` is escaped, so it never switches
to mathtext (which the log-scale tick labels need).
"""

from __future__ import annotations

import io
import math
from typing import Any

from selector.core.recommend.checks import FINETUNED, metric_label, shown_accuracy

STATUS_STYLE = {
    "recommended": ("#2e7d32", "recommended"),
    "pareto": ("#1565c0", "Pareto front"),
    "dominated": ("#8d8d8d", "dominated"),
    "unverified": ("#ef6c00", "unverified"),
    "rejected": ("#c62828", "rejected"),
}
RC = {
    "font.family": "DejaVu Sans",
    "font.size": 8.5,
    "axes.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "path",
    "svg.hashsalt": "selector",
}
_MAX_LABEL = 30
MAX_LABELS = 16
"""At most this many points get their model name (the pick and the front first)."""


def _figure(width: float = 7.2, height: float = 4.0) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _rc():  # noqa: ANN202 - a context manager
    import matplotlib

    return matplotlib.rc_context(RC)


def short(name: str) -> str:
    """A name as plain text on a plot: shortened, and ``$`` escaped so it is never mathtext."""
    name = name if len(name) <= _MAX_LABEL else name[: _MAX_LABEL - 1] + "…"
    return name.replace("$", r"\$")


# ------------------------------------------------------------ accuracy vs latency
def accuracy_latency_figure(sheet) -> Any | None:  # noqa: ANN001 - Sheet
    """Accuracy against p50 latency, with the Pareto front and the budget lines. The accuracy
    is the one the GUI's plot shows (``checks.shown_accuracy``): circles for held-out accuracy
    measured after fine-tuning with pretrained weights, triangles for published figures.
    Filled markers: measured latency; hollow: estimated."""
    rec = sheet.recommendation
    metric = rec.metric
    points = []
    for v in rec.verdicts:
        cand = sheet.candidate(v.model_id)
        acc = shown_accuracy(cand, metric) if cand is not None else None
        if v.latency is not None and acc is not None and acc.value is not None:
            points.append((v, v.latency.value, acc.value, acc.kind == FINETUNED))
    if not points:
        return None
    with _rc():
        fig = _figure(7.2, 3.7)
        ax = fig.add_subplot()
        groups: dict[tuple[str, bool, bool], list[tuple[float, float]]] = {}
        for v, x, y, tuned in points:
            measured = v.latency.source == "measured" or v.status == "rejected"
            groups.setdefault((v.status, measured, tuned), []).append((x, y))
        seen = set()
        for status in ("rejected", "dominated", "unverified", "pareto", "recommended"):
            for measured in (True, False):
                for tuned in (True, False):
                    xy = groups.get((status, measured, tuned))
                    if not xy:
                        continue
                    color, label = STATUS_STYLE[status]
                    marker = "x" if status == "rejected" else ("o" if tuned else "^")
                    style = ({"color": color} if marker == "x" else
                             {"facecolors": color if measured else "none", "edgecolors": color})
                    xs, ys = zip(*xy)
                    ax.scatter(xs, ys, s=60 if status == "recommended" else 34, marker=marker,
                               linewidths=1.4, zorder=3, label=None if label in seen else label,
                               **style)
                    seen.add(label)
        tuned_kinds = {tuned for *_, tuned in points}
        drawn = [(v, x, y) for v, x, y, _ in points]
        labelled = [p for p in drawn if p[0].status == "recommended"]
        labelled += [p for p in drawn if p[0].status == "pareto"]
        if len(drawn) <= MAX_LABELS:
            labelled += [p for p in drawn if p[0].status not in ("recommended", "pareto")]
        _label_points(ax, [(point_name(v), x, y) for v, x, y in labelled[:MAX_LABELS]], drawn)
        front = sorted((x, y) for v, x, y in drawn if v.status in ("recommended", "pareto"))
        if len(front) > 1:
            fx, fy = zip(*front)
            ax.step(fx, fy, where="post", color=STATUS_STYLE["pareto"][0], alpha=0.5, lw=1.2,
                    zorder=2, label="Pareto front (within constraints)")
        con = rec.constraints
        if con.latency_ms is not None:
            ax.axvline(con.latency_ms, color="#c62828", ls="--", lw=1,
                       label=f"budget {con.latency_ms:g} ms at batch {con.batch}")
        if con.min_accuracy is not None:
            ax.axhline(con.min_accuracy, color="#6a1b9a", ls=":", lw=1,
                       label=f"accuracy floor {con.min_accuracy:g}%")
        lats = [x for _, x, _ in drawn]
        if min(lats) > 0 and max(lats) / min(lats) > 8:
            ax.set_xscale("log")
        ax.margins(x=0.14, y=0.12)
        ax.set_xlabel(f"p50 latency per batch of {con.batch} (ms) on {con.device}")
        ax.set_ylabel(shown_axis_label(tuned_kinds, metric))
        ax.set_title("Accuracy vs latency")
        ax.grid(alpha=0.25)
        handles, labels = ax.get_legend_handles_labels()
        order = [STATUS_STYLE[k][1] for k in STATUS_STYLE]
        pairs = sorted(zip(handles, labels),
                       key=lambda hl: order.index(hl[1]) if hl[1] in order else len(order))
        title = "hollow = estimated latency"
        if len(tuned_kinds) > 1:
            title += "\n● fine-tuned here, ▲ published"
        ax.legend([h for h, _ in pairs], [lab for _, lab in pairs], loc="best", fontsize=7,
                  frameon=False, title=title, title_fontsize=7)
        return fig


def point_name(verdict) -> str:  # noqa: ANN001 - Verdict
    """The model, and the runtime its latency was measured under when not eager PyTorch:
    ``resnet50 (OpenVINO int8-static)``, so the plot shows model x runtime."""
    lat = verdict.latency
    if lat is None or lat.runtime in (None, "eager"):
        return verdict.model_id
    from selector.core.runtimes import LABELS

    dtype = f" {lat.dtype}" if lat.dtype and lat.dtype != "fp32" else ""
    return f"{verdict.model_id} ({LABELS.get(lat.runtime, lat.runtime)}{dtype})"


def _label_points(ax, labels, points) -> None:  # noqa: ANN001
    """Name the points; a label that would sit on a neighbour's goes below its point instead."""
    xs = [x for _, x, _ in points]
    ys = [y for _, _, y in points]
    log = min(xs) > 0 and max(xs) / min(xs) > 8
    fx = (lambda v: math.log(v)) if log else (lambda v: v)
    span_x = (fx(max(xs)) - fx(min(xs))) or 1.0
    span_y = (max(ys) - min(ys)) or 1.0
    placed: list[tuple[float, float, int]] = []
    for name, x, y in sorted(labels, key=lambda item: (-item[2], item[1])):
        nx, ny = (fx(x) - fx(min(xs))) / span_x, (y - min(ys)) / span_y
        below = any(abs(nx - px) < 0.25 and abs(ny - py) < 0.08 and side == 1
                    for px, py, side in placed)
        side = -1 if below else 1
        placed.append((nx, ny, side))
        ax.annotate(short(name), (x, y), xytext=(5, 4 if side == 1 else -11),
                    textcoords="offset points", fontsize=7.5, color="#333333")


def shown_axis_label(tuned: set[bool], metric: str | None) -> str:
    """The y label of the accuracy plot for the kinds of accuracy drawn (True: fine-tuned)."""
    if tuned == {True}:
        return "held-out accuracy after fine-tuning (%)"
    if tuned == {False}:
        return f"{metric_label(metric or '')} (%, published)"
    return f"accuracy (%): fine-tuned on your data, else published {metric_label(metric or '')}"


# ----------------------------------------------------------------- memory figures
def memory_figure(sheet) -> Any | None:  # noqa: ANN001
    """Estimated vs measured peak memory, for inference and fine-tuning, per candidate."""
    from selector.core.export.table import csv_rows

    rows = csv_rows(sheet)
    panels = []
    for mode, title in (("inference", "Inference"), ("finetune", "Fine-tuning")):
        data = [(r["model_id"], r[f"{mode}_memory_estimated_mib"], r[f"{mode}_memory_measured_mib"])
                for r in rows]
        data = [d for d in data if d[1] is not None or d[2] is not None]
        if data:
            panels.append((mode, title, data[:20]))
    if not panels:
        return None
    height = max(2.3, 0.9 + 0.3 * max(len(p[2]) for p in panels))
    with _rc():
        fig = _figure(7.2, height)
        fig.suptitle("Peak memory: estimated vs measured", fontsize=10)
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        con = sheet.recommendation.constraints
        for ax, (mode, title, data) in zip(axes, panels):
            names = [short(d[0]) for d in data][::-1]
            est = [d[1] or 0 for d in data][::-1]
            meas = [d[2] or 0 for d in data][::-1]
            pos = range(len(names))
            ax.barh([p + 0.2 for p in pos], est, height=0.38, color="#90caf9", label="estimated")
            ax.barh([p - 0.2 for p in pos], meas, height=0.38, color="#1565c0", label="measured")
            ax.set_yticks(list(pos), names, fontsize=7.5)
            ax.set_xlabel("peak memory (MiB)")
            ax.set_title(title, fontsize=9)
            limit = con.memory_limit_mib
            if limit and mode == con.memory_mode and limit < 4 * max(est + meas):
                ax.axvline(limit, color="#c62828", ls="--", lw=1, label="limit")
            ax.grid(axis="x", alpha=0.25)
        handles, labels = axes[-1].get_legend_handles_labels()
        fig.legend(handles, labels, fontsize=7, frameon=False, loc="outside lower center",
                   ncols=len(labels))
        return fig


def loss_figure(sheet) -> Any | None:  # noqa: ANN001
    """Fine-tune training loss per step, one line per candidate that was fine-tuned."""
    curves = [(c.model_id, c.loss_curve) for c in sheet.candidates if c.loss_curve]
    if not curves:
        return None
    with _rc():
        fig = _figure(7.2, 2.9)
        ax = fig.add_subplot()
        for name, curve in curves[:12]:
            steps, losses = zip(*curve)
            ax.plot(steps, losses, lw=1.3, label=short(name))
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("training loss")
        ax.set_title("Fine-tune loss curves")
        ax.grid(alpha=0.25)
        ax.legend(fontsize=7, frameon=False)
        return fig


def comparison_figure(comparison) -> Any | None:  # noqa: ANN001 - Comparison
    """p50 latency of the same models on each machine (grouped bars, log scale)."""
    models = [m for m in comparison.models if any(
        comparison.cell(m, machine) and comparison.cell(m, machine).latency_p50_ms
        for machine in comparison.machines)][:20]
    if not models:
        return None
    machines = comparison.machines
    with _rc():
        fig = _figure(7.2, max(2.6, 0.6 + 0.28 * len(models) * max(1, len(machines)) / 1.6))
        ax = fig.add_subplot()
        width = 0.8 / len(machines)
        for i, machine in enumerate(machines):
            values = []
            for m in models:
                cell = comparison.cell(m, machine)
                values.append(cell.latency_p50_ms if cell and cell.latency_p50_ms else 0)
            pos = [j - 0.4 + width * (i + 0.5) for j in range(len(models))]
            ax.barh(pos, values, height=width * 0.9, label=short(machine))
        ax.set_yticks(range(len(models)), [short(m) for m in models], fontsize=7.5)
        ax.invert_yaxis()
        values = [c.latency_p50_ms for c in comparison.cells if c.latency_p50_ms]
        if values and max(values) / max(min(values), 1e-9) > 8:
            from matplotlib.ticker import FuncFormatter

            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))  # 10, not 10^1
        ax.set_xlabel("p50 latency per batch (ms)")
        ax.set_title("The same models on each machine")
        ax.grid(axis="x", alpha=0.25)
        # below the axes: inside, the legend covered the longest bars
        fig.legend(fontsize=7, frameon=False, loc="outside lower center", ncols=min(len(machines), 4))
        return fig


# ---------------------------------------------------------------------- encoding
def to_svg(fig: Any) -> bytes:
    with _rc():
        buf = io.BytesIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def to_png(fig: Any, dpi: int = 170) -> bytes:
    with _rc():
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def sheet_figures(sheet) -> dict[str, Any]:  # noqa: ANN001
    """The sheet's plots by name, leaving out those with nothing to draw."""
    figures = {
        "accuracy_latency": accuracy_latency_figure(sheet),
        "memory": memory_figure(sheet),
        "loss": loss_figure(sheet),
    }
    return {k: v for k, v in figures.items() if v is not None}


PLOT_TITLES = {
    "accuracy_latency": "Accuracy vs latency, with the Pareto front",
    "memory": "Memory: estimated vs measured",
    "loss": "Fine-tune loss curves",
}

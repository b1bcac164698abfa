"""The result plots (pyqtgraph), each fed plain values and updated in place with ``setData``.

- :class:`ParetoPlot`: accuracy against latency, the Pareto front drawn, marker size for
  memory, measured and published accuracy told apart by symbol, hover for figures, click to
  select (and ``select_model`` for the other direction).
- :class:`LossCurvePlot`: live loss curves of fine-tune probes, one per model.
- :class:`MemoryPlot`: estimated against measured peak memory, with the ideal diagonal.
- :class:`LatencyDistributionPlot`: per-iteration latencies of one model, p50 and p99 marked.

``save_plot`` writes any of them as PNG or SVG.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters
from PySide6.QtCore import QRect, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtSvg import QSvgGenerator

from selector.core.units import fmt_mib, fmt_ms

pg.setConfigOptions(antialias=True)

_MEASURED = "measured"
_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf"]


def colour(index: int) -> QColor:
    return QColor(_PALETTE[index % len(_PALETTE)])


def _weak_tip(method):  # noqa: ANN001, ANN202
    """A scatter's ``tip`` that calls ``method`` without keeping its plot alive.

    A plot whose items hold a bound method of the plot is a reference cycle, freed by the cyclic
    garbage collector, which empties the Python side of the legend's labels before Qt destroys
    them: pyqtgraph then fails in ``LabelItem.sizeHint`` ("'LabelItem' object has no attribute
    '_sizeHint'"). Without the cycle a dropped plot is destroyed at once, in Qt's order.
    """
    ref = weakref.WeakMethod(method)

    def tip(*args, **kwargs) -> str:  # noqa: ANN002, ANN003
        bound = ref()
        return bound(*args, **kwargs) if bound is not None else ""

    return tip


def legend_below(widget: pg.PlotWidget, columns: int) -> pg.LegendItem:
    """The plot's legend in a row of its own under the axis, so that it never covers data.

    Items added to the plot with a ``name`` join it, as with ``addLegend``.
    """
    item = widget.getPlotItem()
    legend = pg.LegendItem(colCount=columns)
    item.layout.addItem(legend, 4, 1)  # rows: title, top axis, view, bottom axis, legend
    item.legend = legend
    return legend


class LogAxis(pg.AxisItem):
    """A log-scale axis whose labels never run into each other.

    pyqtgraph labels every minor tick of a decade (2 to 9) with one digit, so on a narrow plot
    they collide and read as one number. Here the ticks stay, but only 1, 2 and 5 of each
    decade are labelled, or fewer when a decade is short, and values read as numbers (20, 500).
    """

    _MANTISSAS = ((200.0, (1, 2, 3, 5)), (90.0, (1, 2, 5)), (0.0, (1,)))
    """(pixels per decade at least, first digits labelled)."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.px_per_decade = 100.0
        self.fine = False
        """True when the range is too narrow for one decade's ticks (21 to 28 ms had no label):
        ticks then step by 1, 2 or 5 times a power of ten in value, all labelled."""

    def logTickValues(self, minVal, maxVal, size, stdTicks):  # noqa: N802, ANN001, ANN201
        self.px_per_decade = size / max(maxVal - minVal, 1e-9)
        ticks = super().logTickValues(minVal, maxVal, size, stdTicks)
        inside = [v for _, values in ticks for v in values if minVal <= v <= maxVal]
        self.fine = len(inside) < 2 and maxVal > minVal
        if not self.fine:
            return ticks
        low, high = 10 ** minVal, 10 ** maxVal
        rough = (high - low) / 5  # three to five labels
        power = 10 ** math.floor(math.log10(rough))
        step = next(m * power for m in (1, 2, 5, 10) if m * power >= rough * (1 - 1e-9))
        first, last = math.ceil(low / step), math.floor(high / step)
        return [(None, [math.log10(k * step) for k in range(first, last + 1) if k > 0])]

    def labelled(self) -> tuple[int, ...]:
        return next(m for px, m in self._MANTISSAS if self.px_per_decade >= px)

    def logTickStrings(self, values, scale, spacing):  # noqa: N802, ANN001, ANN201
        if self.fine:
            return [f"{10 ** float(v) * scale:g}" for v in values]
        keep = self.labelled()
        out = []
        for v in values:
            x = 10 ** float(v) * scale
            digit = round(10 ** (float(v) - math.floor(float(v) + 1e-9)))
            out.append(f"{x:g}" if digit in keep else "")
        return out


@dataclass
class ParetoPoint:
    model_id: str
    latency_ms: float
    accuracy: float
    """Percent."""
    accuracy_kind: str
    """``measured`` (fine-tuned on the user's data) or ``published`` (e.g. ImageNet top-1)."""
    latency_kind: str = _MEASURED
    """``measured`` or ``estimated``."""
    memory_mib: float | None = None
    on_front: bool = False
    name: str = ""
    """What the tip calls it: the model and, when not eager PyTorch, the runtime its latency
    ran under (``export.plots.point_name``)."""


class ParetoPlot(pg.PlotWidget):
    sig_model_clicked = Signal(str)

    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent, title="Accuracy vs latency",
                         axisItems={"bottom": LogAxis(orientation="bottom")})
        self.setBackground(None)
        self.showGrid(x=True, y=True, alpha=0.25)
        self.setLabel("bottom", "latency p50 (ms, log scale)")
        self.setLabel("left", "accuracy (%)")
        self.setLogMode(x=True, y=False)
        legend_below(self, columns=3)
        self.points: list[ParetoPoint] = []
        self.selected: str | None = None
        self.front_line = self.plot([], [], pen=pg.mkPen("#2ca02c", width=2), name="Pareto front")
        self.scatter_measured = self._scatter("o", "measured accuracy (your data)")
        self.scatter_published = self._scatter("t", "published accuracy (prior)")

    def _scatter(self, symbol: str, name: str) -> pg.ScatterPlotItem:
        scatter = pg.ScatterPlotItem(
            symbol=symbol, hoverable=True, tip=_weak_tip(self._tip), hoverPen=pg.mkPen("k", width=2), name=name,
        )
        scatter.sigClicked.connect(self._on_clicked)
        self.addItem(scatter)  # a named item joins the legend by itself
        return scatter

    def set_points(self, points: list[ParetoPoint]) -> None:
        self.points = [p for p in points if p.latency_ms and p.latency_ms > 0]
        self._redraw()

    def select_model(self, model_id: str | None) -> None:
        self.selected = model_id
        self._redraw()

    def _redraw(self) -> None:
        for scatter, kind in ((self.scatter_measured, True), (self.scatter_published, False)):
            chosen = [p for p in self.points if (p.accuracy_kind == _MEASURED) == kind]
            scatter.setData(spots=[self._spot(p) for p in chosen])
        front = sorted((p for p in self.points if p.on_front), key=lambda p: p.latency_ms)
        self.front_line.setData([p.latency_ms for p in front], [p.accuracy for p in front])

    def _spot(self, point: ParetoPoint) -> dict:
        selected = point.model_id == self.selected
        base = colour(0) if point.accuracy_kind == _MEASURED else QColor("#999999")
        if point.latency_kind != _MEASURED:
            base.setAlpha(110)
        pen = pg.mkPen("#d62728", width=3) if selected else pg.mkPen(base.darker(150), width=1)
        return {"pos": (math.log10(point.latency_ms), point.accuracy), "size": _marker_size(point.memory_mib),
                "brush": pg.mkBrush(base), "pen": pen, "data": point.model_id}

    def spot_positions(self) -> dict[str, tuple[float, float]]:
        """Model id -> (latency ms, accuracy %) of every point drawn (for tests and exports)."""
        out = {}
        for scatter in (self.scatter_measured, self.scatter_published):
            for spot in scatter.points():
                pos = spot.pos()
                out[spot.data()] = (10 ** pos.x(), pos.y())
        return out

    def _tip(self, x: float, y: float, data: str) -> str:
        point = next((p for p in self.points if p.model_id == data), None)
        if point is None:
            return data
        lines = [point.name or point.model_id,
                 f"latency p50: {fmt_ms(point.latency_ms)} ({point.latency_kind})",
                 f"accuracy: {point.accuracy:.1f} % ({point.accuracy_kind})"]
        if point.memory_mib is not None:
            lines.append(f"peak memory: {fmt_mib(point.memory_mib)}")
        if point.on_front:
            lines.append("on the Pareto front")
        return "\n".join(lines)

    def _on_clicked(self, _scatter, spots, _event=None) -> None:  # noqa: ANN001
        if len(spots):
            self.sig_model_clicked.emit(spots[0].data())


def _marker_size(memory_mib: float | None) -> float:
    """8 px for nothing known, growing with the square root of memory up to 30 px."""
    if not memory_mib:
        return 8.0
    return float(min(30.0, 6.0 + 0.35 * math.sqrt(memory_mib)))


class LossCurvePlot(pg.PlotWidget):
    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent, title="Fine-tune loss")
        self.setBackground(None)
        self.showGrid(x=True, y=True, alpha=0.25)
        self.setLabel("bottom", "optimizer step")
        self.setLabel("left", "training loss")
        legend_below(self, columns=4)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._data: dict[str, tuple[list[float], list[float]]] = {}

    def append(self, model_id: str, step: int, loss: float) -> None:
        xs, ys = self._data.setdefault(model_id, ([], []))
        xs.append(step)
        ys.append(loss)
        self._curve(model_id).setData(xs, ys)

    def set_curve(self, model_id: str, losses: list[float]) -> None:
        self._data[model_id] = (list(range(1, len(losses) + 1)), list(losses))
        self._curve(model_id).setData(*self._data[model_id])

    def _curve(self, model_id: str) -> pg.PlotDataItem:
        if model_id not in self.curves:
            pen = pg.mkPen(colour(len(self.curves)), width=2)
            self.curves[model_id] = self.plot([], [], pen=pen, name=model_id)
        return self.curves[model_id]

    def clear_curves(self) -> None:
        for curve in self.curves.values():
            self.removeItem(curve)
            self.plotItem.legend.removeItem(curve)
        self.curves.clear()
        self._data.clear()


class MemoryPlot(pg.PlotWidget):
    """Estimated (x) against measured (y) peak memory; points on the diagonal are exact."""

    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent, title="Memory: estimated vs measured")
        self.setBackground(None)
        self.showGrid(x=True, y=True, alpha=0.25)
        self.setLabel("bottom", "estimated peak (MiB)")
        self.setLabel("left", "measured peak (MiB)")
        self.diagonal = self.plot([], [], pen=pg.mkPen("#888", style=pg.QtCore.Qt.PenStyle.DashLine))
        self.scatter = pg.ScatterPlotItem(size=10, hoverable=True, tip=_weak_tip(self._tip),
                                          brush=pg.mkBrush(colour(1)))
        self.addItem(self.scatter)
        self._rows: dict[str, tuple[float, float]] = {}

    def set_rows(self, rows: dict[str, tuple[float, float]]) -> None:
        """Model id -> (estimated MiB, measured MiB)."""
        self._rows = {k: v for k, v in rows.items() if v[0] and v[1]}
        self.scatter.setData(spots=[{"pos": v, "data": k} for k, v in self._rows.items()])
        top = max([max(v) for v in self._rows.values()] or [1.0]) * 1.1
        self.diagonal.setData([0, top], [0, top])

    def _tip(self, x: float, y: float, data: str) -> str:
        error = (x - y) / y * 100 if y else float("nan")
        return f"{data}\nestimated {fmt_mib(x)}, measured {fmt_mib(y)}\nerror {error:+.0f} %"


class LatencyDistributionPlot(pg.PlotWidget):
    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent, title="Latency distribution")
        self.setBackground(None)
        self.setLabel("bottom", "latency per batch (ms)")
        self.setLabel("left", "iterations")
        self.bars = pg.BarGraphItem(x0=[], x1=[], height=[], brush=colour(0))
        self.addItem(self.bars)
        self.p50 = pg.InfiniteLine(angle=90, pen=pg.mkPen("#2ca02c", width=2), label="p50",
                                   labelOpts={"position": 0.9})
        self.p99 = pg.InfiniteLine(angle=90, pen=pg.mkPen("#d62728", width=2), label="p99",
                                   labelOpts={"position": 0.8})
        for line in (self.p50, self.p99):
            line.hide()
            self.addItem(line)

    def set_samples(self, title: str, samples_ms: list[float]) -> None:
        self.setTitle(f"Latency distribution: {title}" if title else "Latency distribution")
        if not samples_ms:
            self.bars.setOpts(x0=[], x1=[], height=[])
            self.p50.hide()
            self.p99.hide()
            return
        values = np.asarray(samples_ms, dtype=float)
        counts, edges = np.histogram(values, bins=min(40, max(5, len(values) // 5)))
        self.bars.setOpts(x0=edges[:-1], x1=edges[1:], height=counts)
        for line, q in ((self.p50, 50), (self.p99, 99)):
            line.setPos(float(np.percentile(values, q)))
            line.label.setFormat(f"p{q} {fmt_ms(line.value())}")
            line.show()


def save_plot(widget: pg.PlotWidget, path: str | Path) -> Path:
    """Write the plot as SVG (``.svg``) or a bitmap (``.png``, ``.jpg``).

    SVG goes through Qt's own QSvgGenerator: pyqtgraph 0.14's SVGExporter fails on the
    path syntax of current Qt releases (pyqtgraph issue #3485).
    """
    path = Path(path)
    if path.suffix.lower() == ".svg":
        generator = QSvgGenerator()
        generator.setFileName(str(path))
        generator.setSize(widget.size())
        generator.setViewBox(QRect(0, 0, widget.width(), widget.height()))
        generator.setTitle(widget.plotItem.titleLabel.text or "plot")
        painter = QPainter(generator)
        try:
            widget.render(painter)
        finally:
            painter.end()
    else:
        exporter = pyqtgraph.exporters.ImageExporter(widget.plotItem)
        exporter.parameters()["width"] = max(800, int(widget.width()))
        exporter.export(str(path))
    if not path.exists():
        raise OSError(f"could not write the plot to {path}")
    return path

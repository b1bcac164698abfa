"""Decoder plots: decode tokens/s against peak memory, and time to first token against the
prompt length, one colour per model (from the sheet's measured generation rows)."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QHBoxLayout, QWidget

from selector.ui.plots import colour, legend_below


def _plot(title: str, x: str, y: str) -> pg.PlotWidget:
    plot = pg.PlotWidget(title=title)
    plot.setBackground(None)
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot.setLabel("bottom", x)
    plot.setLabel("left", y)
    return plot


class GenerationPlots(QWidget):
    """Two plots side by side; ``set_points`` takes ``decoders.generation_points``' dict."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.speed = _plot("Decode tokens/s vs peak memory", "peak memory (MiB)", "tokens/s (decode)")
        self.ttft = _plot("Time to first token vs prompt length", "prompt (tokens)", "time to first token (ms)")
        self.legend = legend_below(self.speed, 2)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.speed, 1)
        layout.addWidget(self.ttft, 1)
        self.points: dict[str, list[dict[str, float]]] = {}

    def set_points(self, points: dict[str, list[dict[str, float]]]) -> None:
        self.points = points
        for plot in (self.speed, self.ttft):
            plot.clear()
        self.legend.clear()
        for i, (model, rows) in enumerate(sorted(points.items())):
            brush = pg.mkBrush(colour(i))
            speed = [(r["memory_mib"], r["tokens_per_s"]) for r in rows if "memory_mib" in r and "tokens_per_s" in r]
            if speed:
                item = pg.ScatterPlotItem([p[0] for p in speed], [p[1] for p in speed], size=10, brush=brush)
                self.speed.addItem(item)
                self.legend.addItem(item, model)
            ttft = sorted((r["prompt_len"], r["ttft_ms"]) for r in rows if "prompt_len" in r and "ttft_ms" in r)
            if ttft:
                self.ttft.plot([p[0] for p in ttft], [p[1] for p in ttft], pen=pg.mkPen(colour(i), width=2),
                               symbol="o", symbolBrush=brush)

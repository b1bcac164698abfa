"""CompareView: the same models across machines, from several opened sheets.

A table (model x machine: p50 latency, peak memory, status) and a bar plot of latency by
machine, over the core's :class:`Comparison`.
"""

from __future__ import annotations

import html
from typing import Any, Callable

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from selector.core.export.compare import Comparison
from selector.core.units import fmt_mib, fmt_ms
from selector.ui.plots import colour, legend_below

_VALUES: list[tuple[str, str, Callable[[Any], str]]] = [
    ("latency_p50_ms", "p50 latency", fmt_ms), ("peak_memory_mib", "peak memory", fmt_mib),
    ("status", "verdict", str)]


class CompareView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.comparison: Comparison | None = None
        self.value = QComboBox()
        for key, text, _ in _VALUES:
            self.value.addItem(text, key)
        self.value.currentIndexChanged.connect(self._fill)
        self.header = QLabel("Open two or more sheets (File > Open sheet…) to compare machines.")
        self.header.setWordWrap(True)
        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.plot = pg.PlotWidget(title="p50 latency by machine")
        self.plot.setBackground(None)
        self.plot.setLabel("left", "p50 latency (ms)")
        self.legend = legend_below(self.plot, columns=3)  # under the axis: never over a bar
        top = QHBoxLayout()
        top.addWidget(QLabel("Show:"))
        top.addWidget(self.value)
        top.addStretch(1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.plot)
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)

    def set_comparison(self, comparison: Comparison) -> None:
        self.comparison = comparison
        lines = [f"<b>{html.escape(s.machine)}</b>: {html.escape(s.machine_detail)}; recommended "
                 f"{html.escape(s.recommended or 'nothing')}" for s in comparison.sheets]
        lines += [f"<i>{html.escape(n)}</i>" for n in comparison.notes]
        self.header.setText("<br>".join(lines))
        self._fill()
        self._plot()

    def _fill(self) -> None:
        comparison = self.comparison
        if comparison is None:
            return
        key = self.value.currentData()
        fmt = next(f for k, _, f in _VALUES if k == key)
        self.table.clear()
        self.table.setColumnCount(1 + len(comparison.machines))
        self.table.setHorizontalHeaderLabels(["Model", *comparison.machines])
        self.table.setRowCount(len(comparison.models))
        for row, model in enumerate(comparison.models):
            self.table.setItem(row, 0, QTableWidgetItem(model))
            for col, machine in enumerate(comparison.machines, start=1):
                cell = comparison.cell(model, machine)
                value = getattr(cell, key) if cell else None
                text = "—" if value in (None, "") else fmt(value)
                if cell and key == "latency_p50_ms" and cell.latency_source:
                    text += f" ({cell.latency_source})"
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()

    def _plot(self) -> None:
        comparison = self.comparison
        self.plot.clear()
        if comparison is None:
            return
        n = len(comparison.machines)
        self.legend.setColumnCount(min(max(1, n), 4))
        width = 0.8 / max(1, n)
        for i, machine in enumerate(comparison.machines):
            xs, heights = [], []
            for j, model in enumerate(comparison.models):
                cell = comparison.cell(model, machine)
                if cell and cell.latency_p50_ms:
                    xs.append(j + (i - (n - 1) / 2) * width)
                    heights.append(cell.latency_p50_ms)
            bars = pg.BarGraphItem(x=xs, height=heights, width=width, brush=colour(i), name=machine)
            self.plot.addItem(bars)
        axis = self.plot.getAxis("bottom")
        axis.setTicks([[(j, m) for j, m in enumerate(comparison.models)]])

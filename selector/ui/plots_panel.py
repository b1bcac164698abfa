"""PlotsPanel: the result plots in tabs, with "Save plot…" for the one shown."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from selector.ui.plots import (
    LatencyDistributionPlot,
    LossCurvePlot,
    MemoryPlot,
    ParetoPlot,
    save_plot,
)
from selector.ui.plots_decoder import GenerationPlots
from selector.ui.settings import last_folder, remember_folder


class PlotsPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pareto = ParetoPlot()
        self.loss = LossCurvePlot()
        self.memory = MemoryPlot()
        self.latency = LatencyDistributionPlot()
        self.generation = GenerationPlots()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.pareto, "Accuracy vs latency")
        self.tabs.addTab(self.loss, "Loss curves")
        self.tabs.addTab(self.memory, "Memory: estimated vs measured")
        self.tabs.addTab(self.latency, "Latency distribution")
        self.tabs.addTab(self.generation, "Text generation: tokens/s, first token")
        self.save_button = QPushButton("Save plot…")
        self.save_button.setToolTip("Save the plot shown as PNG or SVG")
        self.save_button.clicked.connect(self.save_dialog)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(row)

    def save_dialog(self) -> Path | None:
        name = self.tabs.tabText(self.tabs.currentIndex()).split(":")[0].replace(" ", "-").lower()
        path, _ = QFileDialog.getSaveFileName(self, "Save plot", last_folder("plot", f"{name}.png"),
                                              "PNG image (*.png);;SVG vector image (*.svg)")
        if not path:
            return None
        remember_folder("plot", path)
        widget = self.tabs.currentWidget()
        if widget is self.generation:  # two plots: the one of tokens/s against memory
            widget = self.generation.speed
        return save_plot(widget, path)

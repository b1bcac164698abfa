"""RecommendationPanel: the answer, its reasons, and every candidate's verdict in a table.

A view over the core's :class:`Recommendation`; choosing an objective asks the window to
recompute (the core function is cheap), and selecting a row says which model is selected so
the plots and the catalog follow.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from selector.core.recommend.result import (
    DOMINATED,
    PARETO,
    RECOMMENDED,
    REJECTED,
    UNVERIFIED,
    Recommendation,
    Verdict,
)
from selector.core.units import fmt_mib, fmt_ms

OBJECTIVES = [("accuracy", "Most accurate within the constraints"),
              ("latency", "Fastest above the accuracy floor"),
              ("balanced", "Balance accuracy and speed"),
              ("energy", "Most samples per joule (measured energy)")]

_STATUS_TEXT = {RECOMMENDED: "recommended", PARETO: "Pareto front", DOMINATED: "dominated",
                UNVERIFIED: "not verified", REJECTED: "rejected"}
_STATUS_COLOUR = {RECOMMENDED: "#2e7d32", PARETO: "#1565c0", DOMINATED: "#757575",
                  UNVERIFIED: "#ef6c00", REJECTED: "#c62828"}

COLUMNS = [
    ("Rank", "Place under the chosen objective"),
    ("Model", "Model id"),
    ("Status", "Recommended, on the Pareto front, dominated, not verified or rejected"),
    ("Accuracy", "The accuracy evidence used: fine-tuned on your data, transferability score, "
                 "or published (e.g. ImageNet top-1), as labelled"),
    ("Latency p50", "Per batch; measured on this machine or estimated, as labelled"),
    ("Memory", "Peak memory for the checked mode; measured or estimated, as labelled"),
    ("Why", "The reason for this verdict, with the numbers"),
]


def _figure_text(fig, fmt) -> str:  # noqa: ANN001
    if fig is None:
        return "—"
    return f"{fmt(fig.value)} ({fig.source})"


class VerdictTableModel(QAbstractTableModel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.verdicts: list[Verdict] = []

    def set_verdicts(self, verdicts: list[Verdict]) -> None:
        self.beginResetModel()
        self.verdicts = list(verdicts)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.verdicts)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802, ANN001
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section][0]
            if role == Qt.ItemDataRole.ToolTipRole:
                return COLUMNS[section][1]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: ANN201
        if not index.isValid():
            return None
        v = self.verdicts[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return [
                str(v.rank) if v.rank else "",
                v.model_id,
                _STATUS_TEXT.get(v.status, v.status),
                v.accuracy.text() if v.accuracy.value is not None else "—",
                _figure_text(v.latency, fmt_ms),
                _figure_text(v.memory, fmt_mib),
                v.reason,
            ][col]
        if role == Qt.ItemDataRole.UserRole:  # sort key
            return [v.rank or 10_000, v.model_id, v.status,
                    v.accuracy.value if v.accuracy.value is not None else -1,
                    v.latency.value if v.latency else float("inf"),
                    v.memory.value if v.memory else float("inf"), v.reason][col]
        if role == Qt.ItemDataRole.ForegroundRole and col == 2:
            return QColor(_STATUS_COLOUR.get(v.status, "#000"))
        if role == Qt.ItemDataRole.ToolTipRole:
            return "\n".join([v.reason, *v.checks])
        return None


class RecommendationPanel(QWidget):
    sig_objective_changed = Signal(str)
    sig_model_selected = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.recommendation: Recommendation | None = None
        self.objective = QComboBox()
        for key, text in OBJECTIVES:
            self.objective.addItem(text, key)
        self.objective.setToolTip("What 'best' means for the ranking")
        self.objective.currentIndexChanged.connect(
            lambda i: self.sig_objective_changed.emit(self.objective.itemData(i)))

        self.summary = QLabel("Run a benchmark or open a sheet to get a recommendation.")
        self.summary.setObjectName("recommendation_summary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.RichText)

        self.model = VerdictTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.selectionModel().currentRowChanged.connect(self._on_row)

        top = QHBoxLayout()
        top.addWidget(QLabel("Objective:"))
        top.addWidget(self.objective)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(self.details)
        layout.addWidget(self.table, 1)

    def current_objective(self) -> str:
        return self.objective.currentData()

    def set_objective(self, kind: str) -> None:
        """Show ``kind`` as chosen without announcing it (the session set it: an opened sheet)."""
        index = self.objective.findData(kind)
        if index >= 0 and index != self.objective.currentIndex():
            self.objective.blockSignals(True)
            self.objective.setCurrentIndex(index)
            self.objective.blockSignals(False)

    def set_recommendation(self, rec: Recommendation | None) -> None:
        self.recommendation = rec
        if rec is None:
            self.model.set_verdicts([])
            self.summary.setText("No results yet.")
            self.details.setText("")
            return
        self.model.set_verdicts(rec.verdicts)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        colour = {"high": "#2e7d32", "medium": "#ef6c00", "low": "#c62828"}.get(rec.confidence, "#000")
        self.summary.setText(
            f"<b>{html.escape(rec.summary)}</b><br>"
            f"Confidence: <span style='color:{colour}'>{html.escape(rec.confidence)}</span>. "
            f"{html.escape(rec.basis)}")
        items = [f"<li>{html.escape(n)}</li>" for n in rec.notes]
        items += [f"<li>Next: {html.escape(p.text())}</li>" for p in rec.next_probes]
        self.details.setText(f"<ul>{''.join(items)}</ul>" if items else "")

    def select_model(self, model_id: str) -> None:
        for row in range(self.proxy.rowCount()):
            if self.proxy.index(row, 1).data() == model_id:
                self.table.selectRow(row)
                return

    def _on_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.sig_model_selected.emit(self.proxy.index(current.row(), 1).data())

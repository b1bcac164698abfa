"""CatalogView: every candidate with its fit badges, filtered as the user types.

The table shows :mod:`selector.ui.catalog_model` (rows in the table's sort order, a proxy that
keeps what the core's filter accepted); a legend says what the badges mean. The breakdown box
shows what decided the selected entry's badges. Rows and the breakdown text are computed in
:mod:`selector.ui.catalog_rows`.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QSplitter,
    QTableView,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from selector.core.catalog import filters
from selector.core.catalog.entry import CatalogEntry
from selector.core.estimate.fit import FITS, MARGIN, NO, TIGHT
from selector.core.hardware import HardwareProfile
from selector.core.request import Request
from selector.ui.catalog_model import (  # noqa: F401 - the column numbers are used by tests
    ACCURACY_COLUMN,
    COL_INFER,
    COL_MODEL,
    COL_PARAMS,
    COL_TRAIN,
    COL_WEIGHTS,
    COLUMNS,
    FIT_LEGEND,
    CatalogProxy,
    CatalogTableModel,
)
from selector.ui.catalog_rows import BADGES, CatalogRow, breakdown_html, compute_rows, runs_here


class CatalogView(QWidget):
    sig_model_selected = Signal(str)
    sig_filtered = Signal(int, float)
    """(rows shown, milliseconds the filter took)."""
    sig_rows_ready = Signal(int)
    """Badges computed for the current request and hardware (number of rows)."""
    sig_download_requested = Signal(list)
    """The selected entries whose weights the user asked to download."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entries: list[CatalogEntry] = []
        self.request = Request()
        self.profile: HardwareProfile | None = None
        self.last_filter_ms = 0.0
        self.workers = None
        self._token = 0

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search models (e.g. vit small in21k)…")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip("Words that must all appear in the id, family or pretraining data")
        self.family = QComboBox()
        self.family.setToolTip("Architecture family")
        self.max_params = QDoubleSpinBox()
        self.max_params.setRange(0, 100_000)
        self.max_params.setDecimals(1)
        self.max_params.setPrefix("at most ")
        self.max_params.setSuffix(" M params")
        self.max_params.setSpecialValueText("any size")
        self.max_params.setToolTip("A maximum: show models with at most this many parameters, in "
                                   "millions (0: any size)")
        self.fits_only = QCheckBox("Fits only")
        self.fits_only.setToolTip("Hide models whose checked mode does not fit in free memory")
        self.fits_only.setChecked(True)
        self.cached_only = QCheckBox("Weights local")
        self.cached_only.setToolTip("Only models whose pretrained weights are already on disk")
        self.count = QLabel()
        self.count.setToolTip("Models shown of all in the catalog")
        # fixed widths: a label whose text changes must not move the filters under the mouse
        self.count.setFixedWidth(self.count.fontMetrics().horizontalAdvance("00000 of 00000") + 8)
        self.count.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.max_params.setFixedWidth(self.max_params.fontMetrics().horizontalAdvance("at most 0000.0 M params")
                                      + 30)
        for signal in (self.search.textChanged, self.family.currentIndexChanged,
                       self.max_params.valueChanged, self.fits_only.toggled, self.cached_only.toggled):
            signal.connect(self.refilter)

        bar = QHBoxLayout()
        bar.addWidget(self.search, 3)
        bar.addWidget(self.family, 1)
        bar.addWidget(self.max_params)
        bar.addWidget(self.fits_only)
        bar.addWidget(self.cached_only)
        self.search.setMinimumWidth(self.search.fontMetrics().horizontalAdvance("Search models…") + 30)

        self.model = CatalogTableModel(self)
        self.proxy = CatalogProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        # best published accuracy first, as `selector list` sorts (Qt's default: name, Z-A)
        self.table.sortByColumn(ACCURACY_COLUMN, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for col, (_, _, width) in enumerate(COLUMNS):
            self.table.setColumnWidth(col, width)
        self.table.selectionModel().currentRowChanged.connect(self._on_current)
        self.download_action = QAction("Download weights", self)
        self.download_action.setToolTip("Download the pretrained weights of the selected models "
                                        "into the Hugging Face cache")
        self.download_action.triggered.connect(self.request_download)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)

        self.breakdown = QTextBrowser()
        self.breakdown.setObjectName("catalog_breakdown")
        self.breakdown.setOpenLinks(False)
        self.breakdown.setPlaceholderText(
            "Select a model to see its memory breakdown: what decided its fit badges.")
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.table)
        splitter.addWidget(self.breakdown)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        self.splitter = splitter
        self.legend = QLabel(" · ".join(
            f"<b style='color:{BADGES[status][1]}'>{BADGES[status][0]}</b>{text}"
            for status, text in ((FITS, f": leaves at least {MARGIN:.0%} of the free memory"),
                                 (TIGHT, f": fits, within that {MARGIN:.0%} margin"),
                                 (NO, ": needs more than the free memory"))))
        self.legend.setObjectName("fit_legend")
        self.legend.setWordWrap(True)
        self.legend.setToolTip(FIT_LEGEND)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)
        under = QHBoxLayout()
        under.addWidget(self.legend, 1)
        under.addWidget(self.count, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(under)

    # ------------------------------------------------------------------ data
    def set_entries(self, entries: list[CatalogEntry]) -> None:
        self.entries = list(entries)
        families = sorted({e.family for e in self.entries if e.family})
        self.family.blockSignals(True)
        self.family.clear()
        self.family.addItem("all families", "")
        for fam in families:
            self.family.addItem(fam, fam)
        self.family.blockSignals(False)
        self._recompute()

    def set_context(self, request: Request, profile: HardwareProfile | None) -> None:
        """New settings or hardware: badges are recomputed, then the filter reapplied."""
        self.request, self.profile = request, profile
        self.model.set_task(request.task)
        self._recompute()

    def set_workers(self, workers) -> None:  # noqa: ANN001 - WorkerPool
        """Compute badges in the background from now on (1,850 entries take a few hundred ms)."""
        self.workers = workers

    def _recompute(self) -> None:
        self._token += 1
        if self.workers is None:
            self._apply_rows(compute_rows(self.entries, self.request, self.profile), self._token)
            return
        self.workers.start("Fit badges", compute_rows, list(self.entries), self.request, self.profile,
                           on_result=lambda rows, token=self._token: self._apply_rows(rows, token))

    def _apply_rows(self, rows: list[CatalogRow], token: int) -> None:
        if token != self._token:
            return  # a newer request or profile is being computed
        current = self.current_model()
        self.model.set_rows(rows)
        self.refilter()
        if current:
            self.select_model(current)
        self.sig_rows_ready.emit(len(rows))

    def current_filter(self) -> filters.CatalogFilter:
        family = self.family.currentData()
        return filters.CatalogFilter(
            task=self.request.task,
            families=[family] if family else [],
            search=self.search.text(),
            params_max=self.max_params.value() * 1e6 if self.max_params.value() else None,
            min_accuracy=self.request.min_accuracy,
            cached_only=self.cached_only.isChecked(),
        )

    def refilter(self) -> None:
        start = time.perf_counter()
        kept = {e.id for e, _ in filters.apply(self.entries, self.current_filter())}
        if self.fits_only.isChecked():
            kept = {r.entry.id for r in self.model.rows if r.entry.id in kept and runs_here(r, self.request)}
        self.proxy.set_accepted(kept)
        self.last_filter_ms = (time.perf_counter() - start) * 1000
        shown = self.proxy.rowCount()
        self.count.setText(f"{shown} of {len(self.entries)}")
        self.sig_filtered.emit(shown, self.last_filter_ms)

    # ------------------------------------------------------------- selection
    def visible_ids(self) -> list[str]:
        return [self.proxy.index(r, COL_MODEL).data() for r in range(self.proxy.rowCount())]

    def selected_ids(self) -> list[str]:
        rows = self.table.selectionModel().selectedRows(COL_MODEL)
        return [index.data() for index in rows]

    def current_model(self) -> str | None:
        index = self.table.currentIndex()
        return self.proxy.index(index.row(), COL_MODEL).data() if index.isValid() else None

    def select_model(self, model_id: str) -> bool:
        source_row = self.model.row_of(model_id)
        if source_row is None:
            return False
        index = self.proxy.mapFromSource(self.model.index(source_row, COL_MODEL))
        if not index.isValid():
            return False
        if self.table.currentIndex().row() != index.row():
            self.table.setCurrentIndex(index)
            self.table.scrollTo(index)
        return True

    def selected_entries(self) -> list[CatalogEntry]:
        rows = self.table.selectionModel().selectedRows(COL_MODEL)
        return [self.model.rows[self.proxy.mapToSource(index).row()].entry for index in rows]

    def request_download(self) -> None:
        self.sig_download_requested.emit(self.selected_entries())

    def _context_menu(self, pos) -> None:  # noqa: ANN001 - QPoint
        menu = QMenu(self)
        menu.addAction(self.download_action)
        menu.aboutToHide.connect(menu.deleteLater)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def mark_local(self, model_id: str) -> None:
        """The weights of ``model_id`` are now on this machine: its row and breakdown say so."""
        source_row = self.model.row_of(model_id)
        if source_row is None:
            return
        row = self.model.rows[source_row]
        row.entry.weights_cached = True
        self.model.dataChanged.emit(self.model.index(source_row, 0),
                                    self.model.index(source_row, len(COLUMNS) - 1))
        if self.current_model() == model_id:
            self.breakdown.setHtml(breakdown_html(row, self.request))

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            self.breakdown.clear()
            return
        source = self.proxy.mapToSource(current)
        row = self.model.rows[source.row()]
        self.breakdown.setHtml(breakdown_html(row, self.request))
        self.sig_model_selected.emit(row.entry.id)

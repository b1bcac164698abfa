"""CatalogView: every candidate with its fit badges, filtered as the user types.

``CatalogTableModel`` holds one row per catalog entry with the figures the table shows
(published accuracy, size, and the fit of inference and of fine-tuning on the chosen device,
from the core's estimator). ``CatalogProxy`` sorts by numeric keys and keeps the rows whose
ids the core's filter (``selector.core.catalog.filters.apply``) accepted: the logic stays in
the core, the proxy only mirrors it. The breakdown box shows what decided the selected
entry's badges. Rows and the breakdown text are computed in :mod:`selector.ui.catalog_rows`.
"""

from __future__ import annotations

import time
from typing import cast

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QAction, QColor
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
from selector.core.estimate.fit import FITS, NO, TIGHT
from selector.core.hardware import HardwareProfile
from selector.core.request import Request
from selector.core.units import fmt_count, fmt_mib
from selector.ui.catalog_rows import BADGES, CatalogRow, breakdown_html, compute_rows, runs_here


COLUMNS = [
    ("Model", "Catalog id: timm architecture.tag, Hugging Face id, or local:<name>"),
    ("Family", "Architecture family"),
    ("Params", "Parameter count (from a meta-device build)"),
    ("MACs", "Multiply-accumulates per sample at the default input size (1 MAC = 2 FLOPs)"),
    ("Accuracy", "Published accuracy: ImageNet-1k top-1 for images, GLUE (else SST-2) for text"),
    ("Input", "Default input: pixels for images, tokens for text"),
    ("Inference", "Does inference at the chosen batch and precision fit in the free memory "
                  "of the chosen device? (estimate)"),
    ("Fine-tune", "Does one fine-tuning step (AdamW) at the chosen batch fit? (estimate)"),
    ("Memory", "Estimated peak memory for the mode that must fit"),
    ("Weights", "Pretrained weights available locally (else architecture-only measurements); "
                "right-click a row to download them"),
    ("Licence", "Licence of the pretrained weights"),
]
ACCURACY_COLUMN = [name for name, _ in COLUMNS].index("Accuracy")
COL_MODEL, COL_INFER, COL_TRAIN, COL_MEMORY = 0, 6, 7, 8


class CatalogTableModel(QAbstractTableModel):
    """The rows, kept in the table's sort order. Sorting happens here with one key per row
    (Python's sort): the proxy's own sort asks ``data()`` twice per comparison, which for
    1,850 rows held the GUI thread for about 0.2 s at every badge update."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[CatalogRow] = []
        self._index: dict[str, int] = {}
        self.sort_column, self.sort_order = ACCURACY_COLUMN, Qt.SortOrder.DescendingOrder

    def set_rows(self, rows: list[CatalogRow]) -> None:
        self.beginResetModel()
        self.rows = self._sorted(rows)
        self._index = {r.entry.id: i for i, r in enumerate(self.rows)}
        self.endResetModel()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.layoutAboutToBeChanged.emit()
        self.sort_column, self.sort_order = column, order
        before = self.persistentIndexList()  # selection and current row follow their entries
        ids = [self.rows[i.row()].entry.id for i in before]
        self.rows = self._sorted(self.rows)
        self._index = {r.entry.id: i for i, r in enumerate(self.rows)}
        self.changePersistentIndexList(
            before, [self.index(self._index[m], i.column()) for m, i in zip(ids, before)])
        self.layoutChanged.emit()

    def _sorted(self, rows: list[CatalogRow]) -> list[CatalogRow]:
        if self.sort_column < 0:
            return list(rows)
        return sorted(rows, key=lambda r: self._key(r, self.sort_column),
                      reverse=self.sort_order == Qt.SortOrder.DescendingOrder)

    def row_of(self, model_id: str) -> int | None:
        return self._index.get(model_id)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.rows)

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
        row = self.rows[index.row()]
        e, col = row.entry, index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(row, col)
        if role == Qt.ItemDataRole.UserRole:
            return self._key(row, col)
        if role == Qt.ItemDataRole.ForegroundRole and col in (COL_INFER, COL_TRAIN):
            fit = row.inference if col == COL_INFER else row.finetune
            return QColor(BADGES[fit.status][1]) if fit else None
        if role == Qt.ItemDataRole.ToolTipRole:
            if col in (COL_INFER, COL_TRAIN):
                fit = row.inference if col == COL_INFER else row.finetune
                return fit.reason if fit else "choose a device to see the fit"
            if col == COL_MODEL:
                return e.notes or e.hf_hub_id or e.id
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (2, 3, 4, 8):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _text(row: CatalogRow, col: int) -> str:
        e = row.entry
        if col == COL_MODEL:
            return e.id
        if col == 1:
            return e.family
        if col == 2:
            return fmt_count(e.params or e.published_params)
        if col == 3:
            return fmt_count(e.macs or e.published_macs)
        if col == 4:
            return f"{row.accuracy:.1f}" if row.accuracy is not None else "—"
        if col == 5:
            size = e.input_size
            return f"{size[-1]} px" if len(size) == 3 else f"{size[0]} tok" if size else "—"
        if col in (COL_INFER, COL_TRAIN):
            fit = row.inference if col == COL_INFER else row.finetune
            return BADGES[fit.status][0] if fit else "—"
        if col == COL_MEMORY:
            return fmt_mib(row.checked_mib)
        if col == 9:
            return "local" if e.weights_cached or e.local_path else "not downloaded"
        return e.license or "—"

    @staticmethod
    def _key(row: CatalogRow, col: int):  # noqa: ANN205
        e = row.entry
        order = {FITS: 0, TIGHT: 1, NO: 2}
        return [
            e.id.lower(), e.family, e.params or e.published_params or 0,
            e.macs or e.published_macs or 0, row.accuracy if row.accuracy is not None else -1.0,
            (e.input_size or (0,))[-1],
            order[row.inference.status] if row.inference else 3,
            order[row.finetune.status] if row.finetune else 3,
            row.checked_mib or 0.0, int(bool(e.weights_cached or e.local_path)), e.license or "",
        ][col]


class CatalogProxy(QSortFilterProxyModel):
    """Keeps the rows whose ids the core's filter accepted, in the source model's order: a
    click on a header sorts the source model (see ``CatalogTableModel``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.accepted: set[str] | None = None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.sourceModel().sort(column, order)

    def set_accepted(self, ids: set[str] | None) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.9; invalidateFilter is deprecated
            self.beginFilterChange()
            self.accepted = ids
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.accepted = ids
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:  # noqa: N802
        if self.accepted is None:
            return True
        source = cast(CatalogTableModel, self.sourceModel())
        return source.rows[source_row].entry.id in self.accepted


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
        self.max_params.setSuffix(" M params")
        self.max_params.setSpecialValueText("any size")
        self.max_params.setToolTip("Largest parameter count to show, in millions (0: any)")
        self.fits_only = QCheckBox("Fits only")
        self.fits_only.setToolTip("Hide models whose checked mode does not fit in free memory")
        self.fits_only.setChecked(True)
        self.cached_only = QCheckBox("Weights local")
        self.cached_only.setToolTip("Only models whose pretrained weights are already on disk")
        self.count = QLabel()
        for signal in (self.search.textChanged, self.family.currentIndexChanged,
                       self.max_params.valueChanged, self.fits_only.toggled, self.cached_only.toggled):
            signal.connect(self.refilter)

        bar = QHBoxLayout()
        bar.addWidget(self.search, 3)
        bar.addWidget(self.family, 1)
        bar.addWidget(self.max_params)
        bar.addWidget(self.fits_only)
        bar.addWidget(self.cached_only)
        bar.addWidget(self.count)

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
        for col, width in enumerate([260, 90, 80, 80, 70, 60, 90, 90, 80, 100, 90]):
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

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)

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

"""The catalog table's model: one row per catalog entry, its columns, and the proxy that keeps
the rows the core's filter accepted.

``CatalogTableModel`` holds the rows with the figures the table shows (published accuracy,
size, and the fit of inference and of fine-tuning on the chosen device, from the core's
estimator) and sorts them itself. ``CatalogProxy`` keeps the rows whose ids the core's filter
(``selector.core.catalog.filters.apply``) accepted: the logic stays in the core.
"""

from __future__ import annotations

from typing import cast

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from selector.core.catalog import filters
from selector.core.estimate.fit import FITS, MARGIN, NO, TIGHT
from selector.core.recommend.checks import metric_label
from selector.core.request import Request
from selector.core.units import fmt_count, fmt_mib
from selector.ui.catalog_rows import BADGES, CatalogRow

FIT_LEGEND = (
    f"fits: the estimate leaves at least {MARGIN:.0%} of the free memory; "
    f"tight: it fits, but within that {MARGIN:.0%} margin (an estimate can be off by that much); "
    "does not fit: it needs more than the free memory"
)
"""What the badges mean (one home: ``selector.core.estimate.fit``)."""

# (header, tooltip, width in px): the badges come right after the name, so that they are seen
# without scrolling at 1024 x 700.
COLUMNS = [
    ("Model", "Catalog id: timm architecture.tag, Hugging Face id, or local:<name>", 230),
    ("Inference", "Does inference at the chosen batch and precision fit in the free memory of the "
                  "chosen device? (estimate)\n" + FIT_LEGEND, 78),
    ("Fine-tune", "Does one fine-tuning step (AdamW) at the chosen batch fit? (estimate)\n"
                  + FIT_LEGEND, 78),
    ("Accuracy", "Published accuracy (%): ImageNet-1k top-1 for images, GLUE (else SST-2) for text", 124),
    ("Memory", "Estimated peak memory for the mode that must fit", 80),
    ("Params", "Parameter count (from a meta-device build)", 72),
    ("MACs", "Multiply-accumulates per sample at the default input size (1 MAC = 2 FLOPs)", 72),
    ("Family", "Architecture family", 90),
    ("Input", "Default input: pixels for images, tokens for text", 60),
    ("Weights", "Pretrained weights available locally (else architecture-only measurements); "
                "right-click a row to download them", 100),
    ("Licence", "Licence of the pretrained weights", 90),
]
(COL_MODEL, COL_INFER, COL_TRAIN, ACCURACY_COLUMN, COL_MEMORY, COL_PARAMS, COL_MACS, COL_FAMILY,
 COL_INPUT, COL_WEIGHTS, COL_LICENCE) = range(len(COLUMNS))
_RIGHT_ALIGNED = (ACCURACY_COLUMN, COL_MEMORY, COL_PARAMS, COL_MACS)


class CatalogTableModel(QAbstractTableModel):
    """The rows, kept in the table's sort order. Sorting happens here with one key per row
    (Python's sort): the proxy's own sort asks ``data()`` twice per comparison, which for
    1,850 rows held the GUI thread for about 0.2 s at every badge update."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[CatalogRow] = []
        self._index: dict[str, int] = {}
        self.sort_column, self.sort_order = ACCURACY_COLUMN, Qt.SortOrder.DescendingOrder
        self.task = Request().task
        """The request's task: the accuracy column names its metric (ImageNet top-1, GLUE)."""

    def set_task(self, task: str) -> None:
        if task != self.task:
            self.task = task
            self.headerDataChanged.emit(Qt.Orientation.Horizontal, ACCURACY_COLUMN, ACCURACY_COLUMN)

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
                if section == ACCURACY_COLUMN:
                    metric = filters.ACCURACY_METRICS.get(self.task, "imagenet_top1")
                    return metric_label(metric).replace(" score", "") + " %"
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
            if col == ACCURACY_COLUMN and row.accuracy is not None:
                return f"published {metric_label(filters.accuracy_metric(e))} (%)"
        if role == Qt.ItemDataRole.TextAlignmentRole and col in _RIGHT_ALIGNED:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _text(row: CatalogRow, col: int) -> str:
        e = row.entry
        if col == COL_MODEL:
            return e.id
        if col == COL_FAMILY:
            return e.family
        if col == COL_PARAMS:
            return fmt_count(e.params or e.published_params)
        if col == COL_MACS:
            return fmt_count(e.macs or e.published_macs)
        if col == ACCURACY_COLUMN:
            return f"{row.accuracy:.1f}" if row.accuracy is not None else "—"
        if col == COL_INPUT:
            size = e.input_size
            return f"{size[-1]} px" if len(size) == 3 else f"{size[0]} tok" if size else "—"
        if col in (COL_INFER, COL_TRAIN):
            fit = row.inference if col == COL_INFER else row.finetune
            return BADGES[fit.status][0] if fit else "—"
        if col == COL_MEMORY:
            return fmt_mib(row.checked_mib)
        if col == COL_WEIGHTS:
            return "local" if e.weights_cached or e.local_path else "not downloaded"
        return e.license or "—"

    @staticmethod
    def _key(row: CatalogRow, col: int):  # noqa: ANN205
        e = row.entry
        order = {FITS: 0, TIGHT: 1, NO: 2}
        return [
            e.id.lower(),
            order[row.inference.status] if row.inference else 3,
            order[row.finetune.status] if row.finetune else 3,
            row.accuracy if row.accuracy is not None else -1.0,
            row.checked_mib or 0.0,
            e.params or e.published_params or 0,
            e.macs or e.published_macs or 0,
            e.family,
            (e.input_size or (0,))[-1],
            int(bool(e.weights_cached or e.local_path)),
            e.license or "",
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

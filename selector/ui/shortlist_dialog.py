"""ShortlistDialog: the models the one-click benchmark will measure, before it starts.

It lists the core's shortlist (each with why it was picked) plus the models selected in the
catalog table; unticking removes a model, selecting more rows in the catalog before clicking
adds them. Models the shortlist left out as far too slow for this CPU are listed unticked,
each with its reason: ticking one is the user asking for it. When other work was running on
the machine just before (``contention.machine_busy``), a warning above the list says so: the
user may start anyway (the rows will be marked noisy) or cancel and wait.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from selector.core.catalog.entry import CatalogEntry
from selector.core.shortlist import ShortlistItem


class ShortlistDialog(QDialog):
    def __init__(self, items: list[ShortlistItem], extra: list[CatalogEntry], top_k: int,
                 parent: QWidget | None = None, left_out: Sequence[ShortlistItem] = (),
                 busy: str | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Benchmark these models?")
        self.resize(720, 420)
        intro = QLabel(
            "Latency and transferability are measured for every ticked model; the best "
            f"{top_k} by transferability on your data are then fine-tuned. Untick to remove a "
            "model; to add one, select it in the catalog before clicking the button.")
        if left_out:
            intro.setText(intro.text() + " Unticked: left out as far too slow for this CPU "
                          "(each says why); tick one to measure it anyway.")
        intro.setWordWrap(True)
        self.busy = QLabel(busy or "")
        """The machine was busy just now (``contention.machine_busy``): the user may still start."""
        self.busy.setObjectName("busy_warning")
        self.busy.setWordWrap(True)
        self.busy.setStyleSheet("#busy_warning { background: #fff3cd; color: #222; padding: 6px; }")
        self.busy.setVisible(bool(busy))
        self.list = QListWidget()
        self._entries: dict[str, CatalogEntry] = {}
        for item in items:
            self._add(item.entry, item.reason)
        for entry in extra:
            if entry.id not in self._entries:
                self._add(entry, "selected in the catalog")
        for item in left_out:
            if item.entry.id not in self._entries:
                self._add(item.entry, item.reason, checked=False)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Start")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.busy)
        layout.addWidget(intro)
        layout.addWidget(self.list, 1)
        layout.addWidget(buttons)

    def _add(self, entry: CatalogEntry, reason: str, checked: bool = True) -> None:
        item = QListWidgetItem(f"{entry.id}\n    {reason}")
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        item.setData(Qt.ItemDataRole.UserRole, entry.id)
        item.setToolTip(reason)
        self.list.addItem(item)
        self._entries[entry.id] = entry

    def chosen(self) -> list[CatalogEntry]:
        out = []
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.checkState() == Qt.CheckState.Checked:
                out.append(self._entries[item.data(Qt.ItemDataRole.UserRole)])
        return out

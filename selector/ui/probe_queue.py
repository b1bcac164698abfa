"""ProbeQueuePanel: one row per probe with its own progress bar, state and cancel button,
an overall progress bar with ETA, and "Cancel all".

A view only: the run controller adds rows and feeds each one the probe's events; a click on
a row's cancel button emits ``sig_cancel(probe_id)``.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from selector.core.results.record import STATUS_WORDS, ProbeStatus

QUEUED, RUNNING = ProbeStatus.QUEUED.value, ProbeStatus.RUNNING.value
DONE_STATES = {s.value for s in ProbeStatus if s.ended}
_STATE_TEXT = STATUS_WORDS
_COLUMNS = ["Model", "Probe", "Where", "State", "Progress", "ETA", "", "Message"]
COL_MODEL, COL_KIND, COL_WHERE, COL_STATE, COL_PROGRESS, COL_ETA, COL_CANCEL, COL_MESSAGE = range(8)
HERE = "this machine"


def _fmt_eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"


class ProbeQueuePanel(QWidget):
    sig_cancel = Signal(str)
    sig_cancel_all = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, len(_COLUMNS))
        self.table.setHorizontalHeaderLabels(_COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for col, width in enumerate([210, 70, 120, 110, 140, 50, 70]):
            self.table.setColumnWidth(col, width)
        self.overall = QProgressBar()
        self.overall.setFormat("%p%")
        self.overall_label = QLabel("No benchmark running.")
        self.cancel_all_button = QPushButton("Cancel all")
        self.cancel_all_button.setEnabled(False)
        self.cancel_all_button.clicked.connect(self.sig_cancel_all)
        top = QHBoxLayout()
        top.addWidget(self.overall_label, 1)
        top.addWidget(self.overall, 1)
        top.addWidget(self.cancel_all_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        self._rows: dict[str, int] = {}
        self._fraction: dict[str, float] = {}
        self._state: dict[str, str] = {}
        self._started_at: float | None = None
        self._planned = 0

    # ------------------------------------------------------------------ rows
    def clear(self) -> None:
        self.table.setRowCount(0)
        self._rows.clear()
        self._fraction.clear()
        self._state.clear()
        self._started_at = None
        self._planned = 0
        self._update_overall()

    def set_planned(self, count: int) -> None:
        """Probes the run will add later (not rows yet): counted in the total and the ETA."""
        self._planned = max(0, count)
        self._update_overall()

    def add_probe(self, probe_id: str, model_id: str, kind: str) -> None:
        if probe_id in self._rows:
            return
        row = self.table.rowCount()
        self.table.insertRow(row)
        self._rows[probe_id] = row
        self.table.setItem(row, COL_MODEL, QTableWidgetItem(model_id))
        self.table.setItem(row, COL_KIND, QTableWidgetItem(kind))
        self.table.setItem(row, COL_WHERE, QTableWidgetItem(HERE))
        self.table.setItem(row, COL_STATE, QTableWidgetItem(_STATE_TEXT[QUEUED]))
        self.table.setItem(row, COL_ETA, QTableWidgetItem(""))
        self.table.setItem(row, COL_MESSAGE, QTableWidgetItem(""))
        bar = QProgressBar()
        bar.setRange(0, 1000)
        bar.setTextVisible(False)
        self.table.setCellWidget(row, COL_PROGRESS, bar)
        button = QPushButton("Cancel")
        button.setToolTip(f"Cancel the {kind} probe of {model_id}; the others carry on")
        button.clicked.connect(lambda _=False, pid=probe_id: self.sig_cancel.emit(pid))
        self.table.setCellWidget(row, COL_CANCEL, button)
        self._fraction[probe_id] = 0.0
        self._state[probe_id] = QUEUED
        if self._started_at is None:
            self._started_at = time.monotonic()
        self._update_overall()

    def set_running(self, probe_id: str, message: str = "") -> None:
        self._set_state(probe_id, RUNNING, message)

    def set_progress(self, probe_id: str, fraction: float | None, eta_s: float | None,
                     message: str = "") -> None:
        row = self._rows.get(probe_id)
        if row is None:
            return
        if self._state.get(probe_id) == QUEUED:
            self._set_state(probe_id, RUNNING)
        if fraction is not None:
            self._fraction[probe_id] = max(0.0, min(1.0, fraction))
            self._bar(row).setValue(int(self._fraction[probe_id] * 1000))
        self._item(row, COL_ETA).setText(_fmt_eta(eta_s))
        if message:
            self._item(row, COL_MESSAGE).setText(message)
        self._update_overall()

    def set_done(self, probe_id: str, status: str, message: str = "") -> None:
        row = self._rows.get(probe_id)
        if row is None:
            return
        self._fraction[probe_id] = 1.0
        self._bar(row).setValue(1000)
        self.table.cellWidget(row, COL_CANCEL).setEnabled(False)
        self._item(row, COL_ETA).setText("")
        self._set_state(probe_id, status, message)

    def set_where(self, probe_id: str, placement: dict | None) -> None:
        """Where the probe runs: a cluster node and its kind, a GPU of this machine, or here."""
        row = self._rows.get(probe_id)
        if row is None or not placement:
            return
        gpu = placement.get("gpu") or {}
        if placement.get("host") or placement.get("node_id"):
            text = f"{placement.get('host') or str(placement.get('node_id'))[:8]} ({placement.get('kind', '?')})"
            tip = f"Ray node {placement.get('node_id', '')} at {placement.get('address', '?')}"
        elif gpu:
            text = f"cuda:{gpu.get('index')} {gpu.get('name', '')}".strip()
            tip = f"GPU {gpu.get('uuid') or gpu.get('index')}, cores {placement.get('cpus')}"
        else:
            text, tip = HERE, f"cores {placement.get('cpus')}" if placement.get("cpus") else ""
        item = self._item(row, COL_WHERE)
        item.setText(text)
        item.setToolTip(tip)

    def where(self, probe_id: str) -> str:
        return self._item(self._rows[probe_id], COL_WHERE).text()

    def set_noisy(self, probe_id: str, reasons: list[str]) -> None:
        """Mark a finished row measured on a busy machine; the tooltip gives the reasons."""
        row = self._rows.get(probe_id)
        if row is None or not reasons:
            return
        item = self._item(row, COL_STATE)
        item.setText(f"{item.text()}, noisy")
        item.setForeground(Qt.GlobalColor.darkYellow)
        item.setToolTip("Measured while the machine was busy, so its figures may be off:\n"
                        + "\n".join(f"- {r}" for r in reasons))

    def _set_state(self, probe_id: str, state: str, message: str = "") -> None:
        row = self._rows[probe_id]
        self._state[probe_id] = state
        item = self._item(row, COL_STATE)
        item.setText(_STATE_TEXT.get(state, state))
        if state in DONE_STATES - {ProbeStatus.FINISHED.value}:
            item.setForeground(Qt.GlobalColor.darkRed)
        if message:
            self._item(row, COL_MESSAGE).setText(message)
            self._item(row, COL_MESSAGE).setToolTip(message)
        self._update_overall()

    def _item(self, row: int, col: int) -> QTableWidgetItem:
        item = self.table.item(row, col)
        assert item is not None  # every cell gets its item in add_probe
        return item

    def _bar(self, row: int) -> QProgressBar:
        bar = self.table.cellWidget(row, COL_PROGRESS)
        assert isinstance(bar, QProgressBar)
        return bar

    # --------------------------------------------------------------- queries
    def state(self, probe_id: str) -> str:
        return self._state[probe_id]

    def message(self, probe_id: str) -> str:
        return self._item(self._rows[probe_id], COL_MESSAGE).text()

    def probe_ids(self) -> list[str]:
        return list(self._rows)

    def _update_overall(self) -> None:
        total = len(self._rows) + self._planned
        active = any(s not in DONE_STATES for s in self._state.values()) or self._planned > 0
        self.cancel_all_button.setEnabled(active)
        if not total:
            self.overall.setValue(0)
            self.overall_label.setText("No benchmark running.")
            return
        done = sum(1 for s in self._state.values() if s in DONE_STATES)
        fraction = sum(self._fraction.values()) / total
        self.overall.setValue(int(fraction * 100))
        text = f"{done} of {total} probes done"
        if self._planned:
            text += f" ({self._planned} fine-tune{'s' if self._planned > 1 else ''} to choose)"
        if active and self._started_at is not None and fraction > 0.02:
            elapsed = time.monotonic() - self._started_at
            text += f", about {_fmt_eta(elapsed * (1 - fraction) / fraction)} left"
        self.overall_label.setText(text)


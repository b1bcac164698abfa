"""Hardware > Cluster...: point the app at a Ray cluster, see its nodes, send runs there.

The dialog asks for the head's address (``$RAY_ADDRESS`` pre-filled), lists the nodes the
cluster has, each with the hardware kind and profile read on that node, and lets the user
pick a node kind for the runs (any, or one accelerator type). Finding the nodes runs off the
GUI thread (``lister``: connect + ``cluster_nodes``); an unreachable address shows its one
line in the dialog. Accepting with "Run benchmarks on this cluster" ticked returns a
``ClusterTarget``; unticked, runs stay on this machine.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from PySide6.QtCore import QObject, QThread, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

ANY_KIND = "any kind"
_COLUMNS = ["Node", "Address", "Kind", "CPU", "RAM free", "GPUs"]


def find_nodes(address: str) -> tuple[str, list[Any]]:
    """Connect and list the nodes (off the GUI thread): ``(address used, ClusterNode list)``."""
    from selector.core.cluster.connect import cluster_nodes, connect

    used = connect(address)
    return used, cluster_nodes()


class _Finder(QObject):
    sig_done = Signal(str, list)
    sig_failed = Signal(str)

    def __init__(self, lister: Callable[[str], tuple[str, list[Any]]], address: str) -> None:
        super().__init__()
        self.lister, self.address = lister, address

    def run(self) -> None:
        try:
            used, nodes = self.lister(self.address)
        except Exception as err:  # noqa: BLE001 - shown in the dialog, one line
            self.sig_failed.emit((str(err).strip().splitlines() or [type(err).__name__])[0])
            return
        self.sig_done.emit(used, list(nodes))


class ClusterDialog(QDialog):
    """See the module docstring. ``target()`` after ``exec()``: a ``ClusterTarget`` or None."""

    def __init__(self, parent: QWidget | None = None, *, current: Any = None,
                 lister: Callable[[str], tuple[str, list[Any]]] = find_nodes) -> None:
        super().__init__(parent)
        self.setWindowTitle("Cluster")
        self.lister = lister
        self.nodes: list[Any] = []
        self._thread: QThread | None = None
        self._finder: _Finder | None = None
        self.address = QLineEdit(getattr(current, "address", "") or os.environ.get("RAY_ADDRESS", ""))
        self.address.setPlaceholderText("HOST:PORT of the Ray head, e.g. 10.0.0.5:6379")
        self.find_button = QPushButton("Find nodes")
        self.find_button.clicked.connect(self.find_nodes)
        row = QHBoxLayout()
        row.addWidget(self.address, 1)
        row.addWidget(self.find_button)
        self.status = QLabel("Start the cluster with `ray start --head` (and `ray start --address HEAD:PORT` "
                             "on each node), with selector installed on every node.")
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, len(_COLUMNS))
        self.table.setHorizontalHeaderLabels(_COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.kind = QComboBox()
        self.kind.addItem(ANY_KIND)
        self.use = QCheckBox("Run benchmarks on this cluster")
        self.use.setChecked(current is not None)
        form = QFormLayout()
        form.addRow("Address", row)
        form.addRow("Run on", self.kind)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.use)
        layout.addWidget(buttons)
        if current is not None and getattr(current, "node_kind", None):
            self.kind.addItem(current.node_kind)
            self.kind.setCurrentText(current.node_kind)
        self.resize(760, 380)

    # ---------------------------------------------------------------- finding
    def find_nodes(self) -> None:
        address = self.address.text().strip()
        if not address:
            self.status.setText("Give the address of the cluster's head (HOST:PORT).")
            return
        if self._thread is not None:
            return
        self.find_button.setEnabled(False)
        self.status.setText(f"Looking for the nodes of {address}…")
        self._thread = QThread(self)
        self._finder = _Finder(self.lister, address)
        self._finder.moveToThread(self._thread)
        self._thread.started.connect(self._finder.run)
        self._finder.sig_done.connect(self._found)
        self._finder.sig_failed.connect(self._failed)
        self._thread.start()

    def _stop_thread(self) -> None:
        if self._thread is not None:
            self._thread.quit()
            self._thread.wait(5000)
        self._thread, self._finder = None, None
        self.find_button.setEnabled(True)

    def _failed(self, message: str) -> None:
        self._stop_thread()
        self.status.setText(message)
        self.use.setChecked(False)

    def _found(self, address: str, nodes: list[Any]) -> None:
        self._stop_thread()
        self.nodes = nodes
        self.address.setText(address)
        kinds = sorted({n.kind for n in nodes})
        self.status.setText(f"{len(nodes)} node(s), {len(kinds)} hardware kind(s): {', '.join(kinds)}. "
                            "Each kind gets a sheet of its own.")
        chosen = self.kind.currentText()
        self.kind.clear()
        self.kind.addItems([ANY_KIND] + kinds)
        if chosen in kinds:
            self.kind.setCurrentText(chosen)
        self.table.setRowCount(len(nodes))
        for i, node in enumerate(nodes):
            hw = node.hardware or {}
            cpu, mem = hw.get("cpu") or {}, hw.get("memory") or {}
            gpus = ", ".join(f"{g.get('index')}: {g.get('name')}" for g in hw.get("gpus") or []) or "—"
            free = mem.get("available_mib")
            cells = [node.name, node.address, node.kind, f"{cpu.get('model', '?')} x{cpu.get('logical_cores', '?')}",
                     f"{free / 1024:.1f} GiB" if free else "—", gpus if not node.error else f"error: {node.error}"]
            for col, text in enumerate(cells):
                self.table.setItem(i, col, QTableWidgetItem(text))
        self.use.setChecked(True)

    # ----------------------------------------------------------------- answer
    def target(self) -> Any:
        """The ``ClusterTarget`` chosen, or None (runs on this machine)."""
        if not self.use.isChecked() or not self.address.text().strip():
            return None
        from selector.core.cluster.runner import ClusterTarget

        kind = self.kind.currentText()
        return ClusterTarget(self.address.text().strip(), None if kind == ANY_KIND else kind)

    def done(self, result: int) -> None:  # noqa: D401 - Qt's name
        self._stop_thread()
        super().done(result)


def choose_cluster(window: Any) -> None:
    """Hardware > Cluster...: the dialog, then the app's runs go where it says."""
    session = window.session
    dialog = ClusterDialog(window, current=session.cluster)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return
    session.cluster = dialog.target()
    target = session.cluster
    where = (f"on the Ray cluster {target.address}" + (f" ({target.node_kind} nodes)" if target.node_kind else "")
             if target is not None else "on this machine")
    window.statusBar().showMessage(f"Benchmarks run {where}", 10_000)


def kinds_comparison(session_id: str) -> Any:
    """Off the GUI thread: the session's per-kind sheets side by side (``compare_kinds``)."""
    from selector.core.cluster.sheets import kind_sheets
    from selector.core.export.compare import compare_kinds

    return compare_kinds(kind_sheets(session_id))


def show_kinds(window: Any, session_id: str | None) -> None:
    """After a run on a cluster: Compare machines shows one column per hardware kind."""
    if not session_id or window.session.cluster is None:
        return

    def shown(comparison: Any) -> None:
        window.compare_view.set_comparison(comparison)
        if len(comparison.machines) > 1:
            window.tabs.setCurrentWidget(window.compare_view)

    window.workers.start("Per-kind sheets", kinds_comparison, session_id, on_result=shown)

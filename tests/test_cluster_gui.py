"""Hardware > Cluster... and the probe queue's Where column (offscreen; the node lister is
replaced at its boundary, the function that connects to Ray)."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from selector.core.cluster.connect import ClusterNode  # noqa: E402
from selector.core.cluster.runner import ClusterTarget  # noqa: E402
from selector.core.errors import SelectorError  # noqa: E402


def _nodes() -> list[ClusterNode]:
    hw = {"cpu": {"model": "Xeon", "logical_cores": 8}, "memory": {"available_mib": 30_000}, "gpus": []}
    return [ClusterNode("a" * 56, "10.0.0.5", "head", "T4", {"CPU": 8}, dict(hw, gpus=[{"index": 0, "name": "T4"}])),
            ClusterNode("b" * 56, "10.0.0.6", "box", "A100", {"CPU": 8}, hw)]


def test_the_dialog_lists_the_nodes_and_returns_the_chosen_kind(qtbot):
    from selector.ui.cluster_dialog import ANY_KIND, ClusterDialog

    asked = []

    def lister(address):
        asked.append(address)
        return "10.0.0.5:6379", _nodes()

    dialog = ClusterDialog(lister=lister)
    qtbot.addWidget(dialog)
    assert dialog.target() is None  # nothing chosen yet: runs stay here
    dialog.address.setText("10.0.0.5:6379")
    dialog.find_nodes()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 2, timeout=5000)
    assert asked == ["10.0.0.5:6379"]
    assert [dialog.kind.itemText(i) for i in range(dialog.kind.count())] == [ANY_KIND, "A100", "T4"]
    assert dialog.table.item(0, 2).text() == "T4" and dialog.table.item(0, 5).text() == "0: T4"
    assert "2 hardware kind(s)" in dialog.status.text() and dialog.use.isChecked()
    assert dialog.target() == ClusterTarget("10.0.0.5:6379", None)
    dialog.kind.setCurrentText("A100")
    assert dialog.target() == ClusterTarget("10.0.0.5:6379", "A100")
    dialog.use.setChecked(False)
    assert dialog.target() is None


def test_an_unreachable_cluster_is_one_line_in_the_dialog(qtbot):
    from selector.ui.cluster_dialog import ClusterDialog

    def lister(address):
        raise SelectorError(f"cannot reach the Ray cluster at {address}: Connection refused")

    dialog = ClusterDialog(lister=lister, current=ClusterTarget("10.9.9.9:1"))
    qtbot.addWidget(dialog)
    assert dialog.use.isChecked()
    dialog.find_nodes()
    qtbot.waitUntil(lambda: "cannot reach" in dialog.status.text(), timeout=5000)
    assert dialog.status.text() == "cannot reach the Ray cluster at 10.9.9.9:1: Connection refused"
    assert not dialog.use.isChecked() and dialog.target() is None and dialog.find_button.isEnabled()


def test_the_probe_queue_shows_where_each_probe_runs(qtbot):
    from selector.ui.probe_queue import HERE, ProbeQueuePanel

    panel = ProbeQueuePanel()
    qtbot.addWidget(panel)
    for pid in ("local", "remote", "gpu"):
        panel.add_probe(pid, "test_resnet", "latency")
    panel.set_where("remote", {"node_id": "c" * 56, "host": "box", "kind": "A100", "address": "10.0.0.6"})
    panel.set_where("gpu", {"gpu": {"index": 1, "name": "NVIDIA A10", "uuid": "GPU-1"}, "cpus": [1]})
    panel.set_where("local", None)
    assert panel.where("local") == HERE
    assert panel.where("remote") == "box (A100)"
    assert panel.where("gpu") == "cuda:1 NVIDIA A10"


def test_after_a_cluster_run_compare_machines_shows_one_column_per_kind(qtbot):
    from types import SimpleNamespace

    from PySide6.QtWidgets import QTabWidget

    from selector.core.results import ResultStore
    from selector.ui.cluster_dialog import show_kinds
    from selector.ui.compare_view import CompareView
    from selector.ui.workers import WorkerPool
    from tests.test_cluster_sheets import latency

    store = ResultStore()
    session = store.create_session("bench on a cluster", {"name": "Ray cluster"})
    for result in (latency("fast-net", "t4-a", [10.0, 11.0]), latency("fast-net", "t4-b", [20.0, 21.0]),
                   latency("fast-net", "a100", [2.0, 2.1])):
        result.session_id = session.id
        store.save_result(result)
    tabs, view, workers = QTabWidget(), CompareView(), WorkerPool()
    qtbot.addWidget(tabs)
    tabs.addTab(QTabWidget(), "Other")
    tabs.addTab(view, "Compare machines")
    window = SimpleNamespace(session=SimpleNamespace(cluster=ClusterTarget("x:1")), compare_view=view,
                             tabs=tabs, workers=workers)
    show_kinds(window, session.id)
    qtbot.waitUntil(lambda: getattr(view, "comparison", None) is not None, timeout=20000)
    assert view.comparison.machines == ["T4", "A100"] and tabs.currentWidget() is view
    assert "on T4: fast-net" in view.header.text() and "pooled over 2 nodes" in view.header.text()
    assert workers.shutdown()

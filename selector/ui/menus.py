"""The main window's menu bar: File, Edit, Run, Hardware and Help, each action wired to the window."""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QWidget

from selector import APP_NAME
from selector.ui import catalog_build_controller as upkeep
from selector.ui import cluster_dialog
from selector.ui.about import show_about

if TYPE_CHECKING:  # pragma: no cover
    from selector.ui.main_window import MainWindow


def build_menus(window: "MainWindow") -> SimpleNamespace:
    """File, Edit, Run, Hardware and Help; returns the actions by name (``download``,
    ``benchmark``, …: tests trigger them). ``window.recent_menu`` is File > Open recent session."""
    a = SimpleNamespace()
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    a.open_data = _action(window, "Open &data…", QKeySequence.StandardKey.Open,
                                      window.request_panel.data_button.showMenu)
    a.open_sheet = _action(window, "Open &sheet(s)…", "Ctrl+Shift+O", window.open_sheets_dialog)
    window.recent_menu = QMenu("Open &recent session", window)
    window.recent_menu.setToolTipsVisible(True)
    window.recent_menu.aboutToShow.connect(window._fill_recent_menu)
    a.export = _action(window, "&Export sheet…", "Ctrl+E", window.export_dialog)
    a.save_plot = _action(window, "Save &plot…", "Ctrl+Shift+P", window.plots.save_dialog)
    a.open_profile = _action(window, "Open hardware profile…", None, window.open_profile_dialog)
    a.save_profile = _action(window, "Save hardware profile…", None, window.save_profile_dialog)
    a.prefs = _action(window, "Pre&ferences…", QKeySequence.StandardKey.Preferences,
                                  window.preferences_dialog)
    a.quit = _action(window, "&Quit", QKeySequence.StandardKey.Quit, window.close)
    file_menu.addAction(a.open_data)
    file_menu.addAction(a.open_sheet)
    file_menu.addMenu(window.recent_menu)
    for item in (a.export,
                 a.save_plot, None, a.open_profile, a.save_profile,
                 None, a.prefs, None, a.quit):
        file_menu.addSeparator() if item is None else file_menu.addAction(item)
    edit_menu = bar.addMenu("&Edit")
    a.find = _action(window, "&Find model…", QKeySequence.StandardKey.Find, window.focus_search)
    edit_menu.addAction(a.find)
    run_menu = bar.addMenu("&Run")
    a.benchmark = _action(window, "&Benchmark best candidates", "Ctrl+B", window.benchmark_best)
    a.cancel_all = _action(window, "&Cancel all probes", "Ctrl+.", window.run.cancel_all)
    a.download = _action(window, "&Download weights of selected models", "Ctrl+D",
                                     window.catalog_view.request_download)
    a.cancel_download = _action(window, "Cancel &download", None, window.downloads.cancel)
    a.rebuild_catalog = _action(window, "&Rebuild catalog…", None,
                                            lambda: upkeep.rebuild_catalog(window))
    for action in (a.benchmark, a.cancel_all, None, a.download,
                   a.cancel_download, None, a.rebuild_catalog):
        run_menu.addSeparator() if action is None else run_menu.addAction(action)
    hardware_menu = bar.addMenu("Hard&ware")  # runs here, or on a Ray cluster
    hardware_menu.addAction(_action(window, "&Cluster…", None, lambda: cluster_dialog.choose_cluster(window)))
    help_menu = bar.addMenu("&Help")
    help_menu.addAction(_action(window, f"&About {APP_NAME}", None, lambda: show_about(window)))
    return a


def _action(parent: QWidget, text: str, shortcut, slot) -> QAction:  # noqa: ANN001
    action = QAction(text, parent)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.triggered.connect(slot)
    return action

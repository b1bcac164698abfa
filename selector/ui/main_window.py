"""MainWindow: the hardware panel beside the catalog and results, menus, remembered layout."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from selector import APP_NAME, __version__
from selector.core import hardware
from selector.core.hardware import HardwareProfile
from selector.ui.about import show_about
from selector.ui.banner import MessageBanner
from selector.ui.hardware_panel import LIVE_SOURCE, HardwarePanel
from selector.ui.settings import app_settings
from selector.ui.workers import WorkerPool

log = logging.getLogger(__name__)


def _detect_live():
    """Two steps, so the panel fills at once and torch's slow import follows."""
    profile = hardware.detect_hardware(include_torch=False)
    yield profile
    yield hardware.add_torch_view(profile)


class MainWindow(QMainWindow):
    sig_profile_changed = Signal(object)
    """The HardwareProfile estimates and fit badges are computed against."""

    def __init__(self, profile_source: str | None = None) -> None:
        super().__init__()
        self.setWindowTitle(f"{APP_NAME} {__version__}")
        self.settings = app_settings()
        self.workers = WorkerPool(self)
        self.workers.sig_error.connect(self._on_worker_error)
        self.profile: HardwareProfile | None = None

        self.banner = MessageBanner()
        self.hardware_panel = HardwarePanel()
        self.hardware_panel.sig_source_requested.connect(self.load_source)
        for key, ref in self._references().items():
            self.hardware_panel.add_source(f"Reference: {ref.name}", f"ref:{key}")

        self.tabs = QTabWidget()
        self.tabs.addTab(_placeholder("The model catalog appears here."), "Catalog")
        self.tabs.addTab(_placeholder("Probe results appear here."), "Results")

        self.splitter = QSplitter()
        self.splitter.addWidget(self.hardware_panel)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(1, 1)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        self._build_menus()
        self._restore_layout()
        self.statusBar().showMessage("Detecting hardware…")
        self.load_source(_source_from_arg(profile_source))

    # ------------------------------------------------------------------ menus
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.action_open_profile = _action(self, "Open hardware profile…", "Ctrl+Shift+O",
                                           self.open_profile_dialog)
        self.action_save_profile = _action(self, "Save hardware profile…", "Ctrl+Shift+S",
                                           self.save_profile_dialog)
        self.action_quit = _action(self, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        file_menu.addAction(self.action_open_profile)
        file_menu.addAction(self.action_save_profile)
        file_menu.addSeparator()
        file_menu.addAction(self.action_quit)
        help_menu = self.menuBar().addMenu("&Help")
        self.action_about = _action(self, f"&About {APP_NAME}", None, lambda: show_about(self))
        help_menu.addAction(self.action_about)

    # --------------------------------------------------------------- profiles
    def _references(self) -> dict[str, HardwareProfile]:
        try:
            return hardware.reference_profiles()
        except (OSError, ValueError) as err:
            log.exception("reference profiles unreadable")
            self.banner.show_message(f"Reference hardware profiles could not be read: {err}")
            return {}

    def load_source(self, source: str) -> None:
        """Switch to ``live``, ``ref:<name>`` or ``file:<path>``; detection runs off the GUI thread."""
        self.hardware_panel.select_source(source)
        if source == LIVE_SOURCE:
            self.hardware_panel.set_busy("Detecting hardware…")
            self.workers.start("Hardware detection", _detect_live, on_yield=self._on_live_profile)
            return
        kind, _, value = source.partition(":")
        try:
            if kind == "ref":
                profile = self._references()[value]
            else:
                profile = hardware.load_profile(value)
        except (KeyError, ValueError) as err:
            self.banner.show_message(f"Cannot use hardware profile {value}: {err}")
            return
        self.set_profile(profile)

    def _on_live_profile(self, profile: HardwareProfile) -> None:
        if self.hardware_panel.current_source() == LIVE_SOURCE:
            self.set_profile(profile)

    def set_profile(self, profile: HardwareProfile) -> None:
        self.profile = profile
        self.hardware_panel.set_profile(profile)
        self.statusBar().showMessage(f"Hardware: {profile.name} ({profile.gpu_status})")
        self.sig_profile_changed.emit(profile)

    def open_profile_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open hardware profile", str(Path.home()), "Hardware profiles (*.json)"
        )
        if path:
            self.open_profile(path)

    def open_profile(self, path: str) -> None:
        source = f"file:{path}"
        self.hardware_panel.add_source(f"File: {Path(path).name}", source)
        self.load_source(source)

    def save_profile_dialog(self) -> None:
        if self.profile is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Save hardware profile", str(Path.home() / f"{self.profile.name}.json"),
            "Hardware profiles (*.json)",
        )
        if path:
            self.save_profile(path)

    def save_profile(self, path: str) -> None:
        try:
            hardware.save_profile(self.profile, path)
        except OSError as err:
            self.banner.show_message(f"Cannot save the hardware profile to {path}: {err}")
            return
        self.statusBar().showMessage(f"Saved hardware profile to {path}", 5000)

    # ----------------------------------------------------------------- errors
    def _on_worker_error(self, what: str, err: BaseException) -> None:
        details = "".join(traceback.format_exception(type(err), err, err.__traceback__))
        self.banner.show_message(f"{what} failed: {err}", details)

    # --------------------------------------------------------------- lifetime
    def _restore_layout(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1280, 800)
        splitter = self.settings.value("window/splitter")
        if splitter is not None:
            self.splitter.restoreState(splitter)
        else:
            self.splitter.setSizes([380, 900])

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/splitter", self.splitter.saveState())
        self.settings.sync()
        self.workers.shutdown()
        super().closeEvent(event)


def _source_from_arg(spec: str | None) -> str:
    if not spec:
        return LIVE_SOURCE
    if Path(spec).exists():
        return f"file:{spec}"
    return f"ref:{spec}"


def _placeholder(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("placeholder")
    return label


def _action(parent: QWidget, text: str, shortcut, slot) -> QAction:  # noqa: ANN001
    action = QAction(text, parent)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.triggered.connect(slot)
    return action

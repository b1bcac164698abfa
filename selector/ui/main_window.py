"""MainWindow: the panels side by side, the signals between them, menus and the remembered layout.

Left: the hardware and what the user wants. Right, top: the catalog, the recommendation, the
probe queue, the machine comparison; right, bottom: the plots. The window owns no logic of
its own: the application session (``selector.core.session.AppSession``) holds the state and
decides (shortlist, run, resume, cancel, discard, reopen, the sheet shown); the panels show;
the window feeds the session what the user does, mirrors its change events, and keeps every
slow call off the GUI thread.
"""

from __future__ import annotations

import gc
import logging
import time
import traceback
from pathlib import Path

from PySide6.QtCore import QElapsedTimer, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QMainWindow,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from selector import APP_NAME, __version__
from selector.core import hardware
from selector.core.hardware import HardwareProfile
from selector.core.preferences import load_preferences, save_preferences
from selector.core.probes.contention import probe_reasons
from selector.core.request import Request
from selector.core.session import AppSession
from selector.core.results.record import ProbeStatus
from selector.ui import workflow
from selector.ui.banner import MessageBanner
from selector.ui.calibration_status import CpuCalibration, calibrate_once_shown, show_step
from selector.ui import catalog_build_controller as upkeep
from selector.ui.catalog_view import CatalogView
from selector.ui.compare_view import CompareView
from selector.ui.download_controller import DownloadBar, DownloadController
from selector.ui.hardware_panel import LIVE_SOURCE, HardwarePanel
from selector.ui.plots_panel import PlotsPanel
from selector.ui.preferences_dialog import PreferencesDialog
from selector.ui import cluster_dialog
from selector.ui.probe_queue import ProbeQueuePanel
from selector.ui.recommendation_panel import RecommendationPanel
from selector.ui.request_panel import RequestPanel
from selector.ui.live_hardware import LiveHardware
from selector.ui.menus import build_menus
from selector.ui.results_presenter import present
from selector.ui.run_controller import RunController
from selector.ui.session_mirror import SessionMirror
from selector.ui.settings import app_settings, last_folder, remember_folder
from selector.ui.workers import WorkerPool

log = logging.getLogger(__name__)
HEARTBEAT_MS = 20


_FROZEN: set[str] = set()


def _freeze_start_up_objects(what: str = "imports") -> None:
    """The objects the imports made, then the catalog, live as long as the app: keep them out
    of every later collection (``gc.freeze``, once each per process), so no collection on the
    GUI thread walks them all (60-140 ms for the imports, about 100 ms for the catalog in the
    window's first second, before)."""
    if what not in _FROZEN:
        gc.freeze()
        _FROZEN.add(what)


class MainWindow(SessionMirror, QMainWindow):
    sig_profile_changed = Signal(object)
    sig_catalog_loaded = Signal(int)
    sig_results_shown = Signal(object)
    """The Sheet now shown by the recommendation panel and the plots."""

    def __init__(self, profile_source: str | None = None) -> None:
        _freeze_start_up_objects()
        super().__init__()
        self.setWindowTitle(f"{APP_NAME} {__version__}")
        self.settings = app_settings()
        self.prefs = load_preferences()
        self.workers = WorkerPool(self)
        self.workers.sig_error.connect(self._on_worker_error)
        self.session = AppSession(request=workflow.initial_request(self.settings, self.prefs))
        self.session.subscribe(self._on_session_event)
        self.run = RunController(self.workers, self.session, self)
        self.recent = []
        """The store's latest sessions (``SessionSummary``), read in a worker for File > Open recent."""
        self.live_hardware = LiveHardware()
        self.cpu_calibration = CpuCalibration()
        self.confirm_shortlist = True
        """Tests switch the shortlist dialog off."""
        self.busy_check = None
        """The worker checking how busy the machine is before a run (``workflow.start_benchmark``)."""
        self.probe_params: dict = {}
        """Extra per-kind probe settings (tests make probes quick)."""
        self._selecting = False
        self.selected_model = ""
        """The model followed everywhere (its latency distribution is the one plotted)."""
        self._build()
        self.menu_actions = build_menus(self)
        """The menus' actions by name (``menus.build_menus``)."""
        self._restore_layout()
        self._start_heartbeat()
        self.load_source(_source_from_arg(profile_source))
        self.statusBar().showMessage("Loading the catalog…")
        self.workers.start("Loading the catalog", workflow.load_catalog_quietly,
                           on_yield=self._on_startup_step)

    # ----------------------------------------------------------------- layout
    def _build(self) -> None:
        self.banner = MessageBanner()
        self.hardware_panel = HardwarePanel()
        self.hardware_panel.sig_source_requested.connect(self.load_source)
        for key, ref in workflow.reference_profiles(self.banner).items():
            self.hardware_panel.add_source(f"Reference: {ref.name}", f"ref:{key}")
        self.request_panel = RequestPanel()
        self.request_panel.offer_recent_data(self.prefs.recent_data)
        self.request_panel.set_request(self.session.request)
        self.request_panel.sig_request_changed.connect(self._on_request_changed)
        self.session.set_request(self.request_panel.request())
        self.request_panel.sig_benchmark.connect(self.benchmark_best)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.request_panel)
        left_layout.addWidget(self.hardware_panel)
        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.catalog_view = CatalogView()
        self.catalog_view.set_workers(self.workers)
        self.recommendation_panel = RecommendationPanel()
        self.queue_panel = ProbeQueuePanel()
        self.compare_view = CompareView()
        self.tabs = QTabWidget()
        for widget, title in ((self.catalog_view, "Catalog"), (self.recommendation_panel, "Recommendation"),
                              (self.queue_panel, "Probes"), (self.compare_view, "Compare machines")):
            self.tabs.addTab(widget, title)
        self.plots = PlotsPanel()
        self.right_splitter = QSplitter(Qt.Orientation.Vertical)
        self.right_splitter.addWidget(self.tabs)
        self.right_splitter.addWidget(self.plots)
        self.splitter = QSplitter()
        self.splitter.addWidget(scroll)
        self.splitter.addWidget(self.right_splitter)
        self.splitter.setStretchFactor(1, 1)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        self.catalog_view.sig_model_selected.connect(self.select_model)
        self.recommendation_panel.sig_model_selected.connect(self.select_model)
        self.recommendation_panel.sig_objective_changed.connect(self.session.set_objective)
        self.plots.pareto.sig_model_clicked.connect(self.select_model)
        self.queue_panel.sig_cancel.connect(self.run.cancel_probe)
        self.queue_panel.sig_cancel_all.connect(self.run.cancel_all)
        self.run.sig_queued.connect(self.queue_panel.add_probe)
        self.run.sig_planned.connect(self.queue_panel.set_planned)
        self.run.sig_event.connect(self._on_probe_event)
        self.run.sig_loss.connect(self.plots.loss.append)
        self.run.sig_probe_done.connect(self._on_probe_done)
        self.run.sig_run_finished.connect(self._on_run_finished)
        self.run.sig_run_started.connect(lambda _sid: self.cpu_calibration.hold())
        self.run.sig_run_finished.connect(lambda _sid: self.cpu_calibration.release())
        self.run.sig_note.connect(lambda text: self.statusBar().showMessage(text, 10_000))
        self.download_bar = DownloadBar()
        self.statusBar().addPermanentWidget(self.download_bar)
        self.downloads = DownloadController(self.workers, self.download_bar, self.catalog_view, self.banner,
                                            parent=self)
        self.downloads.sig_note.connect(lambda text: self.statusBar().showMessage(text, 10_000))
        self.retrace = upkeep.RetraceController(self.workers, self.catalog_view, parent=self)
        self.build_bar = DownloadBar()
        self.statusBar().addPermanentWidget(self.build_bar)
        self.catalog_build = upkeep.CatalogBuildController(self.workers, self.build_bar, parent=self)
        self.catalog_build.sig_finished.connect(lambda ok, text: upkeep.catalog_built(self, ok, text))

    # --------------------------------------------------------------- hardware
    def load_source(self, source: str) -> None:
        """Switch to ``live``, ``ref:<name>`` or ``file:<path>``; detection runs off the GUI thread."""
        self.hardware_panel.select_source(source)
        if source == LIVE_SOURCE:
            if self.live_profile is not None:
                self.set_profile(self.live_profile)
                return
            self.hardware_panel.set_busy("Detecting hardware…")
            self.workers.start("Hardware detection", self.live_hardware.detect, on_yield=self._on_live_profile)
            return
        kind, _, value = source.partition(":")
        try:
            profile = (workflow.reference_profiles(self.banner)[value] if kind == "ref"
                       else hardware.load_profile(value))
        except (KeyError, ValueError) as err:
            self.banner.show_message(f"Cannot use hardware profile {value}: {err}")
            return
        self.set_profile(profile)

    def _on_live_profile(self, profile: HardwareProfile) -> None:
        self.session.live_profile = profile
        if self.hardware_panel.current_source() == LIVE_SOURCE:
            self.set_profile(profile)

    def set_profile(self, profile: HardwareProfile) -> None:
        self.session.set_profile(profile)
        self.hardware_panel.set_profile(profile)
        self.request_panel.set_devices(
            [(d.id, "CPU" if d.id == "cpu" else f"{d.id}: {d.name}") for d in profile.memory_devices()],
            prefer_gpu=self.prefs.device == "auto")
        self.catalog_view.set_context(self.request_panel.request(), profile)
        self.statusBar().showMessage(f"Hardware: {profile.name} ({profile.gpu_status})")
        self.sig_profile_changed.emit(profile)

    def open_profile_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open hardware profile", last_folder("profile"),
                                              "Hardware profiles (*.json)")
        if path:
            remember_folder("profile", path)
            self.open_profile(path)

    def open_profile(self, path: str) -> None:
        self.hardware_panel.add_source(f"File: {Path(path).name}", f"file:{path}")
        self.load_source(f"file:{path}")

    def save_profile_dialog(self) -> None:
        if self.profile is not None:
            path, _ = QFileDialog.getSaveFileName(
                self, "Save hardware profile", last_folder("profile", f"{self.profile.name}.json"),
                "Hardware profiles (*.json)")
            if path:
                remember_folder("profile", path)
                self.save_profile(path)

    def save_profile(self, path: str) -> None:
        if self.profile is None:
            return
        try:
            hardware.save_profile(self.profile, path)
        except OSError as err:
            self.banner.show_message(f"Cannot save the hardware profile to {path}: {err}")
            return
        self.statusBar().showMessage(f"Saved hardware profile to {path}", 5000)

    # ---------------------------------------------------------------- catalog
    def _on_startup_step(self, step) -> None:  # noqa: ANN001 - (what, value), see load_catalog_quietly
        if step[0] == "catalog":
            self._on_catalog(step[1])
            calibrate_once_shown(self)
        else:
            show_step(self, *step)

    def _on_catalog(self, catalog) -> None:  # noqa: ANN001 - Catalog
        self.catalog = catalog
        _freeze_start_up_objects("catalog")
        self.statusBar().showMessage(f"Catalog: {len(catalog)} models", 10_000)
        self.catalog_view.set_entries(list(self.catalog))
        for problem in self.catalog.problems:
            self.banner.show_message(problem, level="warning")
        self.sig_catalog_loaded.emit(len(self.catalog))
        self._load_recent(offer_resume=True)

    def _on_request_changed(self, request: Request) -> None:
        self.hardware_panel.set_probe_threads(request.threads)
        self.catalog_view.set_context(request, self.profile)
        self.session.set_request(request)

    def focus_search(self) -> None:
        self.tabs.setCurrentWidget(self.catalog_view)
        self.catalog_view.search.setFocus()
        self.catalog_view.search.selectAll()

    def select_model(self, model_id: str) -> None:
        """Follow one model everywhere: catalog row, Pareto point, verdict row, latency plot."""
        if self._selecting:
            return
        self._selecting = True
        self.selected_model = model_id
        try:
            self.catalog_view.select_model(model_id)
            self.retrace.request(self.catalog.entries.get(model_id) if self.catalog else None)
            self.plots.pareto.select_model(model_id)
            self.recommendation_panel.select_model(model_id)
            samples = present(self.sheet).latency_samples.get(model_id, []) if self.sheet else []
            self.plots.latency.set_samples(model_id, samples)
        finally:
            self._selecting = False

    # -------------------------------------------------------------- benchmark
    def benchmark_best(self) -> None:
        workflow.start_benchmark(self)

    def _on_probe_event(self, event) -> None:  # noqa: ANN001 - ProbeEvent
        if event.type == "started":
            self.queue_panel.set_running(event.probe_id)
        elif event.type in ("progress", "phase"):
            text = event.message or event.phase
            self.queue_panel.set_progress(event.probe_id, event.fraction, event.eta_s, text)
            if event.phase == "placed":  # a cluster run: the node it landed on
                self.queue_panel.set_where(event.probe_id, event.data.get("node"))

    def _on_probe_done(self, result) -> None:  # noqa: ANN001 - ProbeResult
        self.queue_panel.set_done(result.id, result.status, result.message)
        self.queue_panel.set_where(result.id, result.placement)
        self.queue_panel.set_noisy(result.id, probe_reasons(result))
        if result.status not in (ProbeStatus.FINISHED, ProbeStatus.CANCELLED):
            self.banner.show_message(
                f"{result.kind} probe of {result.model_id}: {result.status_words}: "
                f"{result.message}", result.error or result.stderr_tail or "", level="warning")
        self.refresh_results(result.session_id)

    def _on_run_finished(self, session_id: str) -> None:
        self.prefs.last_session = session_id or self.prefs.last_session
        save_preferences(self.prefs)
        cancelled = self.session.last_run is not None and self.session.last_run.cancelled
        cluster_dialog.show_kinds(self, session_id)  # a cluster run: one column per hardware kind
        self.statusBar().showMessage("Benchmark cancelled" if cancelled else "Benchmark finished", 10_000)

    # ---------------------------------------------------------------- results
    def open_sheets_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open recommendation sheets", last_folder("sheet"),
                                                "Sheets (*.json)")
        if paths:
            remember_folder("sheet", paths[0])
            self.open_sheets(paths)

    def open_sheets(self, paths: list[str]) -> None:
        workflow.open_sheets(self, paths)

    def export_dialog(self) -> None:
        workflow.export_dialog(self)

    def preferences_dialog(self) -> None:
        devices = [d.id for d in self.profile.memory_devices()] if self.profile else ["cpu"]
        dialog = PreferencesDialog(self.prefs, devices, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.prefs = dialog.preferences()
            save_preferences(self.prefs)
            self.request_panel.set_request(workflow.request_from_preferences(
                self.request_panel.request(), self.prefs))

    # ----------------------------------------------------------------- errors
    def _on_worker_error(self, what: str, err: BaseException) -> None:
        details = "".join(traceback.format_exception(type(err), err, err.__traceback__))
        self.banner.show_message(f"{what} failed: {err}", details)

    # --------------------------------------------------------------- lifetime
    def _start_heartbeat(self) -> None:
        """Measure the longest stall of the GUI thread (the event loop not running)."""
        self.max_stall_ms = 0.0
        self._beat = QElapsedTimer()
        self._beat.start()
        self._heartbeat = QTimer(self)
        self._heartbeat.setInterval(HEARTBEAT_MS)
        self._heartbeat.timeout.connect(self._on_beat)
        self._heartbeat.start()

    def reset_stall_meter(self) -> None:
        """Start measuring afresh (a run measures its own longest stall)."""
        self.max_stall_ms = 0.0
        self._beat.restart()

    def _on_beat(self) -> None:
        gap = self._beat.restart() - HEARTBEAT_MS
        self.max_stall_ms = max(self.max_stall_ms, float(gap))

    def _restore_layout(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1400, 880)
        for key, splitter, sizes in (("window/splitter", self.splitter, [420, 1000]),
                                     ("window/right_splitter", self.right_splitter, [520, 360])):
            state = self.settings.value(key)
            if state is None or not splitter.restoreState(state):
                splitter.setSizes(sizes)
        self.tabs.setCurrentIndex(int(str(self.settings.value("window/tab", 0) or 0)))

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/splitter", self.splitter.saveState())
        self.settings.setValue("window/right_splitter", self.right_splitter.saveState())
        self.settings.setValue("window/tab", self.tabs.currentIndex())
        workflow.remember_request(self.settings, self.request_panel.request())
        self.settings.sync()
        self._heartbeat.stop()
        self.downloads.cancel()
        self.catalog_build.shutdown()
        self.retrace.shutdown()
        self.run.shutdown()
        self.live_hardware.stop()
        self.cpu_calibration.stop()
        start = time.monotonic()
        self.workers.shutdown()
        log.info("closed in %.2f s", time.monotonic() - start)
        super().closeEvent(event)


def _source_from_arg(spec: str | None) -> str:
    if not spec:
        return LIVE_SOURCE
    if Path(spec).exists():
        return f"file:{spec}"
    return f"ref:{spec}"

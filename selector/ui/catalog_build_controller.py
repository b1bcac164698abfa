"""Catalog upkeep from the GUI: re-trace the selected entry, and rebuild the catalog on request.

``RetraceController`` re-traces, off the GUI thread, the entry the user selects when its
activation profile predates this tracer (``selector.core.catalog.retrace``): one job at a
time, the newest selection waiting, merged into the entry on the GUI thread; failures are
logged, never shown (the older profile still gives an estimate).

``CatalogBuildController`` runs the full rebuild the user asked for (Catalog > Rebuild
catalog…) as an owned child process (``selector.core.catalog.rebuild``): progress and Cancel
in the status bar, cancelled and waited for when the window closes, the catalog reloaded
when it finishes.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox

from selector.core.catalog.entry import CatalogEntry
from selector.core.catalog.rebuild import BuildProgress, CatalogBuild
from selector.core.catalog.retrace import Retracer, apply_result, needs_retrace
from selector.ui.catalog_view import CatalogView
from selector.ui.download_controller import DownloadBar
from selector.ui.workers import WorkerPool

if TYPE_CHECKING:  # pragma: no cover
    from selector.ui.main_window import MainWindow

log = logging.getLogger(__name__)


class RetraceController(QObject):
    sig_entry_updated = Signal(str)
    """The id of an entry whose profile was just re-traced (its estimates change)."""

    def __init__(self, workers: WorkerPool, catalog_view: CatalogView | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.workers, self.catalog_view = workers, catalog_view
        self.retracer = Retracer()
        self._running: CatalogEntry | None = None
        self._waiting: CatalogEntry | None = None
        self._tried: set[str] = set()

    def request(self, entry: CatalogEntry | None) -> None:
        """Re-trace ``entry`` soon if it needs it (once per entry and run of the app)."""
        if entry is None or entry.id in self._tried or not needs_retrace(entry):
            return
        if self._running is not None:
            self._waiting = entry  # only the newest selection waits
            return
        self._start(entry)

    def _start(self, entry: CatalogEntry) -> None:
        self._tried.add(entry.id)
        self._running = entry
        snapshot = dataclasses.replace(entry)  # the worker reads a copy; the GUI may merge meanwhile
        def merge(result: dict[str, Any] | None) -> None:
            self._merge(entry, result)

        worker = self.workers.start(f"Re-tracing {entry.id}", self.retracer.measure, snapshot, on_result=merge)
        worker.finished.connect(self._next)

    def _merge(self, entry: CatalogEntry, result: dict[str, Any] | None) -> None:
        if result is None:
            return
        if apply_result(entry, result):
            if self.catalog_view is not None:  # the badges and breakdown follow the new profile
                self.catalog_view.set_context(self.catalog_view.request, self.catalog_view.profile)
            self.sig_entry_updated.emit(entry.id)
        else:
            log.info("re-tracing %s failed: %s", entry.id, result.get("error", "no profile"))

    def _next(self, *_: object) -> None:
        self._running = None
        waiting, self._waiting = self._waiting, None
        if waiting is not None and waiting.id not in self._tried:
            self._start(waiting)

    @property
    def busy(self) -> bool:
        return self._running is not None

    def shutdown(self) -> None:
        """Kill the tracing process now (a job waiting on it returns at once)."""
        self._waiting = None
        self.retracer.close()


class CatalogBuildController(QObject):
    sig_finished = Signal(bool, str)
    """(whether a new snapshot was written, one line for the user)."""

    def __init__(self, workers: WorkerPool, bar: DownloadBar, *, jobs: int = 1,
                 extra_args: list[str] | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.workers, self.bar, self.jobs = workers, bar, jobs
        self.extra_args = extra_args
        """Extra ``selector catalog build`` options (tests pass ``--limit``)."""
        self.build: CatalogBuild | None = None
        bar.cancel_button.setToolTip("Stop the rebuild; the catalog in use stays as it is")
        bar.cancel_button.clicked.connect(self.cancel)

    @property
    def running(self) -> bool:
        return self.build is not None

    def start(self) -> bool:
        """Start the rebuild; False when one started here is already running."""
        if self.build is not None:
            return False
        build = CatalogBuild(jobs=self.jobs, extra=self.extra_args)
        self.build = build
        self.bar.show_progress("Rebuilding the catalog…", 0, 0)
        def finished(*_: object) -> None:
            self._on_finished(build)

        worker = self.workers.start("Catalog rebuild", build.progress, on_yield=self._on_progress)
        worker.finished.connect(finished)
        return True

    def _on_progress(self, progress: BuildProgress) -> None:
        if self.build is None or self.build.cancelled:
            return
        if progress.total:
            eta = f", about {progress.eta_s / 60:.0f} min left" if progress.eta_s else ""
            self.bar.show_progress(f"Rebuilding the catalog: {progress.done}/{progress.total}{eta}",
                                   progress.done, progress.total)

    def _on_finished(self, build: CatalogBuild) -> None:
        message = build.outcome()
        ok = build.returncode == 0 and not build.cancelled
        if self.build is build:
            self.build = None
        self.bar.hide()
        self.sig_finished.emit(ok, message)

    def cancel(self) -> None:
        """Stop the rebuild and its workers (waits a few seconds at most)."""
        build = self.build
        if build is not None:
            self.bar.cancel_button.setEnabled(False)
            build.cancel()

    def shutdown(self) -> None:
        self.cancel()


# ------------------------------------------------------------- window steps
def rebuild_catalog(window: "MainWindow") -> None:
    """Catalog rebuild, after the user confirms: it measures every model again."""
    if window.catalog_build.running:
        window.statusBar().showMessage("The catalog is already being rebuilt", 10_000)
        return
    answer = QMessageBox.question(
        window, "Rebuild catalog", "Measure every model again with the installed libraries? This "
        "takes about an hour of CPU on two cores. The app stays usable meanwhile; Cancel in the "
        "status bar stops it, and so does quitting.")
    if answer == QMessageBox.StandardButton.Yes:
        window.catalog_build.start()


def catalog_built(window: "MainWindow", ok: bool, message: str) -> None:
    """Say how the rebuild ended; after a good one, show the new catalog."""
    from selector.core.catalog.catalog import load_catalog

    window.banner.show_message(message, level="info" if ok else "warning")
    if ok:
        window.workers.start("Loading the rebuilt catalog", load_catalog,
                             on_result=lambda catalog: _show_catalog(window, catalog))


def _show_catalog(window: "MainWindow", catalog: Any) -> None:
    window.catalog = catalog
    window.catalog_view.set_entries(list(catalog))

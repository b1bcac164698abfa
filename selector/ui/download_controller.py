"""Downloading weights from the GUI: the core's download in a worker, progress in the status bar.

``DownloadController.start(entries)`` runs ``selector.core.download.download_weights`` for
each entry in one background job (the GUI thread never waits on the network). Progress
comes back as queued signals, at most ten a second, to a small ``DownloadBar`` (label,
progress bar, Cancel) that the window puts in its status bar. Cancel sets the event the
core checks on every MiB (closing the window does too). A finished model's row in the
catalog turns "local"; failures end as one banner message in plain words.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from selector.core.catalog.entry import CatalogEntry
from selector.core.download import DownloadCancelled, download_weights
from selector.core.errors import SelectorError
from selector.ui.banner import MessageBanner
from selector.ui.catalog_view import CatalogView
from selector.ui.workers import WorkerPool

EMIT_EVERY_S = 0.1


class DownloadBar(QWidget):
    """What is being downloaded, how far, and a Cancel button; hidden when idle."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(220)
        self.bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the download; nothing partial is kept in the cache")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self.hide()

    def show_progress(self, text: str, done: int, total: int) -> None:
        self.label.setText(text)
        if total > 0:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * done / total))
        else:
            self.bar.setRange(0, 0)  # busy: size not known yet
        self.cancel_button.setEnabled(True)
        self.show()


class DownloadController(QObject):
    sig_progress = Signal(str, int, int, str)
    """(model id, done bytes, total bytes, file name); emitted from the worker, queued."""
    sig_model_done = Signal(str, str, str)
    """(model id, ``downloaded`` | ``failed`` | ``cancelled``, message)."""
    sig_finished = Signal()
    """The job ended, however."""
    sig_note = Signal(str)
    """A line for the status bar."""

    def __init__(self, workers: WorkerPool, bar: DownloadBar, catalog_view: CatalogView,
                 banner: MessageBanner, *, download: Callable[..., Any] = download_weights,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.workers, self.bar, self.download = workers, bar, download
        self.catalog_view, self.banner = catalog_view, banner
        self.cancel_event = threading.Event()
        self.running = False
        self._queue: list[str] = []
        self._failures: list[tuple[str, str]] = []
        self._outcomes: dict[str, int] = {}
        bar.cancel_button.clicked.connect(self.cancel)
        self.sig_progress.connect(self._on_progress)
        self.sig_model_done.connect(self._on_model_done)
        catalog_view.sig_download_requested.connect(self.start)

    def start(self, entries: list[CatalogEntry]) -> bool:
        """Download ``entries`` one after the other; False when nothing was started."""
        if self.running:
            self.sig_note.emit("A download is already running; wait for it or cancel it")
            return False
        if not entries:
            self.sig_note.emit("Select one or more models in the catalog to download their weights")
            return False
        local = [e for e in entries if e.weights_cached or e.local_path]
        entries = [e for e in entries if not (e.weights_cached or e.local_path)]
        if not entries:
            if local:
                self.sig_note.emit(f"The weights of {', '.join(e.id for e in local)} are already on this machine")
            return False
        self._failures, self._outcomes = [], {}
        self.running = True
        self.cancel_event = threading.Event()
        self._queue = [e.id for e in entries]
        self.bar.show_progress(f"Downloading {entries[0].id}…", 0, 0)
        self.workers.start("Downloading weights", self._run, list(entries), self.cancel_event,
                           on_result=lambda _r: self._end())
        self.workers.sig_error.connect(self._on_error)
        return True

    def cancel(self) -> None:
        if not self.running:
            return
        self.cancel_event.set()
        self.bar.cancel_button.setEnabled(False)
        self.bar.label.setText("Cancelling…")

    # ------------------------------------------------------------ worker thread
    def _run(self, entries: list[CatalogEntry], cancel: threading.Event) -> None:
        for entry in entries:
            if cancel.is_set():
                self.sig_model_done.emit(entry.id, "cancelled", "download cancelled")
                continue
            last = [0.0]

            def progress(done: int, total: int, name: str, model_id: str = entry.id,
                         last: list[float] = last) -> None:
                now = time.monotonic()
                if now - last[0] >= EMIT_EVERY_S or done >= total:
                    last[0] = now
                    self.sig_progress.emit(model_id, done, total, name)

            try:
                self.download(entry, progress=progress, cancel=cancel)
            except DownloadCancelled as err:
                self.sig_model_done.emit(entry.id, "cancelled", str(err))
            except SelectorError as err:
                self.sig_model_done.emit(entry.id, "failed", str(err))
            else:
                self.sig_model_done.emit(entry.id, "downloaded", "")

    # ---------------------------------------------------------------- GUI thread
    def _on_progress(self, model_id: str, done: int, total: int, name: str) -> None:
        if self.cancel_event.is_set():
            return
        left = len(self._queue) - 1
        more = f" (+{left} more)" if left > 0 else ""
        self.bar.show_progress(f"Downloading {model_id}: {name}, {done / 2**20:,.1f} of "
                               f"{total / 2**20:,.1f} MiB{more}", done, total)

    def _on_model_done(self, model_id: str, status: str, message: str) -> None:
        if model_id in self._queue:
            self._queue.remove(model_id)
        self._outcomes[status] = self._outcomes.get(status, 0) + 1
        if status == "downloaded":
            self.catalog_view.mark_local(model_id)
        elif status == "failed":
            self._failures.append((model_id, message))

    def _on_error(self, what: str, _err: BaseException) -> None:
        if what == "Downloading weights":
            self._end()

    def _end(self) -> None:
        if not self.running:
            return
        self.running = False
        self.workers.sig_error.disconnect(self._on_error)
        self.bar.hide()
        if self._failures:
            model_id, message = self._failures[0]
            more = f" (and {len(self._failures) - 1} more models)" if len(self._failures) > 1 else ""
            self.banner.show_message(f"Downloading the weights of {model_id} failed{more}: {message}",
                                     "\n\n".join(f"{m}: {text}" for m, text in self._failures))
        done = ", ".join(f"{n} {status}" for status, n in self._outcomes.items())
        self.sig_note.emit(f"Weights download finished: {done}" if done else "Weights download stopped")
        self.sig_finished.emit()

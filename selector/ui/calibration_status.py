"""The CPU calibration at the window's start: measured in a child process, shown in the status bar.

Nothing cached for this machine: ``CpuCalibration`` runs ``python -m
selector.core.estimate.calibration --json`` (``calibration.child_command``), which measures and
caches it (tens of seconds of torch work on a new machine). In a worker thread of the app,
torch's import held the GUI thread for over a second, quitting mid-way printed tracebacks,
and the work could not be stopped; a child is killed when the window closes (``stop``), so
nothing outlives the app. A calibration measured on a busy machine is not cached: the child
prints it, this process keeps it (``calibration.keep_provisional``) and the status bar says why
the estimates are provisional (``calibration.provisional_note``).
"""

from __future__ import annotations

import json
import logging
import subprocess
import threading
from typing import TYPE_CHECKING, Any, Iterator

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel

from selector.core.estimate import calibration as cal_mod

if TYPE_CHECKING:  # pragma: no cover
    from selector.ui.main_window import MainWindow

log = logging.getLogger(__name__)
CALIBRATE_AFTER_MS = 5000
"""The latest the calibration starts after the catalog arrived, rows shown or not."""
CALIBRATION_TIMEOUT_S = 600.0
"""A calibration on a loaded 2-core machine takes under a minute; past this it is given up."""
CALIBRATING_TEXT = "Calibrating this CPU for latency estimates…"
PROVISIONAL_TEXT = "CPU latency estimates: provisional"
"""The label's text while the estimates rest on a calibration measured on a busy machine (the
whole ``provisional_note``, with its figures, is its tooltip)."""
PROVISIONAL_MESSAGE = ("CPU latency estimates are provisional: this CPU was calibrated on a busy "
                       "machine (the mark at the right says how busy)")
"""The status bar's message when it arrives; the whole note would run into the mark."""


class CpuCalibration:
    """This machine's CPU calibration for the window: cached, or measured in a child process."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        """The calibrating child while it runs (tests watch it)."""
        self._stopped = threading.Event()
        self._free = threading.Event()
        """Clear while a benchmark runs: the calibration waits, its child killed, and starts
        again after the run (nothing of ours runs beside a probe the user started)."""
        self._free.set()
        self._lock = threading.Lock()

    def run(self) -> Iterator[tuple[str, Any]]:
        """Worker generator: ``("calibrating", None)`` when nothing is cached and the child
        measures, then ``("calibration", Calibration | None)``."""
        calibration = cal_mod.load_calibration()
        if calibration is None:
            yield "calibrating", None
            calibration = self._measure()
        yield "calibration", calibration

    def _measure(self) -> cal_mod.Calibration | None:
        while True:
            self._free.wait()
            with self._lock:
                if self._stopped.is_set():
                    return None
                if not self._free.is_set():
                    continue
                self.process = subprocess.Popen(cal_mod.child_command(), stdout=subprocess.PIPE,
                                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                                text=True)
                proc = self.process
            calibration = self._read(proc)
            if calibration is not None or self._free.is_set() or self._stopped.is_set():
                return calibration
            # a run took the machine mid-measure: the child was killed; measure after the run

    def _read(self, proc: subprocess.Popen) -> cal_mod.Calibration | None:
        try:
            out, err = proc.communicate(timeout=CALIBRATION_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            log.warning("the CPU calibration took over %.0f s; latency estimates are off", CALIBRATION_TIMEOUT_S)
            return None
        finally:
            with self._lock:
                self.process = None
        if self._stopped.is_set() or not self._free.is_set():
            return None  # killed by ``stop`` or ``hold``: nothing failed
        if proc.returncode != 0:
            log.warning("the CPU calibration failed (exit %s): %s", proc.returncode, err.strip()[-2000:])
            return None
        try:
            calibration = cal_mod.Calibration.from_dict(json.loads(out.strip().splitlines()[-1]))
        except (ValueError, TypeError, IndexError) as error:
            log.warning("the CPU calibration could not be read: %s", error)
            return None
        if calibration.provisional:
            cal_mod.keep_provisional(calibration)
        return calibration

    def stop(self) -> None:
        """Kill the child if it runs (the window is closing); no later calibration starts."""
        with self._lock:
            self._stopped.set()
            self._free.set()
            proc = self.process
        if proc is not None and proc.poll() is None:
            proc.kill()

    def hold(self) -> None:
        """A benchmark starts: kill a calibration in progress; it measures again after ``release``."""
        with self._lock:
            self._free.clear()
            proc = self.process
        if proc is not None and proc.poll() is None:
            proc.kill()

    def release(self) -> None:
        """The benchmark ended: a calibration still to do may start."""
        self._free.set()


# ------------------------------------------------------------- window steps
def calibrate_once_shown(window: "MainWindow") -> None:
    """Start the CPU calibration once the catalog's rows are on screen, or after
    ``CALIBRATE_AFTER_MS`` at the latest: the child's torch work would otherwise compete with
    the table's first badges for the CPU."""
    started: list[bool] = []

    def start(*_: object) -> None:
        if started or not window.isVisible():
            return
        started.append(True)
        window.workers.start("CPU calibration", window.cpu_calibration.run,
                             on_yield=lambda step: show_step(window, *step))

    def on_rows(count: int) -> None:
        if count:
            start()

    window.catalog_view.sig_rows_ready.connect(on_rows)
    QTimer.singleShot(CALIBRATE_AFTER_MS, window, start)


def show_step(window: "MainWindow", what: str, value: Any) -> None:
    """Say what runs in a label of its own (the status bar's message changes with every
    hardware update); when it ends, hide it, or, when the calibration was measured on a busy
    machine, say so in the status bar and keep a short mark with ``provisional_note``."""
    label = calibration_label(window)
    if what == "calibrating":
        label.setText(CALIBRATING_TEXT)
        label.show()
        return
    window.calibration = value
    note = cal_mod.provisional_note(value)
    if note:  # a short mark stays (every CPU latency estimate rests on it); the whole note now
        label.setText(PROVISIONAL_TEXT)
        label.setToolTip(note)
        label.show()
        window.statusBar().showMessage(PROVISIONAL_MESSAGE, 60_000)  # the figures: the mark's tooltip
        return
    label.hide()
    window.statusBar().showMessage("Latency estimates ready" if value is not None
                                   else "CPU calibration failed: latency estimates are off", 10_000)


def calibration_label(window: "MainWindow") -> QLabel:
    label = window.statusBar().findChild(QLabel, "calibration_status")
    if label is None:
        label = QLabel()
        label.setObjectName("calibration_status")
        label.hide()
        window.statusBar().addPermanentWidget(label)
    return label

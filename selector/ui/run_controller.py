"""RunController: runs the application session's Funnel in a worker thread and relays what
happens as signals.

The session (``selector.core.session.AppSession``) plans the run; the GUI thread never waits on
a probe: the funnel's generator is iterated by a superqt worker; each event arrives on the GUI
thread through ``yielded`` and is turned into a signal the panels and plots listen to. Cancel
(one probe or all) goes straight to the session, which is thread-safe; when the worker ends,
the session hears it (``run_ended``) on the GUI thread. On shutdown the run is interrupted (it
stays resumable) and the worker waited for, so no thread and no probe process outlives the
window.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, Signal

from selector.core.funnel import QUEUED, Funnel
from selector.core.probes import events as ev
from selector.core.probes.events import ProbeEvent
from selector.core.session import AppSession
from selector.ui.workers import WorkerPool

log = logging.getLogger(__name__)


class RunController(QObject):
    sig_queued = Signal(str, str, str)
    """(probe id, model id, probe kind): a row for the queue."""
    sig_event = Signal(object)
    """Every ProbeEvent, on the GUI thread."""
    sig_loss = Signal(str, int, float)
    """(model id, optimizer step, training loss) of a running fine-tune."""
    sig_probe_done = Signal(object)
    """The ProbeResult of a probe that ended (already in the results store)."""
    sig_run_started = Signal(str)
    sig_planned = Signal(int)
    """Probes the run will add later (the fine-tunes, once chosen), for the overall ETA."""
    sig_run_finished = Signal(str)
    """Session id; emitted however the run ended (``session.last_run.cancelled`` says how)."""
    sig_note = Signal(str)

    def __init__(self, workers: WorkerPool, session: AppSession, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.workers = workers
        self.session = session
        self.funnel: Funnel | None = None
        self._worker: Any = None

    @property
    def running(self) -> bool:
        return self._worker is not None

    def start(self, funnel: Funnel) -> Funnel:
        """Iterate a run the session planned (``session.run`` or ``session.resume``)."""
        if self.running:
            raise RuntimeError("a benchmark is already running")
        self.funnel = funnel
        for spec in self.funnel.specs:
            self.sig_queued.emit(spec.id, spec.model, spec.kind)
        session_id = self.funnel.session_id or ""
        self._worker = self.workers.start("Benchmark", self.funnel.events, on_yield=self._on_event)
        self._worker.finished.connect(lambda sid=session_id: self._on_finished(sid))
        self.sig_run_started.emit(session_id)
        self.sig_planned.emit(self.funnel.planned_later)
        return self.funnel

    def cancel_probe(self, probe_id: str) -> None:
        self.session.cancel(probe_id)

    def cancel_all(self) -> None:
        """Every probe not ended ends cancelled; the session is not offered for resume."""
        self.session.cancel()

    def shutdown(self) -> None:
        """Stop the run (the core kills the probe process), leave it resumable, stop iterating."""
        self.session.interrupt()
        if self._worker is not None:
            self._worker.quit()

    # ---------------------------------------------------------------- events
    def _on_event(self, event: ProbeEvent) -> None:
        if event.type == QUEUED:
            for spec in event.data.get("specs", []):
                self.sig_queued.emit(spec["id"], spec["model"], spec["kind"])
            if event.message:
                self.sig_note.emit(event.message)
            self.sig_planned.emit(self.funnel.planned_later if self.funnel else 0)
            return
        self.sig_event.emit(event)
        if event.type == ev.PROGRESS and event.loss is not None and event.kind == "finetune":
            self.sig_loss.emit(event.model_id, int(event.step or 0), float(event.loss))
        elif event.type == ev.END and event.result is not None:
            self.sig_probe_done.emit(event.result)
            self.sig_planned.emit(self.funnel.planned_later if self.funnel else 0)

    def _on_finished(self, session_id: str) -> None:
        self._worker = None
        if self.session.funnel is self.funnel:
            self.session.run_ended()
        self.sig_planned.emit(0)
        self.sig_run_finished.emit(session_id)

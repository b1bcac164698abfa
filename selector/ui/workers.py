"""Background work for the GUI: every job off the GUI thread, every error shown, none lost.

Jobs run through superqt's workers (functions or generators on Qt's thread pool). The
``WorkerPool`` keeps a reference to each running worker until it finishes, routes every
error to one handler (the GUI shows it; the log keeps the traceback), and on shutdown
cancels what can be cancelled and waits for the rest.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from PySide6.QtCore import QObject, QThreadPool, Signal
from superqt.utils import WorkerBase, create_worker

log = logging.getLogger(__name__)
MIN_THREADS = 8
"""Most jobs wait rather than compute (on a probe's child process for a whole run, on the torch
view's child, on a download); with Qt's default of one thread per core, two such waits on a
2-core machine left the recommendation and the start-up read of the results queued behind them."""


class WorkerPool(QObject):
    sig_error = Signal(str, object)
    """(what was being done, the exception) for every job that failed."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._running: set[WorkerBase] = set()
        pool = QThreadPool.globalInstance()
        pool.setMaxThreadCount(max(pool.maxThreadCount(), MIN_THREADS))

    def start(
        self,
        what: str,
        func: Callable[..., Any],
        *args: Any,
        on_result: Callable[[Any], None] | None = None,
        on_yield: Callable[[Any], None] | None = None,
        **kwargs: Any,
    ) -> WorkerBase:
        """Run ``func(*args, **kwargs)`` in the background; ``what`` names it in errors."""
        worker = create_worker(func, *args, _start_thread=False, _ignore_errors=True, **kwargs)
        if on_result is not None:
            worker.returned.connect(on_result)
        if on_yield is not None and hasattr(worker, "yielded"):
            worker.yielded.connect(on_yield)
        worker.errored.connect(lambda err, what=what: self._report(what, err))
        worker.finished.connect(lambda w=worker: self._running.discard(w))
        self._running.add(worker)
        worker.start()
        return worker

    def _report(self, what: str, err: BaseException) -> None:
        log.error("%s failed", what, exc_info=(type(err), err, err.__traceback__))
        self.sig_error.emit(what, err)

    @property
    def running(self) -> int:
        return len(self._running)

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Ask every worker to stop, then wait; True when all finished in time."""
        for worker in list(self._running):
            worker.quit()
        return QThreadPool.globalInstance().waitForDone(timeout_ms)

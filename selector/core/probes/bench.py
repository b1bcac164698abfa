"""Run several probes one after another, as one session: check, run, store, report.

``BenchRun(specs, store=ResultStore()).events()`` is the generator the CLI prints and the
GUI shows: for each spec, the pre-flight check (a refused probe ends at once, recorded as
``refused``), then the probe's own events from its child process. Each probe's result is
written to the store (one transaction) *before* its ``end`` event is yielded, so whatever
happens to the app afterwards, a finished probe is on disk. ``cancel()`` (any thread) stops
the probe in flight and skips the rest; the session then stays ``open`` so the GUI can
resume or discard it. A session whose probes all ran is ``closed``. ``cancel_probe(id)`` stops
or skips one probe and lets the rest run; ``add(spec)`` queues another while it runs.
"""

from __future__ import annotations

import datetime as _dt
import threading
from typing import Any, Callable, Iterator

from selector.core.catalog.entry import CatalogEntry
from selector.core.probes import events as ev
from selector.core.probes.events import ProbeEvent
from selector.core.probes.preflight import Preflight, check_spec, free_memory_mib, preflight
from selector.core.probes.runner import ProbeRun
from selector.core.probes.spec import ProbeSpec
from selector.core.results import record as rec
from selector.core.results.record import ProbeResult
from selector.core.results.store import SESSION_CLOSED, ResultStore, Session


class SessionQueue:
    """What a queue of probes shares however it runs them (here, or on a Ray cluster): the
    store and session its results go to, and the cancel flag any thread may set."""

    def __init__(self, store: ResultStore | None, session: Session | str | None,
                 session_name: str, note: dict[str, Any] | None) -> None:
        """``session``: a ``Session`` or session id to add to; default a new one named
        ``session_name`` with ``note`` (where it ran) stored beside it."""
        self.store = store
        self._cancelled = threading.Event()
        self.session: Session | None = None
        if store is not None:
            if isinstance(session, str):
                self.session = store.get_session(session)
            elif session is not None:
                self.session = session
            else:
                self.session = store.create_session(session_name, note)

    @property
    def session_id(self) -> str | None:
        return self.session.id if self.session else None

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def _close_session(self) -> None:
        """Every probe ran: the session is closed (a cancelled one stays open, to resume)."""
        if self.store is not None and self.session is not None and not self._cancelled.is_set():
            self.store.set_session_status(self.session.id, SESSION_CLOSED)


class BenchRun(SessionQueue):
    """A queue of probes run in order, each in its own child process."""

    def __init__(self, specs: list[ProbeSpec], *, store: ResultStore | None = None,
                 session: Session | str | None = None, session_name: str = "",
                 hardware: dict[str, Any] | None = None,
                 free_mib: Callable[[str], float | None] = free_memory_mib,
                 grace_s: float = 0.5) -> None:
        """``store``: where results go (None: nowhere, results stay in ``self.results``).
        ``session``: a ``Session`` or session id to add to; default a new one named
        ``session_name``. ``hardware``: ``HardwareProfile.to_dict()`` recorded with each
        result (None: detected, without torch, when the run starts). ``free_mib(device)``:
        free memory for the pre-flight check (default: psutil / NVML, read before each probe).
        """
        super().__init__(store, session, session_name, hardware)
        self.specs = list(specs)
        self.hardware = hardware
        self.free_mib = free_mib
        self.grace_s = grace_s
        self.results: list[ProbeResult] = []
        self.current: ProbeRun | None = None
        self._skipped: set[str] = set()

    def cancel(self, reason: str = "cancelled") -> None:
        """Stop the probe in flight (within a second) and skip the ones not started."""
        self._cancelled.set()
        run = self.current
        if run is not None:
            run.cancel(reason)

    def cancel_probe(self, probe_id: str, reason: str = "cancelled") -> None:
        """Cancel one probe, in flight or queued; the others carry on. Thread-safe."""
        self._skipped.add(probe_id)
        run = self.current
        if run is not None and run.spec.id == probe_id:
            run.cancel(reason)

    def add(self, spec: ProbeSpec) -> None:
        """Queue one more probe, also while ``events()`` runs (it is picked up in turn)."""
        self.specs.append(spec)

    def events(self) -> Iterator[ProbeEvent]:
        if self.hardware is None:  # every result records the machine it ran on
            from selector.core.hardware import detect_hardware

            self.hardware = detect_hardware(include_torch=False).to_dict()
        index = -1
        while index + 1 < len(self.specs):
            index += 1
            spec, count = self.specs[index], len(self.specs)
            if self._cancelled.is_set():
                break
            spec.session_id = self.session_id  # a skipped probe's row belongs to the session too
            if spec.id in self._skipped:
                yield self._finish(_unrun(spec, rec.CANCELLED, "cancelled before it started"),
                                   index, count)
                continue
            try:
                check_spec(spec, gpu_count=len(self.hardware.get("gpus") or []) if self.hardware else None)
                entry = _entry(spec)
                verdict = preflight(spec, entry, self.free_mib)
            except Exception as err:  # noqa: BLE001 - an unknown model becomes a failed row
                yield self._finish(_unrun(spec, rec.FAILED, f"cannot start: {err}"), index, count)
                continue
            if verdict.refused:
                yield self._finish(_unrun(spec, rec.REFUSED, verdict.message, verdict), index, count)
                continue
            run = ProbeRun(spec, hardware=self.hardware, preflight=verdict.to_dict(),
                           grace_s=self.grace_s)
            self.current = run
            if self._cancelled.is_set():
                run.cancel()
            try:
                for event in run.events():
                    event.index, event.count = index, count
                    if event.type == ev.END:
                        yield self._finish(event.result, index, count, event)
                    else:
                        yield event
            finally:
                self.current = None
            if (run.result is not None and run.result.status == rec.CANCELLED
                    and spec.id not in self._skipped):
                self._cancelled.set()  # Ctrl-C or a cancel of the whole run, not of one row
        self._close_session()

    def _finish(self, result: ProbeResult, index: int, count: int,
                event: ProbeEvent | None = None) -> ProbeEvent:
        if self.store is not None:
            self.store.save_result(result)
        self.results.append(result)
        if event is None:
            event = ProbeEvent(ev.END, probe_id=result.id, model_id=result.model_id, kind=result.kind,
                               message=result.message, data={"status": result.status})
            event.result = result
        event.index, event.count = index, count
        return event


def _entry(spec: ProbeSpec) -> CatalogEntry:
    from selector.core.catalog.retrace import retrace_here

    if spec.entry:
        entry = CatalogEntry.from_dict(spec.entry)
    else:
        from selector.core.models import resolve_model

        entry = resolve_model(spec.model)
    retrace_here(entry)  # an activation profile older than the tracer: traced again, cached
    spec.entry = entry.to_dict()
    return entry


def _unrun(spec: ProbeSpec, status: str, message: str, verdict: Preflight | None = None) -> ProbeResult:
    """The result of a probe that never started (refused by the pre-flight check, or failed)."""
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")
    return ProbeResult(
        id=spec.id, kind=spec.kind, model_id=spec.model, device=spec.device, status=status,
        message=message, session_id=spec.session_id, task=(spec.entry or {}).get("task", ""),
        started_at=now, ended_at=now, duration_s=0.0,
        estimate=spec.estimate or (verdict.estimate if verdict else None),
        preflight=verdict.to_dict() if verdict else None, spec=spec.to_dict(),
        error=message if status == rec.FAILED else "",
    )

"""Run one probe in a fresh child process and turn what it says into a stream of events.

``ProbeRun(spec).events()`` is a generator of :class:`ProbeEvent`; the CLI iterates it for
its progress bar, the GUI iterates it in a worker thread. Its last event is always ``end``,
carrying the :class:`ProbeResult`, however the probe ended:

- the child reported a result: ``finished``;
- ``cancel()`` was called (any thread) or Ctrl-C reached the loop: ``cancelled``;
- the hard timeout passed: ``timed_out``;
- the child reported ``MemoryError`` / CUDA OOM, or died of a SIGKILL we did not send with
  evidence of the kernel's OOM killer (see ``oom.py``): ``out_of_memory``;
- it died of another signal or exited without a result: ``crashed``;
- it reported an exception: ``failed``, with the traceback.

Cancel sends SIGTERM to the child's process group, then SIGKILL after ``grace_s``: the probe
ends within a second and leaves nothing behind. If the app itself dies, the child sees its
stdin close and kills its own group (see ``child.py``).
"""

from __future__ import annotations

import atexit
import datetime as _dt
import os
import queue
import signal
import subprocess
import threading
import time
import weakref
from collections import deque
from typing import Any, Iterator

from selector.core.probes import events as ev
from selector.core.probes.events import ProbeEvent
from selector.core.probes.launch import EOF, child_command, child_env, read_events, read_tail
from selector.core.probes.launch import PROBE_CHILD_FLAG as PROBE_CHILD_FLAG  # re-exported
from selector.core.probes.launch import frozen_console_executable as frozen_console_executable
from selector.core.probes.oom import OomWatch
from selector.core.probes.spec import ProbeSpec
from selector.core.probes.watch import ProbeWatch
from selector.core.results import record as rec
from selector.core.results.record import ProbeResult

POLL_S = 0.05
"""How often the parent checks cancel and the timeout."""
RSS_POLL_S = 0.1
"""How often the parent reads the child's resident memory (about 0.05 ms a read)."""
TREE_POLL_S = 2.0
"""How often it looks for the child's own children: a scan of every process (~5 ms), so
rarely, to leave the CPU to the probe on small machines."""
STDERR_TAIL_LINES = 60
_POSIX = os.name == "posix"
_LIVE: "weakref.WeakSet[ProbeRun]" = weakref.WeakSet()


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


class ProbeRun:
    """One probe, one child process. Iterate ``events()`` once; ``cancel()`` from anywhere."""

    def __init__(self, spec: ProbeSpec, *, hardware: dict[str, Any] | None = None,
                 preflight: dict[str, Any] | None = None, grace_s: float = 0.5,
                 placement: dict[str, Any] | None = None) -> None:
        self.spec = spec
        self.placement = placement
        self.hardware = hardware
        self.preflight = preflight
        self.grace_s = grace_s
        self.result: ProbeResult | None = None
        self.pid: int | None = None
        self._proc: subprocess.Popen | None = None
        self._cancel = threading.Event()
        self._cancel_reason = "cancelled"
        self._killed_by_us = False
        self._timed_out = False
        self._kill_lock = threading.Lock()

    # ---------------------------------------------------------------- control
    def cancel(self, reason: str = "cancelled") -> None:
        """Stop the probe now: terminate, then kill after the grace period. Thread-safe."""
        if self._cancel.is_set():
            return
        self._cancel_reason = reason
        self._cancel.set()
        threading.Thread(target=self._terminate, name="probe-cancel", daemon=True).start()

    def request_stop(self) -> None:
        """Ask the probe to wrap up and report what it measured so far (soft stop)."""
        proc = self._proc
        if proc is not None and proc.stdin is not None:
            try:
                proc.stdin.write(b"stop\n")
                proc.stdin.flush()
            except (OSError, ValueError):
                pass

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def _signal_group(self, sig: int) -> None:
        proc = self._proc
        if proc is None:
            return
        if sig == getattr(signal, "SIGKILL", None) or not _POSIX:
            self._killed_by_us = True
        try:
            if _POSIX:
                os.killpg(proc.pid, sig)
            elif sig == signal.SIGTERM:
                proc.terminate()
            else:
                proc.kill()
        except (ProcessLookupError, PermissionError, OSError):
            pass

    def _terminate(self) -> None:
        """SIGTERM to the group, SIGKILL after ``grace_s`` if anything is still alive."""
        with self._kill_lock:
            proc = self._proc
            if proc is None:
                return
            self._signal_group(signal.SIGTERM)
            try:
                proc.wait(timeout=self.grace_s)
            except subprocess.TimeoutExpired:
                pass
            self._signal_group(getattr(signal, "SIGKILL", signal.SIGTERM))

    def _child_inputs(self) -> tuple[dict[str, str], dict[str, Any]]:
        """The child's environment and spec; a placement pins its card (``placement.py``)."""
        if not self.placement:
            return child_env(self.spec), self.spec.to_dict()
        from selector.core.probes import placement as pl

        return pl.child_env(self.placement, child_env(self.spec)), pl.child_spec(self.spec, self.placement)

    # ----------------------------------------------------------------- events
    def finish(self) -> ProbeResult:
        """Run the probe to its end without watching its progress; the recorded result."""
        for _ in self.events():
            pass
        assert self.result is not None
        return self.result

    def events(self) -> Iterator[ProbeEvent]:
        spec = self.spec
        state = _State(started_at=_utc_now(), t0=time.perf_counter())
        if self._cancel.is_set():  # cancelled before it started
            yield self._end(state, None)
            return
        env, child_spec = self._child_inputs()
        try:
            self._proc = proc = subprocess.Popen(
                child_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, env=env, start_new_session=_POSIX,
                creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0),
            )
        except OSError as err:
            state.error = {"status": rec.FAILED, "message": f"cannot start the probe process: {err}"}
            yield self._end(state, None)
            return
        _LIVE.add(self)
        self.pid = proc.pid
        if self.placement:  # a multi-GPU run: this child's cores only
            from selector.core.probes.placement import pin

            pin(proc.pid, self.placement)
        state.watch.start(proc.pid, spec.device)
        if self._cancel.is_set():  # cancel() raced with the start
            threading.Thread(target=self._terminate, daemon=True).start()
        lines: queue.Queue = queue.Queue()
        tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        threading.Thread(target=read_events, args=(proc.stdout, lines), daemon=True).start()
        err_reader = threading.Thread(target=read_tail, args=(proc.stderr, tail), daemon=True)
        err_reader.start()
        try:
            assert proc.stdin is not None  # opened with PIPE
            proc.stdin.write(ev.encode(child_spec))
            proc.stdin.flush()
        except OSError:
            pass
        try:
            started = self._event(state, {"type": ev.STARTED, "data": {"pid": proc.pid}}, parent=True)
            if started is not None:
                yield started
            yield from self._pump(proc, lines, state)
        except BaseException:  # the consumer went away (closed us, or raised): end the child now
            self._terminate()
            raise
        finally:
            self._reap(proc)
            _LIVE.discard(self)
            state.watch.close()
        err_reader.join(timeout=1.0)
        state.stderr_tail = "".join(tail)
        yield self._end(state, proc.returncode)

    def _pump(self, proc: subprocess.Popen, lines: queue.Queue, state: "_State") -> Iterator[ProbeEvent]:
        deadline = state.t0 + self.spec.hard_timeout_s
        next_rss = 0.0
        while True:
            try:
                item = lines.get(timeout=POLL_S)
            except queue.Empty:
                item = None
            except KeyboardInterrupt:
                self.cancel("interrupted (Ctrl-C)")
                continue
            now = time.perf_counter()
            if now >= deadline and not self._cancel.is_set() and not self._timed_out:
                self._timed_out = True
                threading.Thread(target=self._terminate, daemon=True).start()
            if now >= next_rss:
                next_rss = now + RSS_POLL_S
                state.watch.poll(now)
                state.note_rss(proc.pid, now)
            if item is EOF:
                return
            if item is not None:
                event = self._event(state, item)
                if event is not None:
                    yield event

    def _reap(self, proc: subprocess.Popen) -> None:
        try:
            proc.wait(timeout=self.grace_s if (self._cancel.is_set() or self._timed_out) else 5.0)
        except subprocess.TimeoutExpired:
            self._terminate()
            proc.wait()
        if _POSIX:  # grandchildren left in the group (the child exited on its own)
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError, OSError):
                pass
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            try:
                if pipe is not None:
                    pipe.close()
            except OSError:
                pass

    # ------------------------------------------------------------------ state
    def _event(self, state: "_State", data: dict[str, Any], parent: bool = False) -> ProbeEvent | None:
        spec = self.spec
        etype = data.get("type")
        if not parent:
            if etype == ev.PHASE and data.get("phase") == "start":
                state.overhead["spawn_s"] = round(time.perf_counter() - state.t0, 4)
            elif etype == ev.PHASE and data.get("phase") == "ready":
                state.overhead["ready_s"] = round(time.perf_counter() - state.t0, 4)
            if etype == ev.PHASE:
                state.watch.on_phase(data.get("phase"), data.get("data") or {})
            elif etype == ev.ROW:
                row = data.get("data") or {}
                state.rows.append(row)
                state.watch.on_row()
                if "samples_ms" in row:  # kept once, in the row, not again in the event log
                    data = dict(data, data={k: v for k, v in row.items() if k != "samples_ms"})
            elif etype == ev.PROGRESS and data.get("loss") is not None:
                figures = data.get("data") or {}
                state.loss.append({"step": data.get("step", len(state.loss)), "loss": data["loss"],
                                   "t_s": data.get("t"), "batch_size": figures.get("batch_size")})
            elif etype == ev.RESULT:
                state.report = data.get("data") or {}
                state.watch.on_end()
                data = {"type": ev.RESULT, "t": data.get("t")}  # folded into the result, not repeated
            elif etype == ev.ERROR:
                state.error = dict(data.get("data") or {}, message=data.get("message", ""))
                state.watch.on_end()
        else:
            data = dict(data, t=round(time.perf_counter() - state.t0, 4))
        state.events.append(data)
        return ProbeEvent.from_dict(data, probe_id=spec.id, model_id=spec.model, kind=spec.kind)

    def _end(self, state: "_State", returncode: int | None) -> ProbeEvent:
        status, message = self._classify(state, returncode)
        report = state.report or {}
        overhead = dict(state.overhead)
        for key in ("load_s", "imports_s"):
            if report.get("summary", {}).get(key) is not None:
                overhead[key] = report["summary"][key]
        entry = self.spec.entry or {}
        rows = report.get("rows", state.rows)
        threads = (report.get("settings") or {}).get("threads") or self.spec.threads
        probe_contention = state.watch.records(rows, threads)
        duration = round(time.perf_counter() - state.t0, 3)
        end = {"type": ev.END, "t": duration, "message": message, "data": {"status": status}}
        state.events.append(end)
        result = ProbeResult(
            id=self.spec.id, kind=self.spec.kind, model_id=self.spec.model, device=self.spec.device,
            status=status, message=message, session_id=self.spec.session_id,
            task=entry.get("task", ""), started_at=state.started_at, ended_at=_utc_now(),
            duration_s=duration,
            weights=report.get("weights", _first(state.rows, "weights")),
            weights_note=report.get("weights_note", ""),
            rows=rows, summary=report.get("summary", {}), contention=probe_contention,
            settings=report.get("settings", {}), loss_curve=report.get("loss_curve", state.loss),
            events=state.events, preflight=self.preflight,
            estimate=self.spec.estimate or (self.preflight or {}).get("estimate"),
            spec=self.spec.to_dict(), hardware=self.hardware, software=report.get("software", {}),
            exit_code=returncode, error=_error_text(state.error), stderr_tail=state.stderr_tail,
            overhead=overhead, child_peak_rss_mib=state.peak_rss_mib, placement=self.placement,
        )
        self.result = result
        event = ProbeEvent.from_dict(end, probe_id=self.spec.id, model_id=self.spec.model,
                                     kind=self.spec.kind)
        event.result = result
        return event

    def _classify(self, state: "_State", code: int | None) -> tuple[str, str]:
        took = f"after {time.perf_counter() - state.t0:.1f} s"
        kept = f"; {len(state.rows)} row(s) measured before are kept" if state.rows else ""
        if self._cancel.is_set():
            return rec.CANCELLED, f"{self._cancel_reason} {took}{kept}"
        if self._timed_out:
            return rec.TIMED_OUT, f"killed at the hard timeout of {self.spec.hard_timeout_s:.0f} s{kept}"
        if state.report is not None:
            return rec.FINISHED, state.report.get("message") or f"finished in {took[6:]}"
        if state.error:
            status = state.error.get("status", rec.FAILED)
            message = (state.error.get("message") or "").splitlines()[0] if state.error.get("message") else ""
            if status == rec.OUT_OF_MEMORY:
                return rec.OUT_OF_MEMORY, f"out of memory: {message}{kept}"
            return rec.FAILED, f"{message or 'the probe raised an error'}{kept}"
        peak = f" (peak RSS seen {state.peak_rss_mib:.0f} MiB)" if state.peak_rss_mib else ""
        if code is not None and code < 0:
            sig = -code
            if sig == getattr(signal, "SIGKILL", -1) and not self._killed_by_us:
                oom, why = state.oom.verdict()  # a SIGKILL from outside is OOM only on evidence
                if oom:
                    return rec.OUT_OF_MEMORY, (
                        f"killed by the kernel's out-of-memory killer ({why}){peak}{kept}")
                return rec.CRASHED, ("killed by SIGKILL from outside selector (not by the "
                                     f"out-of-memory killer: {why}){peak}{kept}")
            return rec.CRASHED, f"crashed with {_signal_name(sig)}{peak}{kept}"
        return rec.CRASHED, f"exited with code {code} without reporting a result{kept}"


class _State:
    def __init__(self, started_at: str, t0: float) -> None:
        self.started_at, self.t0 = started_at, t0
        self.rows: list[dict] = []
        self.loss: list[dict] = []
        self.events: list[dict] = []
        self.report: dict | None = None
        self.error: dict | None = None
        self.overhead: dict[str, float] = {}
        self.stderr_tail = ""
        self.peak_rss_mib: float | None = None
        self._proc: Any = None
        self._tree: list = []
        self._next_tree = 0.0
        self.watch = ProbeWatch()
        self.oom = OomWatch()

    def note_rss(self, pid: int, now: float) -> None:
        """Add the child's (and its children's) resident memory to the peak seen."""
        try:
            import psutil

            if self._proc is None:
                self._proc = psutil.Process(pid)
            if self.watch.sampler is not None:  # the contention watch lists the tree already
                self._tree = self.watch.members()[1:]
            elif now >= self._next_tree:
                self._next_tree = now + TREE_POLL_S
                self._tree = self._proc.children(recursive=True)
            rss = self._proc.memory_info().rss
        except Exception:  # noqa: BLE001 - gone, zombie, no permission: nothing to note
            return
        for child in self._tree:
            try:
                rss += child.memory_info().rss
            except Exception:  # noqa: BLE001 - a grandchild that ended
                pass
        mib = rss / 2**20
        self.oom.sample(mib)
        if self.peak_rss_mib is None or mib > self.peak_rss_mib:
            self.peak_rss_mib = round(mib, 1)


def _first(rows: list[dict], key: str) -> str:
    return next((r[key] for r in rows if r.get(key)), "")


def _error_text(error: dict | None) -> str:
    if not error:
        return ""
    return error.get("traceback") or error.get("message", "")


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


@atexit.register
def _kill_live_children() -> None:
    """The app is exiting: no probe child may outlive it."""
    for run in list(_LIVE):
        run._signal_group(getattr(signal, "SIGKILL", signal.SIGTERM))

"""``ClusterBenchRun``: a ``BenchRun`` whose probes run as Ray tasks across a cluster.

It has ``BenchRun``'s face (``events()``, ``cancel()``, ``cancel_probe()``, ``add()``,
``results``, ``session``), so the CLI's progress bar and the GUI's queue drive it unchanged.
Every probe is submitted at once; Ray places each where its resources are free (spread over
the nodes), in a fresh worker (``max_calls=1``), never retried (``max_retries=0``: a probe
that killed its node once would do it again). One thread per probe pulls that task's
stream; ``events()`` merges the streams, writes each result to the local store as it arrives,
then yields its ``end`` event. Ends the task did not report itself:

- the worker died (killed, out of memory): ``crashed``, with the node it ran on;
- the node was lost: ``crashed``, "node ... lost";
- ``cancel``: ``ray.cancel(force=True)`` kills the worker (its probe child follows, as its
  stdin closes): ``cancelled``, with the rows it had sent.
"""

from __future__ import annotations

import datetime as _dt
import queue
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from selector.core.cluster import require_ray
from selector.core.cluster.remote import PLACED, run_probe
from selector.core.probes import events as ev
from selector.core.probes.bench import SessionQueue
from selector.core.probes.events import ProbeEvent
from selector.core.probes.spec import ProbeSpec
from selector.core.results import record as rec
from selector.core.results.record import ProbeResult
from selector.core.results.store import ResultStore, Session

POLL_S = 0.1
"""How often ``events()`` wakes to notice a cancel when no event arrives, seconds."""


def task_options(spec: ProbeSpec, accelerator_type: str | None = None,
                 resources: dict[str, float] | None = None) -> dict[str, Any]:
    """What one probe asks Ray for: one GPU for a CUDA probe, else its thread count in CPUs;
    the accelerator type and custom resources the user named; no retries (a fresh worker per
    probe is the remote function's own ``max_calls=1``)."""
    options: dict[str, Any] = {"num_cpus": max(1, int(spec.threads or 1)), "num_gpus": 1 if spec.cuda else 0,
                               "max_retries": 0, "scheduling_strategy": "SPREAD"}
    if accelerator_type:
        options["accelerator_type"] = accelerator_type
    if resources:
        options["resources"] = dict(resources)
    return options


class _Remote:
    """One submitted probe: its Ray stream, where it runs, what it has sent so far."""

    def __init__(self, index: int, spec: ProbeSpec) -> None:
        self.index, self.spec = index, spec
        self.stream: Any = None
        self.placed: dict[str, Any] = {}
        self.rows: list[dict] = []
        self.started_at = _utc_now()
        self.done = False
        self.cancelled = False


class ClusterBenchRun(SessionQueue):
    """Probes on a Ray cluster (``connect`` first). See the module docstring."""

    def __init__(self, specs: list[ProbeSpec], *, store: ResultStore | None = None,
                 session: Session | str | None = None, session_name: str = "",
                 address: str = "", accelerator_type: str | None = None,
                 resources: dict[str, float] | None = None, allow_download: bool = False,
                 hardware: dict[str, Any] | None = None) -> None:
        """``hardware``: the caller's machine, kept only as the session's note of where the run
        was started from (each result carries its own node's profile)."""
        super().__init__(store, session, session_name, {
            "name": f"Ray cluster {address}", "source": "cluster", "cluster": address,
            "started_from": (hardware or {}).get("name")})
        self.specs = list(specs)
        self.address = address
        self.accelerator_type = accelerator_type
        self.resources = resources
        self.allow_download = allow_download
        self.results: list[ProbeResult] = []
        self.current = None  # BenchRun's face: no single probe is "the" current one here
        self._remotes: dict[str, _Remote] = {}
        self._events: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._packed: dict[str, Any] = {}
        self._task: Any = None

    # ---------------------------------------------------------------- control
    def cancel(self, reason: str = "cancelled") -> None:
        """Stop every remote probe (their workers are killed) and skip the rest."""
        self._cancelled.set()
        for remote in list(self._remotes.values()):
            self._kill(remote)

    def cancel_probe(self, probe_id: str, reason: str = "cancelled") -> None:
        remote = self._remotes.get(probe_id)
        if remote is not None:
            self._kill(remote)

    def add(self, spec: ProbeSpec) -> None:
        """Queue one more probe; submitted at once when the run is already going."""
        self.specs.append(spec)
        if self._task is not None:
            self._submit(len(self.specs) - 1, spec)

    def _kill(self, remote: _Remote) -> None:
        with self._lock:
            if remote.done:
                return
            remote.cancelled = True
        if remote.stream is not None:
            try:
                require_ray().cancel(remote.stream, force=True)
            except Exception:  # noqa: BLE001 - already finished: nothing to stop
                pass

    # ----------------------------------------------------------------- events
    def events(self) -> Iterator[ProbeEvent]:
        ray = require_ray()
        self._task = ray.remote(max_calls=1)(run_probe)  # max_calls: only here, not in .options()
        for index, spec in enumerate(list(self.specs)):
            self._submit(index, spec)
        ended = 0
        try:
            while ended < len(self.specs):
                try:
                    remote, payload = self._events.get(timeout=POLL_S)
                except queue.Empty:
                    continue
                event = self._to_event(remote, payload)
                if event is None:
                    continue
                if event.type == ev.END:
                    ended += 1
                yield event
        finally:
            if ended < len(self.specs):  # the caller stopped listening: nothing runs on unwatched
                self.cancel("the run was closed")
        self._close_session()

    def _submit(self, index: int, spec: ProbeSpec) -> None:
        spec.session_id = self.session_id
        remote = _Remote(index, spec)
        self._remotes[spec.id] = remote
        if self._cancelled.is_set():
            self._events.put((remote, _cancelled_before()))
            return
        packed = self._pack(spec)
        options = task_options(spec, self.accelerator_type, self.resources)
        remote.stream = self._task.options(**options).remote(spec.to_dict(), packed, self.allow_download)
        threading.Thread(target=self._pull, args=(remote,), name=f"ray-probe-{index}", daemon=True).start()

    def _pack(self, spec: ProbeSpec) -> Any:
        """The object-store reference of the spec's data, packed and put once per run."""
        from selector.core.cluster.data import local_sources, pack

        for source in local_sources([spec]):
            if source not in self._packed:
                self._packed[source] = require_ray().put(pack(source))
            return self._packed[source]
        return None

    def _pull(self, remote: _Remote) -> None:
        """Thread: each value of the task's stream onto the merged queue; its end, however."""
        ray = require_ray()
        try:
            for ref in remote.stream:
                self._events.put((remote, ray.get(ref)))
        except Exception as err:  # noqa: BLE001 - every way a remote task dies becomes its row
            self._events.put((remote, {"type": "lost", "error": err}))
            return
        self._events.put((remote, {"type": "lost", "error": None}))  # the stream ended without a result

    def _to_event(self, remote: _Remote, payload: dict[str, Any]) -> ProbeEvent | None:
        spec, count = remote.spec, len(self.specs)
        if remote.done:
            return None
        kind = payload.get("type")
        if kind == PLACED:
            remote.placed = dict(payload.get("node") or {}, worker_pid=payload.get("worker_pid"))
            remote.placed["hardware"] = payload.get("hardware")
            event = ProbeEvent(ev.PHASE, probe_id=spec.id, model_id=spec.model, kind=spec.kind, phase="placed",
                               message=f"on {remote.placed.get('host')} ({remote.placed.get('kind')})",
                               data={"node": _node_view(remote.placed)})
        elif kind == ev.END:
            result = ProbeResult.from_dict(payload["result"])
            result.session_id = self.session_id
            if remote.placed:
                result.placement = _node_view(remote.placed)
            event = self._finish(remote, result)
        elif kind in ("lost", "cancelled_before"):
            event = self._finish(remote, self._lost(remote, payload))
        else:
            event = ProbeEvent.from_dict(payload, probe_id=spec.id, model_id=spec.model, kind=spec.kind)
            if event.type == ev.ROW:
                remote.rows.append(dict(event.data))
        event.index, event.count = remote.index, count
        return event

    def _finish(self, remote: _Remote, result: ProbeResult) -> ProbeEvent:
        with self._lock:
            remote.done = True
        if self.store is not None:
            self.store.save_result(result)
        self.results.append(result)
        event = ProbeEvent(ev.END, probe_id=result.id, model_id=result.model_id, kind=result.kind,
                           message=result.message, data={"status": result.status})
        event.result = result
        return event

    def _lost(self, remote: _Remote, payload: dict[str, Any]) -> ProbeResult:
        """The row of a probe whose task ended without its own result."""
        spec, where = remote.spec, remote.placed
        node = f" on {where.get('host')} ({str(where.get('node_id', ''))[:8]})" if where else ""
        error = payload.get("error")
        if remote.cancelled or payload.get("type") == "cancelled_before":
            status, message = rec.CANCELLED, "cancelled" + ("" if where else " before it started")
        else:
            status, message = rec.CRASHED, _why_lost(error, node)
        kept = f"; {len(remote.rows)} row(s) measured before are kept" if remote.rows else ""
        placement = {k: v for k, v in where.items() if k != "hardware"} if where else None
        return ProbeResult(
            id=spec.id, kind=spec.kind, model_id=spec.model, device=spec.device, status=status,
            message=message + kept, session_id=self.session_id, task=(spec.entry or {}).get("task", ""),
            started_at=remote.started_at, ended_at=_utc_now(), rows=list(remote.rows),
            spec=spec.to_dict(), hardware=where.get("hardware") if where else None,
            error=f"{type(error).__name__}: {error}" if error is not None and status != rec.CANCELLED else "",
            placement=placement,
        )


@dataclass
class ClusterTarget:
    """Where the app's runs go when not here: a cluster address and, optionally, a node kind."""

    address: str
    node_kind: str | None = None

    def runner(self) -> Callable[..., ClusterBenchRun]:
        """A ``BenchRun``-shaped factory for ``Funnel(runner=...)``; connects on first use."""
        from selector.core.cluster.connect import connect

        def make(specs: list[ProbeSpec], **kwargs: Any) -> ClusterBenchRun:
            address = connect(self.address)
            return ClusterBenchRun(specs, address=address, accelerator_type=self.node_kind, **kwargs)

        return make


def _why_lost(error: BaseException | None, node: str) -> str:
    name = type(error).__name__ if error is not None else ""
    if name in ("NodeDiedError", "ObjectLostError", "OwnerDiedError", "ObjectFetchTimedOutError"):
        return f"the node was lost mid-run{node}"
    if name in ("WorkerCrashedError", "LocalRayletDiedError"):
        return f"the Ray worker running it died{node} (killed from outside, or out of memory)"
    if name == "TaskCancelledError":
        return f"cancelled by Ray{node}"
    if error is None:
        return f"the task ended without a result{node}"
    first = (str(error).strip().splitlines() or [name])[0]
    return f"the task failed{node}: {first}"


def _node_view(placed: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in placed.items() if k != "hardware"}


def _cancelled_before() -> dict[str, Any]:
    return {"type": "cancelled_before"}


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")

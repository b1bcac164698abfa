"""Every GPU of this machine at once: one probe per GPU, each child pinned to its device.

``PlacedBenchRun`` is a ``BenchRun`` that runs probes side by side: at most one probe per GPU
at a time (each child sees only its card, through ``CUDA_VISIBLE_DEVICES`` set to the card's
UUID, so inside it the card is ``cuda:0``), and one CPU probe at a time beside them. Each GPU
child gets a core of its own (``os.sched_setaffinity``) to feed its card; the CPU probe runs
on the cores left, with that many torch threads, so it never competes with a GPU child.

Fit is judged per device, never on pooled memory: a probe asking for ``cuda`` (any card) goes
to an idle card on which it fits (``fit_status`` against that card's free memory), the one
with the most free memory first; a probe that fits on no single card is refused with each
card's figure, even when the cards' memory together would hold it. ``cuda:N`` stays on N.
Results name the device (``placement["gpu"]``: index, name, UUID) and the cores used.
"""

from __future__ import annotations

import os
import queue
import threading
from dataclasses import dataclass
from typing import Any, Iterator

from selector.core.probes import events as ev
from selector.core.probes.bench import BenchRun, _entry, _unrun
from selector.core.probes.events import ProbeEvent
from selector.core.probes.preflight import check_spec, estimate_probe, preflight
from selector.core.probes.spec import ProbeSpec
from selector.core.results import record as rec

POLL_S = 0.05


@dataclass
class GpuSlot:
    """One card as placement sees it: identity and free memory (MiB), read before each start."""

    index: int
    name: str
    uuid: str | None
    free_mib: float | None

    def identity(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name, "uuid": self.uuid}


def gpu_slots() -> list[GpuSlot]:
    """The NVIDIA cards here (NVML), with their free memory now."""
    from selector.core.hardware import detect_nvidia_gpus

    return [GpuSlot(g.index, g.name, g.uuid, g.memory_free_mib) for g in detect_nvidia_gpus()[0]]


def split_cores(gpu_indices: list[int], cores: list[int] | None = None) -> tuple[dict[int, list[int]], list[int]]:
    """``({gpu index: its cores}, cores for CPU probes)``: one core per card while at least one
    is left for the CPU probes (cards beyond that share the first cores), the rest for the CPU."""
    if cores is None:
        cores = (sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                 else list(range(os.cpu_count() or 1)))
    own = max(0, min(len(gpu_indices), len(cores) - 1))
    gpu = {index: [cores[i % own]] if own else list(cores) for i, index in enumerate(gpu_indices)}
    cpu = cores[own:] or list(cores)
    return gpu, cpu


def choose_gpu(need_mib: float | None, slots: list[GpuSlot], busy: set[int]) -> tuple[GpuSlot | None, str]:
    """The idle card this need fits on (most free first), or None with why: ``wait`` (it fits
    on a busy card) or a sentence (it fits on no card by itself)."""
    from selector.core.estimate.fit import NO, fit_status
    from selector.core.units import fmt_mib

    if need_mib is None:  # no estimate: any idle card
        idle = [s for s in slots if s.index not in busy]
        return (max(idle, key=lambda s: s.free_mib or 0.0), "") if idle else (None, "wait")
    fitting = [s for s in slots if s.free_mib is not None and fit_status(need_mib, s.free_mib) != NO]
    if not fitting:
        each = ", ".join(f"{fmt_mib(s.free_mib)} on cuda:{s.index}" for s in slots if s.free_mib is not None)
        return None, (f"needs about {fmt_mib(need_mib)} and fits on no single GPU ({each} free); "
                      "the memory of several GPUs is not pooled")
    idle = [s for s in fitting if s.index not in busy]
    return (max(idle, key=lambda s: s.free_mib or 0.0), "") if idle else (None, "wait")


def child_env(placement: dict[str, Any] | None, env: dict[str, str]) -> dict[str, str]:
    """The child's environment under a placement: its card only, threads to its cores."""
    if placement and placement.get("gpu"):
        gpu = placement["gpu"]
        env["CUDA_VISIBLE_DEVICES"] = str(gpu.get("uuid") or gpu["index"])
    return env


def child_spec(spec: ProbeSpec, placement: dict[str, Any] | None) -> dict[str, Any]:
    """The spec as the child reads it: a pinned card is its only one, ``cuda:0``."""
    data = spec.to_dict()
    if placement and placement.get("gpu") and spec.cuda:
        data["device"] = "cuda:0"
    return data


def pin(pid: int, placement: dict[str, Any] | None) -> None:
    """Keep the child (and what it starts) on its cores; a no-op where the OS cannot."""
    cores = (placement or {}).get("cpus")
    if cores and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(pid, cores)
        except OSError:
            pass


class PlacedBenchRun(BenchRun):
    """``BenchRun`` over every GPU here at once (see the module docstring). ``gpus``: the cards
    (default: NVML now); ``cores``: the cores to share out (default: this process's)."""

    def __init__(self, specs: list[ProbeSpec], *, gpus: list[GpuSlot] | None = None,
                 cores: list[int] | None = None, **kwargs: Any) -> None:
        super().__init__(specs, **kwargs)
        self.gpus = gpus
        self.cores = cores
        self.running: dict[str, Any] = {}
        self._queue: queue.Queue = queue.Queue()

    def cancel(self, reason: str = "cancelled") -> None:
        self._cancelled.set()
        for run in list(self.running.values()):
            run.cancel(reason)

    def cancel_probe(self, probe_id: str, reason: str = "cancelled") -> None:
        self._skipped.add(probe_id)
        run = self.running.get(probe_id)
        if run is not None:
            run.cancel(reason)

    def events(self) -> Iterator[ProbeEvent]:
        if self.hardware is None:
            from selector.core.hardware import detect_hardware

            self.hardware = detect_hardware(include_torch=False).to_dict()
        slots = self.gpus if self.gpus is not None else gpu_slots()
        gpu_cores, cpu_cores = split_cores([s.index for s in slots], self.cores)
        pending, known = list(range(len(self.specs))), len(self.specs)
        busy: set[Any] = set()
        while pending or self.running:
            pending += range(known, len(self.specs))  # added while running
            known = len(self.specs)
            for index in list(pending):
                spec = self.specs[index]
                if self._cancelled.is_set() or spec.id in self._skipped:
                    pending.remove(index)
                    yield self._finish(_unrun(spec, rec.CANCELLED, "cancelled before it started"),
                                       index, len(self.specs))
                    continue
                outcome = self._try_start(index, slots, busy, gpu_cores, cpu_cores)
                if outcome is not None:
                    pending.remove(index)
                    if isinstance(outcome, ProbeEvent):
                        yield outcome
            try:
                index, key, event = self._queue.get(timeout=POLL_S)
            except queue.Empty:
                continue
            event.index, event.count = index, len(self.specs)
            if event.type == ev.END:
                busy.discard(key)
                self.running.pop(event.probe_id, None)
                yield self._finish(event.result, index, len(self.specs), event)
            else:
                yield event
        if self.store is not None and self.session is not None and not self._cancelled.is_set():
            from selector.core.results.store import SESSION_CLOSED

            self.store.set_session_status(self.session.id, SESSION_CLOSED)

    def _try_start(self, index: int, slots: list[GpuSlot], busy: set, gpu_cores: dict[int, list[int]],
                   cpu_cores: list[int]) -> ProbeEvent | bool | None:
        """Start probe ``index`` if a device for it is free: True when started, its ``end``
        event when it ended before starting (bad spec, refused), None when it must wait."""
        from selector.core.probes.runner import ProbeRun

        spec, count = self.specs[index], len(self.specs)
        spec.session_id = self.session_id
        placement: dict[str, Any]
        try:
            check_spec(spec, gpu_count=len(slots))
            entry = _entry(spec)
            if spec.cuda:
                fresh = {s.index: s for s in (gpu_slots() if self.gpus is None else slots)}
                if ":" in spec.device:  # the user named the card
                    wanted = int(spec.device.split(":")[1])
                    if wanted in busy:
                        return None
                    slot: GpuSlot | None = fresh.get(wanted)
                else:
                    need = (float(spec.estimate["total_mib"]) if spec.estimate and spec.estimate.get("total_mib")
                            else _need(spec, entry))
                    slot, why = choose_gpu(need, list(fresh.values()), busy)
                    if slot is None and why == "wait":
                        return None
                    if slot is None:
                        return self._finish(_unrun(spec, rec.REFUSED, f"{spec.model} {why}"), index, count)
                    spec.device = f"cuda:{slot.index}"
                assert slot is not None
                key: Any = slot.index
                placement = {"gpu": slot.identity(), "cpus": gpu_cores.get(slot.index, [])}
                free = slot.free_mib
                verdict = preflight(spec, entry, lambda device: free)
            else:
                if "cpu" in busy:
                    return None
                key = "cpu"
                placement = {"cpus": list(cpu_cores)}
                spec.threads = spec.threads or len(cpu_cores)
                verdict = preflight(spec, entry, self.free_mib)
        except Exception as err:  # noqa: BLE001 - as BenchRun: a spec that cannot start is a failed row
            return self._finish(_unrun(spec, rec.FAILED, f"cannot start: {err}"), index, count)
        if verdict.refused:
            return self._finish(_unrun(spec, rec.REFUSED, verdict.message, verdict), index, count)
        run = ProbeRun(spec, hardware=self.hardware, preflight=verdict.to_dict(), grace_s=self.grace_s,
                       placement=placement)
        busy.add(key)
        self.running[spec.id] = run
        threading.Thread(target=self._pump, args=(index, key, run), name=f"probe-{index}", daemon=True).start()
        return True

    def _pump(self, index: int, key: Any, run: Any) -> None:
        for event in run.events():
            self._queue.put((index, key, event))


def _need(spec: ProbeSpec, entry: Any) -> float | None:
    try:
        return estimate_probe(spec, entry)[0]
    except Exception:  # noqa: BLE001 - no estimate: placed on any idle card
        return None

"""How busy the machine was while a probe measured: the ``contention`` record.

A figure measured while other work ran is not this machine's figure, and a shared VM's speed
changes even with nothing else running inside it. So every probe (and the CPU calibration) is
watched from outside while it runs, and a fixed reference workload is timed inside it:

- CPU time of processes outside the probe's own process tree, in cores (1.0 = one core kept
  busy the whole time), over the probe's wall time (``/proc/stat`` through psutil, minus the
  tree's own CPU time);
- steal time: the share of the machine's CPU time the hypervisor gave to other guests;
- the CPU time the probe's tree got against its wall time x threads (recorded, not judged:
  loading and warm-up run on fewer threads);
- on a GPU (NVML): memory held by other processes, and the GPU's utilisation while the probe
  itself was not using it yet (right after the first reference workload, before the probe
  initialised CUDA), which is other processes' work;
- a single-threaded float32 matmul (:func:`reference_speed`, GMAC/s) timed in the probe
  process before and after the measurement, compared with each other and with the speed
  stored in this machine's CPU calibration.

``noisy`` is True when any figure passes its limit below; ``reasons`` says which, one plain
line each with the numbers. The record is plain JSON (``to_dict`` / ``from_dict``).
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

OTHERS_CORES_MAX = 0.25
"""Others may use at most a quarter of one core on average (in cores) before a figure is noisy."""
STEAL_MAX = 0.10
"""Steal above 10 % of the machine's CPU time makes a figure noisy."""
REFERENCE_TOLERANCE = 0.20
"""The reference workload's speed may differ by at most 20 % between before and after the
measurement, and from the speed in this machine's calibration."""
GPU_IDLE_UTIL_MAX = 10.0
"""The GPU may be at most 10 % busy (NVML utilisation, percent) while the probe is not using it."""
REFERENCE_SIZE = 256
"""The reference matmul is ``REFERENCE_SIZE`` x ``REFERENCE_SIZE`` x ``REFERENCE_SIZE``, float32."""
REFERENCE_ROUNDS = 5
REFERENCE_ROUND_S = 0.03
"""Five rounds of about 30 ms: the median speed, in about 0.15 s."""
GPU_POLL_S = 0.5


# ------------------------------------------------------------------------------ the record
@dataclass
class Contention:
    """How busy the machine was during one measurement window. Units in the field names:
    ``_s`` seconds, ``_cores`` cores (CPU seconds per wall second), ``_share`` a fraction,
    ``_gmacs`` 10^9 multiply-accumulates per second, ``_mib`` MiB, ``_pct`` percent."""

    wall_s: float | None = None
    cores: int | None = None
    """Logical CPUs of the machine."""
    others_cores: float | None = None
    """CPU time of processes outside the probe's tree / wall time."""
    steal_share: float | None = None
    threads: int | None = None
    """Threads the probe ran with (the denominator of ``probe_cpu_share``)."""
    probe_cpu_share: float | None = None
    """CPU time of the probe's tree / (wall time x threads); below 1 when it waited."""
    reference_before_gmacs: float | None = None
    reference_after_gmacs: float | None = None
    reference_calibration_gmacs: float | None = None
    """The reference speed stored in this machine's CPU calibration (None: none cached)."""
    gpu_index: int | None = None
    gpu_others_mib: float | None = None
    """Largest GPU memory held by other processes while it ran."""
    gpu_idle_util_pct: float | None = None
    """GPU utilisation before the probe used the GPU (after its first reference workload)."""
    gpu_util_pct: float | None = None
    """Mean GPU utilisation while it ran, the probe's own work included."""
    noisy: bool = False
    reasons: list[str] = field(default_factory=list)
    limits: dict[str, float] = field(default_factory=dict)
    """The limits it was judged by, for the record."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "Contention | None":
        if not isinstance(data, dict):
            return None
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def judge(rec: Contention) -> Contention:
    """Set ``noisy`` and ``reasons`` from the figures (each limit documented above)."""
    reasons = []
    if rec.others_cores is not None and rec.others_cores > OTHERS_CORES_MAX:
        of = f" of {rec.cores}" if rec.cores else ""
        reasons.append(f"other processes used {rec.others_cores:.2f} cores{of} on average while it "
                       f"measured (limit {OTHERS_CORES_MAX:.2f})")
    if rec.steal_share is not None and rec.steal_share > STEAL_MAX:
        reasons.append(f"the hypervisor took {rec.steal_share:.0%} of the CPU time for other "
                       f"machines (steal; limit {STEAL_MAX:.0%})")
    before, after, cal = rec.reference_before_gmacs, rec.reference_after_gmacs, rec.reference_calibration_gmacs
    if before and after and abs(after / before - 1) > REFERENCE_TOLERANCE:
        reasons.append(f"the reference workload ran at {before:.2f} GMAC/s before and {after:.2f} "
                       f"after ({after / before - 1:+.0%}; tolerance ±{REFERENCE_TOLERANCE:.0%}): "
                       "the machine's speed changed while it measured")
    if cal:
        off = [(w, v) for w, v in (("before", before), ("after", after))
               if v and abs(v / cal - 1) > REFERENCE_TOLERANCE]
        if off:
            said = " and ".join(f"{v:.2f} {w}" for w, v in off)
            worst = max((v / cal - 1 for _, v in off), key=abs)
            reasons.append(f"the reference workload ran at {said} against {cal:.2f} GMAC/s when this "
                           f"CPU was calibrated ({worst:+.0%}; tolerance ±{REFERENCE_TOLERANCE:.0%})")
    if rec.gpu_idle_util_pct is not None and rec.gpu_idle_util_pct > GPU_IDLE_UTIL_MAX:
        others = f"; other processes held {rec.gpu_others_mib:.0f} MiB" if rec.gpu_others_mib else ""
        reasons.append(f"the GPU was {rec.gpu_idle_util_pct:.0f}% busy while the probe was not using "
                       f"it (limit {GPU_IDLE_UTIL_MAX:.0f}%){others}")
    rec.reasons, rec.noisy = reasons, bool(reasons)
    rec.limits = {"others_cores": OTHERS_CORES_MAX, "steal_share": STEAL_MAX,
                  "reference_tolerance": REFERENCE_TOLERANCE, "gpu_idle_util_pct": GPU_IDLE_UTIL_MAX}
    return rec


def reasons_of(record: dict[str, Any] | None) -> list[str]:
    """The reasons of a stored record when it is noisy, else ``[]`` (for tables and sheets)."""
    if not isinstance(record, dict) or not record.get("noisy"):
        return []
    return [str(r) for r in record.get("reasons") or []] or ["the machine was busy"]


# --------------------------------------------------------------------- the reference work
def reference_speed(rounds: int = REFERENCE_ROUNDS, round_s: float = REFERENCE_ROUND_S) -> float:
    """GMAC/s of a single-threaded float32 matmul of fixed size (median of ``rounds``).

    Single-threaded so the figure does not depend on the probe's thread setting; torch's
    thread count is restored afterwards. Costs about ``rounds x round_s`` seconds.
    """
    import torch

    n = REFERENCE_SIZE
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        gen = torch.Generator().manual_seed(0)
        a = torch.rand(n, n, generator=gen)
        b = torch.rand(n, n, generator=gen)
        out = torch.empty(n, n)
        torch.mm(a, b, out=out)
        start = time.perf_counter()
        torch.mm(a, b, out=out)
        once = max(time.perf_counter() - start, 1e-6)
        inner = max(1, int(round_s / once))
        speeds = []
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(inner):
                torch.mm(a, b, out=out)
            speeds.append(inner * n ** 3 / (time.perf_counter() - start) / 1e9)
    finally:
        torch.set_num_threads(threads)
    return round(statistics.median(speeds), 4)


# ---------------------------------------------------------------------------- sampling
@dataclass
class Snapshot:
    """Counters at one instant: seconds since boot-ish, all cumulative."""

    t: float
    busy_s: float
    """CPU seconds every process of the machine used (user, nice, system, irq, softirq)."""
    steal_s: float
    total_s: float
    tree_s: float
    """CPU seconds of the watched process tree (dead members keep their last reading)."""


def _machine() -> tuple[float, float, float]:
    import psutil

    t = psutil.cpu_times()
    fields = t._asdict()
    guest = fields.get("guest", 0.0) + fields.get("guest_nice", 0.0)  # already inside user/nice
    total = sum(fields.values()) - guest
    idle = fields.get("idle", 0.0) + fields.get("iowait", 0.0)
    steal = fields.get("steal", 0.0)
    return total - idle - steal, steal, total


class TreeCpu:
    """CPU seconds of one process and its descendants. Members are re-listed every
    ``refresh_s`` (a scan of all processes); one that ends keeps its last reading, so at most
    the work of its last poll interval is lost (and counted as others')."""

    def __init__(self, pid: int, refresh_s: float = 2.0, *, descendants: bool = True) -> None:
        import psutil

        self.pid, self.refresh_s, self.descendants = pid, refresh_s, descendants
        self._root = psutil.Process(pid)
        self._members = [self._root]
        self._next_refresh = 0.0
        self._last: dict[tuple[int, float], float] = {}

    @property
    def members(self) -> list:
        return self._members

    def pids(self) -> set[int]:
        return {p.pid for p in self._members}

    def cpu_s(self, now: float | None = None) -> float:
        now = time.perf_counter() if now is None else now
        if self.descendants and now >= self._next_refresh:
            self._next_refresh = now + self.refresh_s
            try:
                self._members = [self._root] + self._root.children(recursive=True)
            except Exception:  # noqa: BLE001 - the root ended: keep the last readings
                pass
        for proc in self._members:
            try:
                times = proc.cpu_times()
                self._last[(proc.pid, proc.create_time())] = times.user + times.system
            except Exception:  # noqa: BLE001 - ended between the listing and the read
                pass
        return sum(self._last.values())


class GpuWatch:
    """Other processes' memory and the utilisation of one GPU through NVML; silent (all None)
    when NVML is missing or refuses."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.others_mib: float | None = None
        self.util: list[float] = []
        self.idle_util: list[float] = []
        self._handle = self._nvml = None
        self._next = 0.0
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml, self._handle = pynvml, pynvml.nvmlDeviceGetHandleByIndex(index)
        except Exception:  # noqa: BLE001 - no driver, no library, no permission
            self._nvml = None

    def poll(self, own_pids: set[int], now: float, idle: bool = False, force: bool = False) -> None:
        """One reading (at most every ``GPU_POLL_S`` unless ``force``); ``idle``: the probe is
        not using the GPU now, so its utilisation is other processes' work."""
        if self._nvml is None or (now < self._next and not force):
            return
        self._next = now + GPU_POLL_S
        nv = self._nvml
        try:
            util = float(nv.nvmlDeviceGetUtilizationRates(self._handle).gpu)
            (self.idle_util if idle else self.util).append(util)
        except Exception:  # noqa: BLE001
            pass
        mib = 0.0
        for getter in ("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetGraphicsRunningProcesses"):
            try:
                procs = getattr(nv, getter)(self._handle)
            except Exception:  # noqa: BLE001
                continue
            mib += sum((p.usedGpuMemory or 0) for p in procs if p.pid not in own_pids) / 2**20
        self.others_mib = max(self.others_mib or 0.0, round(mib, 1))

    def close(self) -> None:
        if self._nvml is not None:
            try:
                self._nvml.nvmlShutdown()
            except Exception:  # noqa: BLE001
                pass
            self._nvml = None


class Sampler:
    """Watches one process tree (a probe child, or this process for the calibration) and the
    machine; ``snapshot()`` at a window's ends, ``poll()`` in between (cheap: a few
    ``/proc`` reads), ``record(a, b, ...)`` for the window."""

    def __init__(self, pid: int | None = None, device: str = "cpu", *, descendants: bool = True) -> None:
        self.tree = TreeCpu(os.getpid() if pid is None else pid, descendants=descendants)
        self.cores = os.cpu_count() or 1
        self.gpu: GpuWatch | None = None
        if device.startswith("cuda"):
            index = int(device.split(":", 1)[1]) if ":" in device else 0
            self.gpu = GpuWatch(index)

    def poll(self, now: float | None = None, gpu_idle: bool = False) -> None:
        now = time.perf_counter() if now is None else now
        self.tree.cpu_s(now)
        if self.gpu is not None:
            self.gpu.poll(self.tree.pids(), now, idle=gpu_idle, force=gpu_idle)

    def snapshot(self) -> Snapshot:
        now = time.perf_counter()
        tree = self.tree.cpu_s(now)
        busy, steal, total = _machine()
        return Snapshot(now, busy, steal, total, tree)

    def record(self, a: Snapshot, b: Snapshot, *, threads: int | None = None,
               before: float | None = None, after: float | None = None,
               calibration: float | None = None) -> Contention:
        """The judged record of the window from ``a`` to ``b``."""
        wall = b.t - a.t
        rec = Contention(wall_s=round(wall, 3), cores=self.cores, threads=threads,
                         reference_before_gmacs=before, reference_after_gmacs=after,
                         reference_calibration_gmacs=calibration)
        if wall > 0:
            tree = max(0.0, b.tree_s - a.tree_s)
            rec.others_cores = round(max(0.0, (b.busy_s - a.busy_s) - tree) / wall, 3)
            total = b.total_s - a.total_s
            rec.steal_share = round((b.steal_s - a.steal_s) / total, 4) if total > 0 else None
            if threads:
                rec.probe_cpu_share = round(tree / (wall * threads), 3)
        if self.gpu is not None:
            gpu = self.gpu
            rec.gpu_index, rec.gpu_others_mib = gpu.index, gpu.others_mib
            rec.gpu_util_pct = round(statistics.fmean(gpu.util), 1) if gpu.util else None
            rec.gpu_idle_util_pct = round(max(gpu.idle_util), 1) if gpu.idle_util else None
        return judge(rec)

    def close(self) -> None:
        if self.gpu is not None:
            self.gpu.close()


def calibration_reference() -> float | None:
    """The reference speed stored in this machine's cached CPU calibration, if any (GMAC/s)."""
    try:
        from selector.core.estimate.calibration import load_calibration

        cal = load_calibration()
    except Exception:  # noqa: BLE001 - no cache, unreadable cache: nothing to compare with
        return None
    return getattr(cal, "reference_gmacs", None) if cal is not None else None


def machine_busy(seconds: float = 0.5) -> str | None:
    """One line saying the machine is busy (before a run starts), or None when it is quiet.

    Watches the machine for ``seconds`` (this process excluded, not its children: a rebuild or
    a calibration it started disturbs a probe as much as anyone's work) against the same limits
    as a probe's record. Blocks for ``seconds``: call it off the GUI thread.
    """
    try:
        sampler = Sampler(descendants=False)
        a = sampler.snapshot()
        time.sleep(max(0.05, seconds))
        rec = sampler.record(a, sampler.snapshot())
    except Exception:  # noqa: BLE001 - no psutil reading: say nothing rather than guess
        return None
    if not rec.noisy:
        return None
    return ("the machine is busy: " + "; ".join(r.replace(" while it measured", "") for r in rec.reasons)
            + ". Measurements taken now will be marked noisy.")


def probe_reasons(result: Any) -> list[str]:
    """Why a probe's figures may be off: the reasons of its noisy rows (each row's own
    measuring window), or of the whole probe when no row carries a record; ``[]`` when quiet."""
    rows = [r for r in (getattr(result, "rows", None) or []) if isinstance(r, dict)]
    recorded = [r["contention"] for r in rows if isinstance(r.get("contention"), dict)]
    records = recorded or [getattr(result, "contention", None)]
    return list(dict.fromkeys(reason for rec in records for reason in reasons_of(rec)))

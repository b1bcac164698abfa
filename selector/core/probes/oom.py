"""Was a probe child killed by the kernel's out-of-memory killer? Only evidence says yes.

A SIGKILL that selector did not send comes from the OOM killer, or from someone else: a
``kill -9``, a job scheduler, a watchdog. Calling every such kill "out of memory" once labelled
a probe ``out_of_memory`` with 19 GiB free, and the model then looked too big. The runner keeps
an :class:`OomWatch` per probe; it says "out of memory" when

- the kernel's count of OOM kills went up while the probe ran (``oom_kill`` in
  ``/proc/vmstat``, Linux 4.13 and later, and the same count of the probe's memory cgroup,
  which is where a container's limit strikes), or
- the memory available was nearly gone at the last sample before the child died (under
  :data:`LOW_AVAILABLE_FRACTION` of the total, or :data:`LOW_AVAILABLE_MIB`), or the child was
  growing fast enough to use up what was left before the next sample.

Memory figures in MiB.
"""

from __future__ import annotations

from pathlib import Path

LOW_AVAILABLE_FRACTION = 0.05
"""Available memory under this share of the total counts as exhausted."""
LOW_AVAILABLE_MIB = 256.0
"""... as does less than this much, whatever the total."""


def oom_kill_count() -> int | None:
    """OOM kills the kernel has made since boot, system-wide plus this process's memory cgroup
    (v2 ``memory.events`` or v1 ``memory.oom_control``); None where neither can be read."""
    counts = [_field(Path("/proc/vmstat"), "oom_kill")]
    for path in _cgroup_files():
        counts.append(_field(path, "oom_kill"))
    known = [c for c in counts if c is not None]
    return sum(known) if known else None


def _field(path: Path, name: str) -> int | None:
    try:
        for line in path.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == name:
                return int(value)
    except (OSError, ValueError):
        return None
    return None


def _cgroup_files() -> list[Path]:
    """The memory cgroup counters of this process (the probe child shares its cgroup)."""
    files: list[Path] = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return files
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, where = parts
        where = where.lstrip("/")
        if controllers == "":
            files.append(Path("/sys/fs/cgroup", where, "memory.events"))
        elif "memory" in controllers.split(","):
            files.append(Path("/sys/fs/cgroup/memory", where, "memory.oom_control"))
    return [f for f in files if f.is_file()]


class OomWatch:
    """What the runner saw of memory while one probe ran; :meth:`verdict` when it was killed."""

    def __init__(self) -> None:
        self.kills_before = oom_kill_count()
        self.total_mib: float | None = None
        self.available_mib: float | None = None
        """Memory available on the machine at the last sample."""
        self.child_rss_mib: float | None = None
        """The probe's resident memory (with its children) at the last sample."""
        self.growth_mib = 0.0
        """How much that grew since the sample before."""

    def sample(self, child_rss_mib: float) -> None:
        """Note the probe's memory and what the machine has left (under 0.1 ms a call)."""
        try:
            import psutil

            memory = psutil.virtual_memory()
        except Exception:  # noqa: BLE001 - no psutil, or no /proc: no evidence either way
            return
        self.total_mib = memory.total / 2**20
        self.available_mib = memory.available / 2**20
        if self.child_rss_mib is not None:
            self.growth_mib = child_rss_mib - self.child_rss_mib
        self.child_rss_mib = child_rss_mib

    def verdict(self) -> tuple[bool, str]:
        """``(killed by the OOM killer, why)``: the evidence in a few words either way."""
        kills_after = oom_kill_count()
        if self.kills_before is not None and kills_after is not None and kills_after > self.kills_before:
            return True, "the kernel counted an out-of-memory kill while it ran"
        if self.available_mib is not None and self.total_mib:
            low = max(LOW_AVAILABLE_MIB, LOW_AVAILABLE_FRACTION * self.total_mib)
            free = f"{self.available_mib / 1024:.1f} GiB was free"
            if self.available_mib < low:
                return True, f"only {self.available_mib:.0f} MiB was free just before"
            if self.growth_mib >= self.available_mib:
                return True, (f"it grew by {self.growth_mib:.0f} MiB between two samples, "
                              f"with {self.available_mib:.0f} MiB free")
            return False, free
        return False, "no sign of it"

"""What a probe leaves behind: :class:`ProbeResult` (its typed rows live in ``rows.py``).

A result is one probe of one model on one device (a latency sweep, a quick fine-tune, ...).
It says how the probe ended (``status``), what it measured (``rows`` and ``summary``), with
what (``spec``, ``settings``, ``hardware``, ``software``) and what was predicted beforehand
(``estimate``), so a figure can be compared with someone else's row, as timm's benchmark
CSVs allow. Everything is plain JSON: ``to_dict`` / ``from_dict`` round-trip exactly.

Units: times in seconds (``*_s``) or milliseconds (``*_ms``), memory in MiB (``*_mib``),
accuracies as fractions in [0, 1], throughput in samples per second.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from selector.core.results.rows import FinetuneReport, GenerationRow, LatencyRow, _known

__all__ = [
    "CANCELLED", "CRASHED", "FAILED", "FINISHED", "OUT_OF_MEMORY", "REFUSED", "STATUSES",
    "STATUS_WORDS", "TIMED_OUT", "FinetuneReport", "GenerationRow", "LatencyRow", "ProbeResult",
    "ProbeStatus",
]


class ProbeStatus(str, Enum):
    """How a probe ended, or where it stands before that: the one vocabulary of the results,
    the funnel, the CLI and the GUI's probe queue. Values are the stored JSON strings."""

    QUEUED = "queued"
    """Planned, not started (never stored as an end)."""
    RUNNING = "running"
    """Started, not ended (never stored as an end)."""
    FINISHED = "finished"
    """The probe ran to its end (possibly cut short by its soft time budget; see ``summary``)."""
    CANCELLED = "cancelled"
    """The user cancelled it; rows measured before that are kept."""
    TIMED_OUT = "timed_out"
    """It ran past its hard timeout and was killed."""
    OUT_OF_MEMORY = "out_of_memory"
    """CUDA out of memory, ``MemoryError``, or killed by SIGKILL that selector did not send
    (the kernel's OOM killer, as far as anyone can tell from outside)."""
    CRASHED = "crashed"
    """The child died from a signal (segfault, abort) or exited without reporting a result."""
    FAILED = "failed"
    """The probe raised an error (or measured nothing usable, e.g. a fine-tune that made no
    step); ``message`` says why, ``error`` keeps the traceback."""
    REFUSED = "refused"
    """Not started: the pre-flight check found it would not fit in free memory (not forced)."""

    def __str__(self) -> str:
        return self.value

    @property
    def words(self) -> str:
        """What the CLI and GUI show: ``timed out``, ``refused (does not fit)``."""
        return _WORDS[self]

    @property
    def ended(self) -> bool:
        """Every status but queued and running."""
        return self not in (ProbeStatus.QUEUED, ProbeStatus.RUNNING)

    @property
    def bad_end(self) -> bool:
        """Ended without a usable measurement through no choice of the user's (out of memory,
        crashed, failed, timed out, refused): the funnel passes such a model over."""
        return self in _BAD_ENDS

    @classmethod
    def of(cls, value: "str | ProbeStatus") -> "ProbeStatus":
        """The status for a stored string; ``ValueError`` names the known ones."""
        try:
            return cls(value)
        except ValueError:
            known = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown probe status {value!r} (known: {known})") from None


_WORDS = {
    ProbeStatus.QUEUED: "queued", ProbeStatus.RUNNING: "running",
    ProbeStatus.FINISHED: "finished", ProbeStatus.CANCELLED: "cancelled",
    ProbeStatus.TIMED_OUT: "timed out", ProbeStatus.OUT_OF_MEMORY: "out of memory",
    ProbeStatus.CRASHED: "crashed", ProbeStatus.FAILED: "failed",
    ProbeStatus.REFUSED: "refused (does not fit)",
}
_BAD_ENDS = frozenset({ProbeStatus.OUT_OF_MEMORY, ProbeStatus.CRASHED, ProbeStatus.FAILED,
                       ProbeStatus.TIMED_OUT, ProbeStatus.REFUSED})

# The ends by their old names (the runner, the bench and older callers use them).
FINISHED = ProbeStatus.FINISHED
CANCELLED = ProbeStatus.CANCELLED
TIMED_OUT = ProbeStatus.TIMED_OUT
OUT_OF_MEMORY = ProbeStatus.OUT_OF_MEMORY
CRASHED = ProbeStatus.CRASHED
FAILED = ProbeStatus.FAILED
REFUSED = ProbeStatus.REFUSED
STATUSES = tuple(s for s in ProbeStatus if s.ended)
"""Every way a probe can end."""
STATUS_WORDS = {s.value: s.words for s in ProbeStatus}
"""Stored status string -> the words shown."""


@dataclass
class ProbeResult:
    """How one probe ended and what it measured. Stored in the results database."""

    id: str
    """Unique id of the probe (hex uuid); also the id of its ``ProbeSpec``."""
    kind: str
    """Probe kind: ``latency``, ``finetune`` (and later ``transfer``)."""
    model_id: str
    """Catalog id of the model probed."""
    device: str
    """``cpu`` or ``cuda:N``."""
    status: str
    """One of ``STATUSES`` (a :class:`ProbeStatus`; stored as its string)."""
    message: str = ""
    """One plain sentence on how it ended (what the GUI and CLI show)."""
    session_id: str | None = None
    """The session (a run of several probes) it belongs to."""
    task: str = ""
    """``image-classification`` or ``text-classification``."""
    started_at: str = ""
    """ISO 8601, UTC."""
    ended_at: str = ""
    duration_s: float | None = None
    """Wall time from spawning the child to its end, as the parent saw it."""
    weights: str = ""
    """``pretrained`` or ``random`` (architecture only); empty if it ended before loading."""
    weights_note: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)
    """Measured rows. Latency: ``LatencyRow`` dicts; fine-tune: one ``FinetuneReport`` dict."""
    summary: dict[str, Any] = field(default_factory=dict)
    """Headline figures of the kind (e.g. best samples/s, accuracy after), for lists."""
    settings: dict[str, Any] = field(default_factory=dict)
    """Settings the child actually used (after defaults and adjustments)."""
    loss_curve: list[dict[str, Any]] = field(default_factory=list)
    """Fine-tune: one point per optimizer step, ``{step, loss, t_s, batch_size}``."""
    events: list[dict[str, Any]] = field(default_factory=list)
    """Every event the probe emitted (``ProbeEvent.to_dict()``), in order."""
    estimate: dict[str, Any] | None = None
    """The prediction made before the probe (memory in MiB and, when known, latency)."""
    preflight: dict[str, Any] | None = None
    """The pre-flight check: ``{estimate_mib, free_mib, fits, forced, message}``."""
    spec: dict[str, Any] = field(default_factory=dict)
    """The ``ProbeSpec`` as asked."""
    hardware: dict[str, Any] | None = None
    """``HardwareProfile.to_dict()`` of the machine it ran on."""
    software: dict[str, str] = field(default_factory=dict)
    """Versions: python, torch, timm, transformers, selector, CUDA, cuDNN, OS."""
    exit_code: int | None = None
    """The child's exit status; negative: killed by that signal number (POSIX)."""
    error: str = ""
    """Error text, with the traceback when the probe raised."""
    stderr_tail: str = ""
    """The last lines the child wrote to stderr (warnings, crash output)."""
    overhead: dict[str, float] = field(default_factory=dict)
    """Cost of isolation, seconds: ``spawn_s`` (start until the child is running Python),
    ``ready_s`` (until the probe code ran, imports included), ``load_s`` (model build)."""
    child_peak_rss_mib: float | None = None
    """Peak resident memory of the child as the parent saw it (polled every ~50 ms);
    kept also when the child was killed."""
    contention: dict[str, Any] | None = None
    """How busy the machine was from the probe's start to its end (``Contention.to_dict()``);
    each row carries its own window's record too."""
    placement: dict[str, Any] | None = None
    """Where it ran when not simply here: ``node``, ``node_id``, ``address``, ``kind`` (Ray
    cluster) and/or ``gpu`` (``index``, ``name``, ``uuid``) and ``cpus`` (multi-GPU placement)."""

    # ------------------------------------------------------------------ views
    @property
    def ok(self) -> bool:
        return self.status == FINISHED

    @property
    def probe_status(self) -> ProbeStatus | None:
        """``status`` as the enum; None for a string no version of selector wrote."""
        try:
            return ProbeStatus(self.status)
        except ValueError:
            return None

    @property
    def bad_end(self) -> bool:
        status = self.probe_status
        return status is not None and status.bad_end

    @property
    def status_words(self) -> str:
        return STATUS_WORDS.get(str(self.status), str(self.status))

    def latency_rows(self) -> list[LatencyRow]:
        """The latency rows of an encoder or vision model (a decoder's are ``generation_rows``)."""
        if self.kind != "latency":
            return []
        return [LatencyRow.from_dict(r) for r in self.rows if not GenerationRow.is_one(r)]

    def generation_rows(self) -> list[GenerationRow]:
        if self.kind != "latency":
            return []
        return [GenerationRow.from_dict(r) for r in self.rows if GenerationRow.is_one(r)]

    def finetune_report(self) -> FinetuneReport | None:
        if self.kind != "finetune" or not self.rows:
            return None
        return FinetuneReport.from_dict(self.rows[0])

    # ---------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ProbeResult":
        if not isinstance(data, dict) or "id" not in data or "status" not in data:
            raise ValueError("not a probe result: expected a JSON object with 'id' and 'status'")
        return cls(**_known(cls, data))

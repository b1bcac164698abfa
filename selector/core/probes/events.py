"""Progress events: what a probe reports while it runs, from the child to the CLI and GUI.

The child writes one JSON object per line on its event stream; the parent parses each into
a :class:`ProbeEvent` and adds its own (``started``, ``end``). Consumers switch on ``type``:

``started``   the child process is running (``data["pid"]``).
``phase``     a new phase began: ``load``, ``warmup``, ``measure``, ``data``, ``eval``,
              ``train``, ... (``phase``, ``message``).
``progress``  a step within the phase (``step``, ``total``, ``fraction`` of the whole probe,
              ``eta_s``, ``loss`` for training, partial figures in ``data``).
``row``       one finished measurement row (``data`` is the row dict); kept even if the
              probe later fails.
``log``       a message worth showing (``message``, ``data["level"]``).
``result``    the child's final report (``data``); the parent folds it into the result.
``error``     the child caught an error (``data``: ``status``, ``message``, ``traceback``).
``end``       the probe is over, however it ended; ``result`` holds the ``ProbeResult``.
              Always the last event of a probe.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

STARTED = "started"
PHASE = "phase"
PROGRESS = "progress"
ROW = "row"
LOG = "log"
RESULT = "result"
ERROR = "error"
END = "end"
EVENT_TYPES = (STARTED, PHASE, PROGRESS, ROW, LOG, RESULT, ERROR, END)


@dataclass
class ProbeEvent:
    """One event of one probe. Only the fields its ``type`` uses are set."""

    type: str
    probe_id: str = ""
    model_id: str = ""
    kind: str = ""
    t: float = 0.0
    """Seconds since the child started (child events) or since the probe began (parent)."""
    phase: str = ""
    step: int | None = None
    total: int | None = None
    fraction: float | None = None
    """Progress of the whole probe in [0, 1], when the child can tell."""
    eta_s: float | None = None
    """Seconds left, as the child estimates them (it knows its budget)."""
    loss: float | None = None
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    result: Any = None
    """``end`` only: the ``ProbeResult``."""
    index: int | None = None
    """Position of this probe in its ``BenchRun`` (0-based), and the run's length."""
    count: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; ``end`` events carry only the result's id and status."""
        out = {k: v for k, v in self.__dict__.items() if k != "result" and v not in (None, "", {})}
        out["type"] = self.type
        if self.result is not None:
            out["result_id"] = self.result.id
            out["status"] = self.result.status
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], **extra: Any) -> "ProbeEvent":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "result"}
        known.update(extra)
        return cls(**known)


def encode(event: dict[str, Any]) -> bytes:
    """One JSON line; non-finite floats become null so every reader can parse it."""
    return (json.dumps(event, default=_fallback, allow_nan=False) + "\n").encode("utf-8")


def _fallback(value: Any) -> Any:
    item = getattr(value, "item", None)  # numpy and torch scalars
    if callable(item):
        return item()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def sanitize(value: Any) -> Any:
    """Replace NaN/inf by None, recursively (json.dumps with allow_nan=False rejects them)."""
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, dict):
        return {k: sanitize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [sanitize(v) for v in value]
    return value


def decode(line: bytes | str) -> dict[str, Any] | None:
    """A JSON object from one line, or None for anything else (noise never breaks a probe)."""
    try:
        value = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) and isinstance(value.get("type"), str) else None

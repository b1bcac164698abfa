"""Probe results and the SQLite store that keeps them (sessions, rows, loss curves, events)."""

from selector.core.results.record import (
    CANCELLED,
    CRASHED,
    FAILED,
    FINISHED,
    OUT_OF_MEMORY,
    REFUSED,
    STATUSES,
    TIMED_OUT,
    FinetuneReport,
    LatencyRow,
    ProbeResult,
)
from selector.core.results.store import SCHEMA_VERSION, ResultStore, Session

__all__ = [
    "CANCELLED", "CRASHED", "FAILED", "FINISHED", "OUT_OF_MEMORY", "REFUSED", "STATUSES",
    "TIMED_OUT", "FinetuneReport", "LatencyRow", "ProbeResult", "ResultStore", "Session",
    "SCHEMA_VERSION",
]

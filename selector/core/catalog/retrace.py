"""Re-trace one catalog entry on demand, instead of rebuilding the whole catalog.

The shipped snapshot keeps its activation profiles when timm, transformers or torch are
updated; a profile traced by an older tracer (``PROFILE_VERSION``) or a measurement that
failed is traced again only for the entries a user looks at or probes: the same
meta-device measurement ``selector catalog build`` makes (``buildpool.measure_task``), a
second or two per entry, no weights, no network.

Each result is cached in ``cache_dir()/retrace`` under a key made of the entry id, its input
size, the installed timm/transformers/torch versions and the tracer version, so an entry is
traced once per library set; failures are cached too, so a model the tracer cannot follow is
not retried at every click. The GUI traces in ``Retracer``'s worker process (killable, the
GUI thread keeps the GIL); the CLI traces in its own process.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from pathlib import Path
from typing import Any

from selector.core.catalog.entry import CatalogEntry
from selector.core.estimate.trace import PROFILE_VERSION
from selector.core.paths import cache_dir

RETRACE_TIMEOUT_S = 180.0
"""Seconds one entry may take in the worker (the largest models trace in about a minute)."""
_FAILED_NOTE = "meta-device measurement failed: "


def needs_retrace(entry: CatalogEntry) -> bool:
    """True for a timm or transformers entry whose profile is missing, older than this tracer,
    or whose measurement failed; local models were measured when added."""
    if entry.source not in ("timm", "transformers") or (entry.is_text and not entry.config):
        return False
    if entry.is_decoder:
        return False  # counted on meta when shipped (catalog.decoders); nothing to trace
    profile = entry.activation
    if not profile or entry.params is None or _FAILED_NOTE in entry.notes:
        return True
    return int(profile.get("version", 1)) < PROFILE_VERSION


def cache_key(entry: CatalogEntry, versions: dict[str, str] | None = None) -> dict[str, Any]:
    from selector.core.catalog.catalog import installed_versions

    versions = versions if versions is not None else installed_versions()
    return {"id": entry.id, "input_size": list(entry.input_size), "tracer": PROFILE_VERSION,
            **{name: versions.get(name, "") for name in ("timm", "transformers", "torch")}}


def cache_path(entry: CatalogEntry, versions: dict[str, str] | None = None) -> Path:
    key = cache_key(entry, versions)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", entry.id)[:80]
    return cache_dir() / "retrace" / f"{safe}.{digest}.json"


def cached_result(entry: CatalogEntry) -> dict[str, Any] | None:
    """The cached measurement for this entry and these libraries, or None."""
    path = cache_path(entry)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != cache_key(entry):
        return None
    result = data.get("result")
    return result if isinstance(result, dict) else None


def _store(entry: CatalogEntry, result: dict[str, Any]) -> None:
    from selector.core.fileio import atomic_write_text

    path = cache_path(entry)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps({"key": cache_key(entry), "result": result}))
    except OSError:
        pass  # a cache that cannot be written costs a second trace, nothing more


def apply_result(entry: CatalogEntry, result: dict[str, Any]) -> bool:
    """Merge a measurement into ``entry`` in place; True when the entry now has a current profile.

    A failed re-trace leaves the entry as it was (the older profile still gives an estimate).
    """
    activation = result.get("activation")
    if result.get("error") or not activation:
        return False
    entry.activation = activation
    if result.get("params") is not None:
        entry.params = int(result["params"])
    if result.get("macs") is not None:
        entry.macs = float(result["macs"])
    if _FAILED_NOTE in entry.notes:
        entry.notes = "; ".join(n for n in entry.notes.split("; ") if not n.startswith(_FAILED_NOTE))
    return True


def _task(entry: CatalogEntry) -> Any:
    from selector.core.catalog.buildpool import Task

    kind = "timm" if entry.source == "timm" else "text"
    return Task(key=f"{kind}:{entry.id}", kind=kind, name=entry.id, entry=entry.to_dict())


def retrace_here(entry: CatalogEntry) -> bool:
    """Re-trace ``entry`` in this process (the CLI) when it needs it; True when it changed."""
    if not needs_retrace(entry):
        return False
    result = cached_result(entry)
    if result is None:
        from selector.core.catalog.buildpool import measure_task

        result = measure_task(_task(entry))
        _store(entry, result)
    return apply_result(entry, result)


class Retracer:
    """Re-traces entries one at a time in one worker process, started on first use.

    ``measure`` may be called from any thread (calls queue on a lock) and blocks while the
    worker traces; ``close`` kills the worker at once, even mid-trace (the waiting call then
    returns a failure, which is not cached).
    """

    def __init__(self, timeout: float = RETRACE_TIMEOUT_S) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()
        self._worker: Any = None
        self._closed = False

    def measure(self, entry: CatalogEntry) -> dict[str, Any] | None:
        """The measurement for ``entry`` (cached, or traced now); None when none is needed or
        the retracer was closed. Does not modify ``entry``: merge with ``apply_result``."""
        if not needs_retrace(entry):
            return None
        result = cached_result(entry)
        if result is not None:
            return result
        from selector.core.catalog.buildpool import Worker

        with self._lock:
            if self._closed:
                return None
            if self._worker is None or not self._worker.alive:
                self._worker = Worker()
                if self._closed:  # closed while it started
                    self._worker.stop(kill=True)
                    return None
            result = self._worker.measure(_task(entry), self.timeout)
        if self._closed:
            return None
        _store(entry, result)
        return result

    def close(self) -> None:
        """Stop the worker process now; later calls do nothing."""
        self._closed = True
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop(kill=True)

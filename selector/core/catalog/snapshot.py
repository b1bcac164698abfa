"""The catalog snapshot: every entry, measured once, in one gzipped JSON file.

Layout: ``{"format": 1, "built_at": ISO time, "versions": {timm, transformers, torch},
"counts": {...}, "failures": {id: why}, "entries": [...]}``. Entries are written lean: fields
at their default value are left out, and timm entries carry no config dict, so ~1,850
entries load in well under a second.

``build_snapshot`` measures models in worker processes (``buildpool``), one distinct network
per task, so a model that crashes or hangs is recorded and skipped.
"""

from __future__ import annotations

import dataclasses
import datetime
import gzip
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from selector.core.catalog.entry import CatalogEntry

FORMAT = 1
_NOT_SHIPPED = {"weights_cached", "local_path"}
"""Computed on each machine at load time."""
_DEFAULTS = {
    f.name: (f.default if f.default is not dataclasses.MISSING else f.default_factory())  # type: ignore[operator]
    for f in dataclasses.fields(CatalogEntry)
    if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
}


def lean_dict(entry: CatalogEntry) -> dict[str, Any]:
    """``entry.to_dict()`` without machine-specific fields or fields at their default."""
    data = entry.to_dict()
    return {
        k: v for k, v in data.items()
        if k not in _NOT_SHIPPED and not (k in _DEFAULTS and v == _DEFAULTS[k]) and v != []
    }


def write_snapshot(
    path: str | Path, entries: list[CatalogEntry], *, versions: dict[str, str],
    failures: dict[str, str] | None = None, extra: dict[str, Any] | None = None,
) -> Path:
    from selector.core.fileio import atomic_write_bytes

    data = {
        "format": FORMAT,
        "built_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": versions,
        "counts": {
            "entries": len(entries),
            "vision": sum(e.is_vision for e in entries),
            "text": sum(e.is_text for e in entries),
            "measured": sum(e.params is not None and e.macs is not None for e in entries),
            "with_activation": sum(e.activation is not None for e in entries),
        },
        "failures": failures or {},
        **(extra or {}),
        "entries": [lean_dict(e) for e in entries],
    }
    raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, gzip.compress(raw, compresslevel=9, mtime=0))
    return path


def read_snapshot(path: str | Path) -> dict[str, Any]:
    """The snapshot's dict; ``ValueError`` when it is not a snapshot this version understands."""
    try:
        with gzip.open(path, "rb") as f:
            data = json.loads(f.read())
    except (gzip.BadGzipFile, EOFError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"not a catalog snapshot ({err})") from err
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("entries"), list):
        raise ValueError("not a catalog snapshot of format 1")
    return data


def read_header(path: str | Path) -> dict[str, Any]:
    """Everything but the entries (versions, build date, counts, failures)."""
    data = read_snapshot(path)
    data.pop("entries")
    return data


# ----------------------------------------------------------------- building
@dataclass
class BuildReport:
    path: Path
    entries: int
    seconds: float
    measured: int
    failures: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)


ProgressFn = Callable[[int, int, str], None]
"""``progress(done, total, label)`` after each measured network."""


def _versions() -> dict[str, str]:
    """As ``installed_versions()`` reads them at load time, so the two compare like for like."""
    from selector.core.catalog.catalog import installed_versions

    return installed_versions()


def _apply(entry: CatalogEntry, result: dict[str, Any], failures: dict[str, str]) -> None:
    from selector.core.catalog.text import explain_params

    entry.params = result.get("params")
    entry.macs = result.get("macs")
    entry.activation = result.get("activation")
    notes = [entry.notes] if entry.notes else []
    if entry.is_text:
        extra = result.get("extra") or {}
        notes.append(explain_params(entry, extra.get("backbone_params"), extra.get("word_embedding_params")))
    if result.get("error"):
        failures[entry.id] = result["error"]
        notes.append("meta-device measurement failed: " + result["error"])
    entry.notes = "; ".join(n for n in notes if n)


def measure_entries(
    entries: list[CatalogEntry], *, jobs: int = 1, timeout: float = 300.0, with_activation: bool = True,
    progress: ProgressFn | None = None,
) -> dict[str, str]:
    """Fill in params, MACs and activation of ``entries`` in place; returns failures by id.

    Vision entries that share a network (same architecture, input size and head) are
    measured once. A worker that fails, crashes or exceeds ``timeout`` seconds on one model
    costs only that model: its entries keep what is known and the failure is recorded.
    """
    from selector.core.catalog.buildpool import Task, run_tasks
    from selector.core.catalog.vision import measurement_key

    groups: dict[tuple, list[CatalogEntry]] = {}
    for entry in entries:
        key = measurement_key(entry) if entry.is_vision else ("text", entry.id)
        groups.setdefault(key, []).append(entry)
    tasks, by_task = [], {}
    for members in groups.values():
        first = members[0]
        kind = "timm" if first.is_vision else "text"
        task = Task(key=f"{kind}:{first.id}", kind=kind, name=first.id, entry=first.to_dict(),
                    with_activation=with_activation)
        tasks.append(task)
        by_task[task.key] = members
    results = run_tasks(tasks, jobs=jobs, timeout=timeout, progress=progress)
    results.update(_retry_without_activation(tasks, results, jobs, timeout, progress))
    failures: dict[str, str] = {}
    for task_key, members in by_task.items():
        for entry in members:
            _apply(entry, results.get(task_key, {"error": "not measured"}), failures)
    return failures


def build_snapshot(
    out: str | Path, *, limit: int | None = None, jobs: int = 1, timeout: float = 300.0,
    names: list[str] | None = None, include_text: bool = True, with_activation: bool = True,
    progress: ProgressFn | None = None,
) -> BuildReport:
    """Measure every entry (or the first ``limit`` vision tags) and write the snapshot to ``out``."""
    from selector.core.catalog.text import text_entries
    from selector.core.catalog.vision import pretrained_names, vision_entries

    start = time.perf_counter()
    vision_names = names if names is not None else pretrained_names()
    if limit is not None:
        vision_names = vision_names[:limit]
    entries = sorted(vision_entries(vision_names), key=lambda e: e.id)
    entries += text_entries() if include_text else []
    failures = measure_entries(entries, jobs=jobs, timeout=timeout, with_activation=with_activation,
                               progress=progress)
    return _finish(out, entries, failures, start, jobs)


def remeasure_snapshot(
    path: str | Path, ids: list[str], *, out: str | Path | None = None, jobs: int = 1,
    timeout: float = 300.0, with_activation: bool = True, progress: ProgressFn | None = None,
) -> BuildReport:
    """Measure ``ids`` again (fresh entries) and keep the rest of the snapshot at ``path``.

    For a model that failed or timed out in a full build; the snapshot must have been built
    with the installed timm and transformers (otherwise rebuild it whole).
    """
    from selector.core.catalog.catalog import TRACKED_PACKAGES
    from selector.core.catalog.text import text_entries
    from selector.core.catalog.vision import vision_entries
    from selector.core.errors import SelectorError

    start = time.perf_counter()
    data = read_snapshot(path)
    versions = _versions()
    if any(data["versions"].get(k) != versions.get(k) for k in TRACKED_PACKAGES):
        raise SelectorError(f"{path} was built with {data['versions']}, not the installed {versions}: "
                            "rebuild it whole with `selector catalog build`")
    entries = [CatalogEntry.from_dict(item) for item in data["entries"]]
    known = {e.id: e for e in entries}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise SelectorError(f"not in the snapshot: {', '.join(unknown)}")
    texts = {e.id: e for e in text_entries()}
    fresh = vision_entries([i for i in ids if known[i].is_vision]) + [texts[i] for i in ids if i in texts]
    failures = measure_entries(fresh, jobs=jobs, timeout=timeout, with_activation=with_activation,
                               progress=progress)
    replaced = {e.id: e for e in fresh}
    entries = [replaced.get(e.id, e) for e in entries]
    old = {k: v for k, v in data.get("failures", {}).items() if k not in replaced}
    extra = {"build_seconds": data.get("build_seconds"), "jobs": data.get("jobs"),
             "remeasured": sorted({*data.get("remeasured", []), *ids})}
    return _finish(out or path, entries, {**old, **failures}, start, jobs, extra)


def _finish(out: str | Path, entries: list[CatalogEntry], failures: dict[str, str], start: float,
            jobs: int, extra: dict[str, Any] | None = None) -> BuildReport:
    versions = _versions()
    extra = extra or {"build_seconds": round(time.perf_counter() - start, 1), "jobs": jobs}
    path = write_snapshot(out, entries, versions=versions, failures=failures, extra=extra)
    return BuildReport(
        path=path, entries=len(entries), seconds=time.perf_counter() - start,
        measured=sum(e.params is not None and e.macs is not None for e in entries),
        failures=failures, versions=versions,
    )


def _retry_without_activation(
    tasks: list, results: dict[str, dict[str, Any]], jobs: int, timeout: float, progress: ProgressFn | None
) -> dict[str, dict[str, Any]]:
    """Parameters and MACs again for networks whose whole task timed out or crashed.

    The activation trace is the slow, fragile part; without it the count takes seconds, so
    such an entry keeps its size and MACs and says why the profile is missing.
    """
    import dataclasses as dc

    from selector.core.catalog.buildpool import run_tasks

    lost = [t for t in tasks if t.with_activation and (results.get(t.key) or {}).get("params") is None
            and str((results.get(t.key) or {}).get("error", "")).startswith(("timed out", "worker crashed"))]
    if not lost:
        return {}
    retried = run_tasks([dc.replace(t, with_activation=False) for t in lost], jobs=jobs, timeout=timeout,
                        progress=progress)
    for task in lost:
        first = results[task.key]["error"]
        result = retried.get(task.key, {})
        if result.get("params") is not None:
            result["error"] = f"activation profile: {first}" + (f"; {result['error']}" if result.get("error") else "")
    return {k: v for k, v in retried.items() if v.get("params") is not None}

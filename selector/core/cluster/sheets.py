"""One sheet per kind of hardware: a cluster run is never ranked as one machine.

``kind_sheets(session_id)`` splits a session's results by the hardware kind they ran on
(``ProbeResult.placement["kind"]``; results without a placement form the kind of the machine
that ran them) and builds one recommendation sheet per kind, each ranking only its own
numbers. Where several nodes of one kind measured the same model, their latency repeats are
pooled (every timed iteration of every node, percentiles taken again) and the row and the
sheet say so; two kinds are never mixed. ``selector.core.export.compare.compare_kinds`` puts
the sheets side by side with an answer per target.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path
from typing import Any

from selector.core.results.record import ProbeResult


def kind_of(result: ProbeResult) -> str:
    """The hardware kind a result belongs to (its node's, else its machine's name)."""
    placement = result.placement or {}
    if placement.get("kind"):
        return str(placement["kind"])
    hw = result.hardware or {}
    return str(hw.get("name") or "this machine")


def _node_of(result: ProbeResult) -> str:
    placement = result.placement or {}
    return str(placement.get("host") or placement.get("node") or "") + (
        f"/{str(placement['node_id'])[:6]}" if placement.get("node_id") else "")


def group_by_kind(results: list[ProbeResult]) -> dict[str, list[ProbeResult]]:
    groups: dict[str, list[ProbeResult]] = {}
    for result in results:
        groups.setdefault(kind_of(result), []).append(result)
    return groups


def pool_latency(results: list[ProbeResult]) -> tuple[list[ProbeResult], list[str]]:
    """Latency results of one kind with one model measured on several nodes merged into one
    result whose rows pool every node's timed iterations; the notes saying what was pooled."""
    by_model: dict[str, list[ProbeResult]] = {}
    others: list[ProbeResult] = []
    for result in results:
        if result.kind == "latency" and result.ok and result.rows:
            by_model.setdefault(result.model_id, []).append(result)
        else:
            others.append(result)
    pooled: list[ProbeResult] = []
    notes: list[str] = []
    for model_id, group in by_model.items():
        nodes = sorted({_node_of(r) for r in group})
        if len(group) == 1 or len(nodes) < 2:
            pooled.extend(group)
            continue
        merged = ProbeResult.from_dict(group[0].to_dict())
        merged.rows = _pooled_rows(group, nodes)
        merged.message = f"pooled repeats of {len(group)} runs on {len(nodes)} nodes: {', '.join(nodes)}"
        pooled.append(merged)
        notes.append(f"{model_id}: latency pooled over {len(nodes)} nodes of this kind ({', '.join(nodes)})")
    return pooled + others, notes


def _pooled_rows(group: list[ProbeResult], nodes: list[str]) -> list[dict[str, Any]]:
    keyed: dict[tuple, list[dict]] = {}
    for result in group:
        for row in result.rows:
            keyed.setdefault((row.get("batch_size"), row.get("dtype")), []).append(row)
    rows = []
    for rows_of_key in keyed.values():
        row = dict(rows_of_key[0])
        samples = [s for r in rows_of_key for s in (r.get("samples_ms") or [])]
        if len(rows_of_key) > 1 and samples:
            ordered = sorted(samples)
            mean = statistics.fmean(ordered)
            row.update(samples_ms=samples, iters=len(samples), p50_ms=_pct(ordered, 50),
                       p90_ms=_pct(ordered, 90), p99_ms=_pct(ordered, 99), mean_ms=mean,
                       min_ms=ordered[0], max_ms=ordered[-1],
                       std_ms=statistics.pstdev(ordered), cv=statistics.pstdev(ordered) / mean if mean else None,
                       samples_per_s=1000.0 * int(row.get("batch_size") or 1) / mean if mean else None)
        row["pooled_from"] = nodes if len(rows_of_key) > 1 else [nodes[0]]
        rows.append(row)
    return rows


def _pct(ordered: list[float], q: float) -> float:
    """Percentile by linear interpolation (numpy's default), of sorted values."""
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def kind_sheets(session_id: str | None = None, constraints: Any = None, objective: Any = None, *,
                store: Any = None, catalog: Any = None) -> list[Any]:
    """One ``Sheet`` per hardware kind of the session (default: the newest), kinds in the
    order they first appear; each sheet's hardware is named after its kind."""
    from selector.core.export.session import sheet_from_session
    from selector.core.recommend import Constraints
    from selector.core.results import ResultStore

    store = store or ResultStore()
    session = store.get_session(session_id) if session_id else store.list_sessions(limit=1)[0]
    sheets: list[Any] = []
    with tempfile.TemporaryDirectory(prefix="selector-kinds-") as tmp:
        for kind, results in group_by_kind(store.session_results(session.id)).items():
            pooled, notes = pool_latency(results)
            nodes = sorted({_node_of(r) for r in results if r.placement})
            found: dict[str, Any] = next((r.hardware for r in results if r.hardware), {}) or {}
            hardware = dict(found, name=kind)
            part = ResultStore(Path(tmp) / f"{len(sheets)}.sqlite")
            sub = part.create_session(f"{session.name} on {kind}", hardware)
            for result in pooled:
                result.session_id = sub.id
                part.save_result(result)
            own = Constraints.from_dict(constraints.to_dict()) if constraints is not None else None
            sheet = sheet_from_session(sub.id, own, objective, store=part, catalog=catalog,
                                       title=f"{session.name}: {kind}")
            sheet.session_id = session.id
            if nodes:
                sheet.notes.insert(0, f"hardware kind {kind}: {len(nodes)} node(s) ({', '.join(nodes)})")
            sheet.notes.extend(notes)
            sheets.append(sheet)
    return sheets

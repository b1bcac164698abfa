"""Several sheets, several machines: the same models side by side.

``compare_sheets([sheet_a, sheet_b])`` gives a :class:`Comparison` keyed by (model, machine):
each cell carries the figures that sheet used (p50 latency, peak memory, accuracy) with their
source, so a measured 12 ms on one box is never read as equal to an estimate on another.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from selector.core.export.sheet import Sheet

COMPARE_SCHEMA = "selector.comparison"
COMPARE_VERSION = 1


@dataclass
class ComparisonCell:
    model_id: str
    machine: str
    status: str = ""
    rank: int | None = None
    latency_p50_ms: float | None = None
    latency_source: str | None = None
    latency_batch: int | None = None
    latency_dtype: str | None = None
    latency_threads: int | None = None
    peak_memory_mib: float | None = None
    peak_memory_source: str | None = None
    accuracy_kind: str = "none"
    accuracy_value: float | None = None
    accuracy_label: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class MachineSheet:
    """Which sheet a machine's column came from."""

    machine: str
    title: str = ""
    created_at: str = ""
    machine_detail: str = ""
    recommended: str | None = None
    constraints: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Comparison:
    machines: list[str]
    models: list[str]
    cells: list[ComparisonCell]
    sheets: list[MachineSheet] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def cell(self, model_id: str, machine: str) -> ComparisonCell | None:
        for c in self.cells:
            if c.model_id == model_id and c.machine == machine:
                return c
        return None

    def table(self, value: str = "latency_p50_ms") -> list[dict[str, Any]]:
        """One row per model: ``{"model_id": ..., <machine>: <value of that cell>, ...}``."""
        rows = []
        for m in self.models:
            row: dict[str, Any] = {"model_id": m}
            for machine in self.machines:
                cell = self.cell(m, machine)
                row[machine] = getattr(cell, value) if cell else None
            rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": COMPARE_SCHEMA,
            "schema_version": COMPARE_VERSION,
            "machines": list(self.machines),
            "models": list(self.models),
            "cells": [c.to_dict() for c in self.cells],
            "sheets": [s.to_dict() for s in self.sheets],
            "notes": list(self.notes),
        }


def compare_sheets(sheets: list[Sheet]) -> Comparison:
    """Merge sheets from several machines into one table keyed by model and machine."""
    if not sheets:
        raise ValueError("no sheets to compare")
    machines = _machine_names(sheets)
    cells: list[ComparisonCell] = []
    order: list[str] = []
    counts: dict[str, int] = {}
    notes: list[str] = []
    infos = []
    for sheet, machine in zip(sheets, machines):
        rec = sheet.recommendation
        for v in rec.verdicts:
            counts[v.model_id] = counts.get(v.model_id, 0) + 1
            if v.model_id not in order:
                order.append(v.model_id)
            cells.append(ComparisonCell(
                model_id=v.model_id, machine=machine, status=v.status, rank=v.rank,
                latency_p50_ms=v.latency.value if v.latency else None,
                latency_source=v.latency.source if v.latency else None,
                latency_batch=v.latency.batch if v.latency else None,
                latency_dtype=v.latency.dtype if v.latency else None,
                latency_threads=v.latency.threads if v.latency else None,
                peak_memory_mib=v.memory.value if v.memory else None,
                peak_memory_source=v.memory.source if v.memory else None,
                accuracy_kind=v.accuracy.kind, accuracy_value=v.accuracy.value,
                accuracy_label=v.accuracy.label,
            ))
        infos.append(MachineSheet(machine, sheet.title, sheet.created_at, sheet.machine,
                                  rec.recommended, rec.constraints.describe()))
    batches = {s.recommendation.constraints.batch for s in sheets}
    if len(batches) > 1:
        notes.append("the sheets ask for different batch sizes "
                     f"({', '.join(str(b) for b in sorted(batches))}): compare latency with care")
    # Models present on every machine first, in the first sheet's order.
    everywhere = [m for m in order if counts[m] == len(sheets)]
    models = everywhere + [m for m in order if counts[m] < len(sheets)]
    return Comparison(machines, models, cells, infos, notes)


def _machine_names(sheets: list[Sheet]) -> list[str]:
    """Each sheet's machine name; where host names repeat (cloud machines are often all "vm"),
    the device the sheet measured on tells them apart, then a number."""
    bases = [(sheet.hardware or {}).get("name") or sheet.machine.split(":")[0] or "machine"
             for sheet in sheets]
    names: list[str] = []
    for sheet, base in zip(sheets, bases):
        if bases.count(base) > 1:
            base = f"{base} ({_device_name(sheet)})"
        name, n = base, 2
        while name in names:
            name = f"{base} ({n})"
            n += 1
        names.append(name)
    return names


def _device_name(sheet: Sheet) -> str:
    device = sheet.recommendation.constraints.device or "cpu"
    if not device.startswith("cuda"):
        return "CPU"
    index = int(device.split(":")[1]) if ":" in device else 0
    for gpu in (sheet.hardware or {}).get("gpus") or []:
        if gpu.get("index") == index and gpu.get("name"):
            return str(gpu["name"])
    return device


def per_target_answers(sheets: list[Sheet], kinds: list[str] | None = None) -> list[str]:
    """One answer per hardware kind: ``on T4: convnext_tiny (p50 12.1 ms)``; each kind's
    sheet ranked only its own measurements."""
    kinds = kinds or _machine_names(sheets)
    answers = []
    for sheet, kind in zip(sheets, kinds):
        rec = sheet.recommendation
        if not rec.recommended:
            answers.append(f"on {kind}: no candidate meets the constraints")
            continue
        verdict = next((v for v in rec.verdicts if v.model_id == rec.recommended), None)
        figure = (f" (p50 {verdict.latency.value:.1f} ms, {verdict.latency.source})"
                  if verdict is not None and verdict.latency and verdict.latency.value is not None else "")
        answers.append(f"on {kind}: {rec.recommended}{figure}")
    return answers


def compare_kinds(sheets: list[Sheet]) -> Comparison:
    """The per-kind sheets of one cluster run (``cluster.sheets.kind_sheets``) side by side:
    one column per kind, never one ranking over several; the notes answer per target."""
    comparison = compare_sheets(sheets)
    comparison.notes = per_target_answers(sheets, comparison.machines) + comparison.notes
    for sheet in sheets:
        comparison.notes.extend(n for n in sheet.notes if "pooled" in n)
    return comparison

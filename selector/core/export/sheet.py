"""A recommendation sheet: the answer, its reasons and everything needed to reproduce it.

A :class:`Sheet` is what every export format renders and what a JSON sheet stores in full.
``open_sheet(path)`` reads a JSON sheet back into the same :class:`Sheet` (same candidates,
same recommendation), so the app can show a sheet made on another machine.

JSON layout (``schema: "selector.sheet"``, ``schema_version: 1``): title, created_at (ISO 8601,
UTC), selector_version, session_id, machine, hardware (``HardwareProfile.to_dict()``), software
(versions), task, data (:class:`DataSummary`), candidates (``Candidate.to_dict()``),
recommendation (``Recommendation.to_dict()``), method (lines), notes, results (the probe
results behind the figures, ``ProbeResult.to_dict()`` without events).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import re
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from selector import __version__
from selector.core.errors import SelectorError
from selector.core.fileio import special_file_kind
from selector.core.recommend import (
    Candidate, Constraints, Objective, Recommendation, recommend,
)
from selector.core.units import fmt_mib

SHEET_SCHEMA = "selector.sheet"
SHEET_VERSION = 1
SOFTWARE_PACKAGES = ("torch", "torchvision", "timm", "transformers", "numpy")


@dataclass
class DataSummary:
    """The user's data as the probes saw it."""

    name: str = ""
    path: str = ""
    """Folder or file it was read from; empty for the built-in sample."""
    source: str = ""
    """``folder``, ``csv``, ``builtin sample``, ..."""
    num_classes: int | None = None
    classes: list[str] = field(default_factory=list)
    train_samples: int | None = None
    eval_samples: int | None = None
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        if not (self.name or self.path or self.train_samples):
            return "no data summary"
        parts = [self.name or self.path or "data"]
        if self.source:
            parts.append(f"({self.source})")
        counts = []
        if self.num_classes:
            counts.append(f"{self.num_classes} classes")
        if self.train_samples is not None:
            counts.append(f"{self.train_samples} train")
        if self.eval_samples is not None:
            counts.append(f"{self.eval_samples} held-out")
        text = " ".join(parts)
        return f"{text}: {', '.join(counts)}" if counts else text

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "DataSummary":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in names})


@dataclass
class Sheet:
    title: str
    created_at: str
    candidates: list[Candidate]
    recommendation: Recommendation
    machine: str = ""
    """One line naming the machine: ``box: Intel i7-12700H, 20 cores, 31.2 GiB RAM, no GPU``."""
    hardware: dict[str, Any] | None = None
    """``HardwareProfile.to_dict()`` of the machine the figures were measured on."""
    software: dict[str, str] = field(default_factory=dict)
    task: str = ""
    data: DataSummary = field(default_factory=DataSummary)
    session_id: str | None = None
    method: list[str] = field(default_factory=list)
    """How each figure was obtained (batch, dtype, threads, device, method), one line each."""
    notes: list[str] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    """The probe results behind the figures (``ProbeResult.to_dict()``, events left out), so
    the app can show a sheet's measurements as it shows its own; empty for catalog-only sheets."""
    selector_version: str = __version__
    schema_version: int = SHEET_VERSION

    @property
    def constraints(self) -> Constraints:
        return self.recommendation.constraints

    def candidate(self, model_id: str) -> Candidate:
        for c in self.candidates:
            if c.model_id == model_id:
                return c
        raise KeyError(model_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SHEET_SCHEMA,
            "schema_version": self.schema_version,
            "title": self.title,
            "created_at": self.created_at,
            "selector_version": self.selector_version,
            "session_id": self.session_id,
            "machine": self.machine,
            "hardware": self.hardware,
            "software": dict(self.software),
            "task": self.task,
            "data": self.data.to_dict(),
            "candidates": [c.to_dict() for c in self.candidates],
            "recommendation": self.recommendation.to_dict(),
            "method": list(self.method),
            "notes": list(self.notes),
            "results": list(self.results),
        }

    def to_json(self) -> str:
        """Strict JSON: a NaN or infinite figure is written as null (unknown)."""
        return json.dumps(_finite(self.to_dict()), indent=2, ensure_ascii=False,
                          allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Sheet":
        if not isinstance(data, dict) or data.get("schema") != SHEET_SCHEMA:
            raise ValueError("not a selector sheet (no \"schema\": \"selector.sheet\")")
        version = data.get("schema_version")
        if not isinstance(version, int) or version > SHEET_VERSION:
            raise ValueError(
                f"sheet schema version {version!r} is newer than this selector reads "
                f"({SHEET_VERSION}); update selector to open it"
            )
        return cls(
            title=data.get("title", ""),
            created_at=data.get("created_at", ""),
            candidates=[Candidate.from_dict(c) for c in data.get("candidates") or []],
            recommendation=Recommendation.from_dict(data.get("recommendation") or {}),
            machine=data.get("machine", ""),
            hardware=data.get("hardware"),
            software=dict(data.get("software") or {}),
            task=data.get("task", ""),
            data=DataSummary.from_dict(data.get("data")),
            session_id=data.get("session_id"),
            method=list(data.get("method") or []),
            notes=list(data.get("notes") or []),
            results=list(data.get("results") or []),
            selector_version=data.get("selector_version", ""),
            schema_version=version,
        )


def build_sheet(
    candidates: list[Candidate],
    constraints: Constraints | None = None,
    objective: Objective | None = None,
    *,
    hardware: dict[str, Any] | None = None,
    data: DataSummary | None = None,
    software: dict[str, str] | None = None,
    session_id: str | None = None,
    title: str | None = None,
    notes: list[str] | None = None,
    results: list[dict[str, Any]] | None = None,
    now: _dt.datetime | None = None,
) -> Sheet:
    """Recommend from ``candidates`` and wrap the answer with everything a reader needs."""
    constraints = constraints or Constraints()
    rec = recommend(candidates, constraints, objective)
    task = constraints.task or _common_task(candidates)
    machine = machine_label(hardware)
    created = (now or _dt.datetime.now(_dt.timezone.utc)).replace(microsecond=0)
    return Sheet(
        title=title or _title(task, hardware),
        created_at=created.isoformat(),
        candidates=list(candidates),
        recommendation=rec,
        machine=machine,
        hardware=hardware,
        software=dict(software) if software is not None else software_versions(),
        task=task,
        data=data or DataSummary(),
        session_id=session_id,
        method=method_lines(candidates),
        notes=list(notes or []),
        results=list(results or []),
    )


def open_sheet(path: str | Path) -> Sheet:
    """Read a JSON sheet; a clear :class:`SelectorError` for anything that is not one."""
    path = Path(path)
    kind = special_file_kind(path)
    if kind:
        raise SelectorError(f"{path} is {kind}, not a JSON sheet")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SelectorError(f"no such sheet: {path}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise SelectorError(f"cannot read {path}: {err}") from err
    from selector.core.export.sheet_check import check_sheet_data

    try:
        data = json.loads(text)
        check_sheet_data(data)
        return Sheet.from_dict(data)
    except json.JSONDecodeError as err:
        raise SelectorError(f"{path} is not a JSON sheet: {err}") from err
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        raise SelectorError(f"{path}: {err}") from err


def software_versions() -> dict[str, str]:
    """Versions of python, selector and the ML stack, read from package metadata (no imports)."""
    import platform

    versions = {"python": platform.python_version(), "selector": __version__}
    for name in SOFTWARE_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def machine_label(hardware: dict[str, Any] | None) -> str:
    if not hardware:
        return "unknown machine"
    cpu = hardware.get("cpu") or {}
    mem = hardware.get("memory") or {}
    gpus = hardware.get("gpus") or []
    parts = [cpu.get("model") or "unknown CPU"]
    if cpu.get("logical_cores"):
        parts.append(f"{cpu['logical_cores']} threads")
    if mem.get("total_mib"):
        parts.append(f"{fmt_mib(mem['total_mib'])} RAM")
    if gpus:
        parts.append(" + ".join(
            f"{g.get('name', 'GPU')} {fmt_mib(g.get('memory_total_mib'))}" for g in gpus))
    else:
        parts.append("no GPU")
    return f"{hardware.get('name') or 'machine'}: {', '.join(parts)}"


_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def method_lines(candidates: list[Candidate]) -> list[str]:
    """One line per way figures were obtained (kind, source, settings, method), naming the
    models it covers. Methods that differ only in their counts share a line with the range
    (``p50 of 9–40 timed forward passes``); the sheet's figure table keeps each one."""
    groups: dict[tuple[int, str, str], tuple[list[list[str]], list[str]]] = {}

    def add(order: int, head: str, method: str, model_id: str) -> None:
        template = _NUMBER.sub("{}", method)
        numbers, models = groups.setdefault((order, head, template), ([], []))
        numbers.append(_NUMBER.findall(method))
        if model_id not in models:
            models.append(model_id)

    names = {"latency": "Latency", "inference_memory": "Inference memory",
             "finetune_memory": "Fine-tune memory"}
    for c in candidates:
        for order, (kind, label) in enumerate(names.items()):
            for f in getattr(c, kind):
                add(order, f"{label} ({f.source}): {f.setting() or 'settings not recorded'}",
                    f.method, c.model_id)
        if c.finetuned_accuracy is not None:
            f = c.finetuned_accuracy
            setting = f": {f.setting()}" if f.setting() else ""
            add(3, f"Held-out accuracy after fine-tuning (measured){setting}", f.method, c.model_id)
        if c.transfer is not None:
            n = f" on {c.transfer.samples} samples" if c.transfer.samples else ""
            add(4, f"Transferability ({c.transfer.method}){n}", "", c.model_id)
        if c.published:
            add(5, f"Published accuracy: {c.published_source or 'model card / results table'}",
                "", c.model_id)
    lines = []
    for (_, head, template), (numbers, models) in sorted(groups.items(), key=lambda kv: kv[0][0]):
        method = template.format(*(_span(values) for values in zip(*numbers))) if template else ""
        lines.append(f"{head}{'; ' + method if method else ''} — {', '.join(models)}")
    return lines


def _span(values: tuple[str, ...]) -> str:
    """``7`` when all equal, else ``3–13`` (numeric min and max)."""
    if len(set(values)) == 1:
        return values[0]
    ordered = sorted(values, key=float)
    return f"{ordered[0]}–{ordered[-1]}"


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _title(task: str, hardware: dict[str, Any] | None) -> str:
    title = f"Model recommendation: {task or 'models'}"
    name = (hardware or {}).get("name")
    return f"{title} on {name}" if name else title


def _common_task(candidates: list[Candidate]) -> str:
    tasks = {c.task for c in candidates if c.task}
    return tasks.pop() if len(tasks) == 1 else ""

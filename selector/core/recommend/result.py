"""The question (constraints and objective) and the answer (verdicts, confidence, next probes)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from selector.core.recommend.candidate import Figure

INFERENCE = "inference"
FINETUNE = "finetune"

ACCURACY = "accuracy"
LATENCY = "latency"
BALANCED = "balanced"
ENERGY = "energy"
OBJECTIVES = (ACCURACY, LATENCY, BALANCED, ENERGY)

RECOMMENDED = "recommended"
PARETO = "pareto"
"""Within the constraints and on the accuracy/latency Pareto front, not the pick."""
DOMINATED = "dominated"
"""Within the constraints, but another candidate is at least as accurate and as fast."""
UNVERIFIED = "unverified"
"""A constraint could not be checked (no figure at the asked batch/device)."""
REJECTED = "rejected"
STATUSES = (RECOMMENDED, PARETO, DOMINATED, UNVERIFIED, REJECTED)


@dataclass
class Constraints:
    """What the user needs. Unset (None) constraints are not checked."""

    task: str | None = None
    """``image-classification`` / ``text-classification``: other tasks are rejected."""
    device: str = "cpu"
    """Where the model will run: ``cpu`` or ``cuda:N``; figures from other devices are ignored."""
    batch: int = 1
    """The batch size the latency budget is for."""
    latency_ms: float | None = None
    """Budget for one batch of ``batch`` samples, checked against p50."""
    dtype: str | None = None
    """Restrict latency figures to one dtype; None takes the fastest measured one."""
    memory_mode: str = INFERENCE
    """Which memory must fit: ``inference`` or ``finetune``."""
    memory_budget_mib: float | None = None
    """An explicit budget; when None, ``free_memory_mib`` (free on ``device``) is the budget."""
    free_memory_mib: float | None = None
    """Free memory on ``device`` when the question was asked (from the hardware profile)."""
    min_accuracy: float | None = None
    """Floor in percent: on held-out fine-tune accuracy when measured, else on the published
    figure of ``accuracy_metric`` (labelled as such)."""
    accuracy_metric: str | None = None
    """Published metric to fall back on (``imagenet_top1``); None picks the most common one."""

    @property
    def memory_limit_mib(self) -> float | None:
        return self.memory_budget_mib if self.memory_budget_mib is not None else self.free_memory_mib

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Constraints":
        return cls(**_known(cls, data or {}))

    def describe(self) -> list[str]:
        """The constraints as short lines for sheets: ``p50 ≤ 20 ms at batch 1 on cpu``."""
        from selector.core.units import fmt_mib

        lines = [f"device {self.device}"]
        if self.task:
            lines.append(f"task {self.task}")
        if self.latency_ms is not None:
            dtype = f", {self.dtype}" if self.dtype else ""
            lines.append(f"p50 ≤ {self.latency_ms:g} ms at batch {self.batch}{dtype}")
        limit = self.memory_limit_mib
        if limit is not None:
            what = "fine-tuning" if self.memory_mode == FINETUNE else "inference"
            kind = "budget" if self.memory_budget_mib is not None else "free"
            lines.append(f"{what} memory ≤ {fmt_mib(limit)} ({kind})")
        if self.min_accuracy is not None:
            lines.append(f"accuracy ≥ {self.min_accuracy:g}%")
        return lines


@dataclass
class Objective:
    kind: str = ACCURACY
    """``accuracy`` (best within the constraints), ``latency`` (fastest above the accuracy
    floor), ``balanced`` (weighted) or ``energy`` (fewest measured joules per sample, i.e. most
    samples per joule; candidates without an energy figure last)."""
    accuracy_weight: float = 0.5
    """For ``balanced``: weight of accuracy (0-1); speed gets the rest."""

    def __post_init__(self) -> None:
        if self.kind not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, not {self.kind!r}")
        if not 0.0 <= self.accuracy_weight <= 1.0:
            raise ValueError(f"accuracy weight must be between 0 and 1, not {self.accuracy_weight}")

    def describe(self) -> str:
        if self.kind == ACCURACY:
            return "most accurate within the constraints"
        if self.kind == LATENCY:
            return "fastest within the constraints (above the accuracy floor)"
        if self.kind == ENERGY:
            return "most samples per joule within the constraints (measured energy)"
        return f"balance: {self.accuracy_weight:.0%} accuracy, {1 - self.accuracy_weight:.0%} speed"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Objective":
        return cls(**_known(cls, data or {}))


@dataclass
class Accuracy:
    """The accuracy evidence used for one candidate, labelled so mixed kinds are never confused."""

    kind: str
    """``finetuned`` (held-out, user's data), ``transfer`` (score, user's data), ``published``
    (e.g. ImageNet top-1) or ``none``."""
    value: float | None = None
    label: str = ""
    """``fine-tuned held-out accuracy``, ``transferability (logme)``, ``ImageNet top-1``."""

    def number(self) -> str:
        """``75.2%`` or, for a transferability score, ``0.412``."""
        if self.value is None:
            return "—"
        return f"{self.value:.3f}" if self.kind == "transfer" else f"{self.value:.1f}%"

    def text(self) -> str:
        """``ImageNet top-1 75.2% (published)``, ``fine-tuned held-out accuracy 91.0%``."""
        if self.value is None:
            return "no accuracy figure"
        tail = " (published)" if self.kind == "published" else ""
        return f"{self.label} {self.number()}{tail}"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Verdict:
    """The outcome for one candidate: status, place, and why in one line with the numbers."""

    model_id: str
    status: str
    reason: str
    rank: int | None = None
    """1 = recommended; None for rejected and unverified candidates."""
    checks: list[str] = field(default_factory=list)
    """Every check made, passed or failed, one line each."""
    accuracy: Accuracy = field(default_factory=lambda: Accuracy("none"))
    latency: Figure | None = None
    memory: Figure | None = None
    score: float | None = None
    """Balanced objective only: the weighted score (0-1, higher is better)."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Verdict":
        values = _known(cls, data)
        values["accuracy"] = Accuracy(**(values.get("accuracy") or {"kind": "none"}))
        values["latency"] = Figure.from_dict(values.get("latency"))
        values["memory"] = Figure.from_dict(values.get("memory"))
        return cls(**values)


@dataclass
class ProbeSuggestion:
    """The next measurement that would settle an open question."""

    kind: str
    """``latency``, ``finetune``, ``transfer``, ``memory`` or ``download`` (the weights)."""
    models: list[str]
    why: str

    def text(self) -> str:
        verb = {
            "latency": "run the latency probe on",
            "finetune": "fine-tune",
            "transfer": "score transferability of",
            "memory": "measure fine-tune memory of",
            "download": "download the pretrained weights of",
        }.get(self.kind, f"run the {self.kind} probe on")
        return f"{verb} {' and '.join(self.models)}: {self.why}"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Recommendation:
    constraints: Constraints
    objective: Objective
    verdicts: list[Verdict]
    """Ranked candidates first (by rank), then unverified, then rejected."""
    recommended: str | None
    summary: str
    """One line: the pick and the main reason, or why there is none."""
    basis: str = ""
    """What the accuracy order rests on, in words."""
    basis_kind: str = "none"
    """``finetuned``, ``transfer``, ``published`` or ``none``: the kind the order is sorted by."""
    metric: str | None = None
    """The published metric used where published figures count (``imagenet_top1``)."""
    confidence: str = "high"
    """``high``, ``medium`` or ``low``."""
    notes: list[str] = field(default_factory=list)
    next_probes: list[ProbeSuggestion] = field(default_factory=list)

    def verdict(self, model_id: str) -> Verdict:
        for v in self.verdicts:
            if v.model_id == model_id:
                return v
        raise KeyError(model_id)

    def by_status(self, status: str) -> list[Verdict]:
        return [v for v in self.verdicts if v.status == status]

    def to_dict(self) -> dict[str, Any]:
        return {
            "constraints": self.constraints.to_dict(),
            "objective": self.objective.to_dict(),
            "verdicts": [v.to_dict() for v in self.verdicts],
            "recommended": self.recommended,
            "summary": self.summary,
            "basis": self.basis,
            "basis_kind": self.basis_kind,
            "metric": self.metric,
            "confidence": self.confidence,
            "notes": list(self.notes),
            "next_probes": [p.to_dict() for p in self.next_probes],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Recommendation":
        return cls(
            constraints=Constraints.from_dict(data.get("constraints") or {}),
            objective=Objective.from_dict(data.get("objective") or {}),
            verdicts=[Verdict.from_dict(v) for v in data.get("verdicts") or []],
            recommended=data.get("recommended"),
            summary=data.get("summary", ""),
            basis=data.get("basis", ""),
            basis_kind=data.get("basis_kind", "none"),
            metric=data.get("metric"),
            confidence=data.get("confidence", "high"),
            notes=list(data.get("notes") or []),
            next_probes=[ProbeSuggestion(**p) for p in data.get("next_probes") or []],
        )


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}

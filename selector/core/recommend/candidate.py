"""What the recommendation knows about one model: published, estimated and measured figures.

Every number carries where it came from (:data:`MEASURED` on this machine, :data:`ESTIMATED`
by the estimator, :data:`PUBLISHED` by the model's authors) and how it was obtained (batch,
dtype, threads, device, method), so a sheet can show a reader how to reproduce it and the
recommendation can prefer a measurement over an estimate of the same quantity.

Units: latency in ms per batch, memory in MiB, accuracy in percent, MACs per sample.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from selector.core.results.record import ProbeStatus

PROBE_END_CODES = {
    "ok": ProbeStatus.FINISHED, "oom": ProbeStatus.OUT_OF_MEMORY, "error": ProbeStatus.FAILED,
    "timeout": ProbeStatus.TIMED_OUT, "cancelled": ProbeStatus.CANCELLED,
    "refused": ProbeStatus.REFUSED, "no-steps": ProbeStatus.FAILED,
}
"""The short codes sheets store in ``Candidate.probe_status`` -> the probe status they mean
(a crash is stored as ``error``; ``no-steps``: a fine-tune that took no training step)."""

MEASURED = "measured"
ESTIMATED = "estimated"
PUBLISHED = "published"
SOURCES = (MEASURED, ESTIMATED, PUBLISHED)
_SOURCE_ORDER = {MEASURED: 0, ESTIMATED: 1, PUBLISHED: 2}


@dataclass
class Figure:
    """One number and how it was obtained."""

    value: float
    source: str
    """:data:`MEASURED`, :data:`ESTIMATED` or :data:`PUBLISHED`."""
    unit: str = ""
    """``ms`` (per batch), ``MiB``, ``%``."""
    batch: int | None = None
    dtype: str | None = None
    """``fp32``, ``bf16``, ``fp16``, ``int8-dynamic`` (the probes' names)."""
    threads: int | None = None
    """CPU intra-op threads used (torch.get_num_threads()) when it was measured."""
    device: str | None = None
    """``cpu`` or ``cuda:N``."""
    method: str = ""
    """How, in a few words: ``p50 of 30 timed runs after 5 warm-up``, ``estimate_memory``."""
    extra: dict[str, float] = field(default_factory=dict)
    """Related numbers: ``p90``/``p99`` (ms), ``samples_per_s``, memory components (MiB)."""
    noisy: list[str] = field(default_factory=list)
    """Measured on a busy machine: why, one line each (the probe row's contention reasons)."""
    runtime: str | None = None
    """Latency: the runtime it ran under (``onnxruntime``, ``openvino``, ``compile``); None or
    ``eager``: eager PyTorch. Its speed-up over eager and top-1 agreement are in ``extra``."""

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"figure source must be one of {SOURCES}, not {self.source!r}")

    @property
    def source_rank(self) -> int:
        """0 for measured, 1 for estimated, 2 for published: lower is better evidence."""
        return _SOURCE_ORDER[self.source]

    def setting(self) -> str:
        """``batch 1, fp32, 2 threads, cpu``: the conditions, for reasons and the method."""
        parts = []
        if self.batch is not None:
            parts.append(f"batch {self.batch}")
        if self.runtime and self.runtime != "eager":
            from selector.core.runtimes import LABELS

            parts.append(LABELS.get(self.runtime, self.runtime))
        if self.dtype:
            parts.append(self.dtype)
        if self.threads:
            parts.append(f"{self.threads} thread{'s' if self.threads != 1 else ''}")
        if self.device:
            parts.append(self.device)
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "Figure | None":
        if data is None:
            return None
        return cls(**_known(cls, data))


@dataclass
class TransferScore:
    """How well the model's frozen features suit the user's data, before any fine-tuning."""

    score: float
    """The combined score (higher is better); comparable only within one session."""
    method: str = "combined"
    """``logme``, ``knn``, ``linear_probe`` or ``combined``."""
    rank: int | None = None
    """1 = best among the session's candidates."""
    stability: float | None = None
    """Share (0-1) of bootstrap resamples of the data in which the model ranked first."""
    scores: dict[str, float] = field(default_factory=dict)
    """The individual scores behind the combined one, by method."""
    samples: int | None = None
    """How many labelled samples the score was computed on."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "TransferScore | None":
        if data is None:
            return None
        return cls(**_known(cls, data))


@dataclass
class Candidate:
    """One model as the recommendation sees it. Hand-built in tests, built from the results
    store by :func:`selector.core.recommend.from_store.candidates_from_store`."""

    model_id: str
    task: str = ""
    family: str = ""
    source: str = ""
    """``timm``, ``transformers`` or ``local``."""
    params: int | None = None
    macs: float | None = None
    """Multiply-accumulates per sample (not FLOPs)."""
    input_size: tuple[int, ...] = ()
    license: str | None = None
    weights: str = ""
    """``pretrained`` or ``architecture-only`` (random init: its figures say nothing of accuracy)."""
    published: dict[str, float] = field(default_factory=dict)
    """Published accuracy in percent by metric (``imagenet_top1``, ``sst2``, ...)."""
    published_source: str = ""
    latency: list[Figure] = field(default_factory=list)
    """ms per batch (p50 in ``value``, p90/p99 in ``extra``), at one batch/dtype/device each."""
    inference_memory: list[Figure] = field(default_factory=list)
    """Peak MiB to run inference, at one batch/dtype/device each."""
    finetune_memory: list[Figure] = field(default_factory=list)
    """Peak MiB to fine-tune (weights, gradients, optimizer state, activations)."""
    finetuned_accuracy: Figure | None = None
    """Held-out accuracy (%) on the user's data after the quick fine-tune (measured)."""
    baseline_accuracy: Figure | None = None
    """Held-out accuracy (%) before fine-tuning (the probe's starting point)."""
    loss_curve: list[tuple[float, float]] = field(default_factory=list)
    """Fine-tune training loss as (step, loss)."""
    transfer: TransferScore | None = None
    probe_status: dict[str, str] = field(default_factory=dict)
    """Outcome of each probe run on it, by kind (``latency``, ``finetune``, ``transfer``), in
    the sheets' short codes (:data:`PROBE_END_CODES`: ``ok``, ``oom``, ``error``, ``timeout``,
    ``cancelled``, ``refused``, ``no-steps``); read it as a :class:`ProbeStatus` with
    :meth:`probe_end`."""
    probe_messages: dict[str, str] = field(default_factory=dict)
    """What went wrong, by probe kind, in the probe's words."""
    notes: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ views
    def probe_end(self, kind: str) -> ProbeStatus | None:
        """How its ``kind`` probe ended, as the one status vocabulary (None: not probed, or a
        code no version wrote)."""
        code = self.probe_status.get(kind)
        if code is None:
            return None
        if code in PROBE_END_CODES:
            return PROBE_END_CODES[code]
        try:
            return ProbeStatus(code)
        except ValueError:
            return None

    @property
    def has_pretrained_weights(self) -> bool:
        return self.weights != "architecture-only"

    def best_figure(
        self, kind: str, *, batch: int | None = None, device: str | None = None,
        dtype: str | None = None,
    ) -> Figure | None:
        """The best evidence for ``kind`` (``latency``, ``inference_memory``,
        ``finetune_memory``) at these settings: a measurement before an estimate; among
        several of the same source and settings, the lowest value (the fastest dtype, say).
        Figures made at another batch or device are never substituted."""
        figures = [
            f for f in getattr(self, kind)
            if (batch is None or f.batch is None or f.batch == batch)
            and (device is None or _same_device(f.device, device))
            and (dtype is None or f.dtype is None or f.dtype == dtype)
        ]
        if not figures:
            return None
        return min(figures, key=lambda f: (f.source_rank, f.value))

    def figures(self, kind: str, source: str) -> list[Figure]:
        return [f for f in getattr(self, kind) if f.source == source]

    # ---------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["input_size"] = list(self.input_size)
        data["loss_curve"] = [list(p) for p in self.loss_curve]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Candidate":
        values = _known(cls, data)
        for kind in ("latency", "inference_memory", "finetune_memory"):
            values[kind] = [Figure.from_dict(f) for f in values.get(kind) or []]
        for name in ("finetuned_accuracy", "baseline_accuracy"):
            values[name] = Figure.from_dict(values.get(name))
        values["transfer"] = TransferScore.from_dict(values.get("transfer"))
        values["input_size"] = tuple(values.get("input_size") or ())
        values["loss_curve"] = [(float(s), float(v)) for s, v in values.get("loss_curve") or []]
        return cls(**values)


def _same_device(have: str | None, want: str) -> bool:
    """``cuda`` matches ``cuda:0``; a figure without a device matches any."""
    if have is None:
        return True
    norm = {"cuda": "cuda:0"}
    return norm.get(have, have) == norm.get(want, want)


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}

"""ProbeSpec: everything a child process needs to run one probe of one model."""

from __future__ import annotations

import dataclasses
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

DEFAULT_BUDGET_S = 60.0


@dataclass
class ProbeSpec:
    """One probe to run: which kind, on which model and device, with what limits.

    The spec travels to the child as JSON, so every field is plain data. Kind-specific knobs
    go in ``params``: the dict form of the kind's typed settings
    (:mod:`selector.core.probes.settings`), checked before the probe starts.
    """

    kind: str
    """Probe kind from the registry: ``latency``, ``finetune``, ..."""
    model: str
    """Catalog id (or spec string) of the model."""
    entry: dict[str, Any] | None = None
    """``CatalogEntry.to_dict()``, resolved by the parent so the child need not search."""
    device: str = "cpu"
    """``cpu``, ``cuda`` or ``cuda:N``."""
    weights: str = "auto"
    """``auto`` (pretrained when available locally, else random), ``pretrained``, ``random``."""
    batch_sizes: list[int] = field(default_factory=lambda: [1, 8])
    """Latency: the sweep. Fine-tune: the first is the training batch."""
    dtypes: list[str] = field(default_factory=lambda: ["fp32"])
    """``fp32``, ``bf16``, ``fp16`` (CUDA), ``int8`` (dynamic Linear quantization, CPU)."""
    threads: int | None = None
    """Intra-op threads for torch (and OpenMP/MKL); None leaves torch's default."""
    budget_s: float = DEFAULT_BUDGET_S
    """Soft time budget for measuring, seconds, counted from the moment the model is loaded:
    when it is spent the probe wraps up and reports what it measured."""
    timeout_s: float | None = None
    """Hard timeout, seconds: the child is killed and the probe classified timed out.
    None: ``default_timeout(budget_s)``."""
    data: dict[str, Any] | None = None
    """Fine-tune (and transfer): ``DatasetSpec.to_dict()``."""
    params: dict[str, Any] = field(default_factory=dict)
    """Kind-specific settings (iterations, learning rate, ...): ``settings()`` as a dict."""
    force: bool = False
    """Run even when the pre-flight check says it will not fit in free memory."""
    estimate: dict[str, Any] | None = None
    """A memory/latency prediction made by the caller (``{"total_mib": ...}``); when None,
    the runner asks the estimator."""
    session_id: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def hard_timeout_s(self) -> float:
        """``timeout_s``, else ``default_timeout(budget_s)`` plus ``RUNTIME_ALLOWANCE_S`` for each
        runtime the latency probe prepares besides eager (export, convert, compile, quantise)."""
        if self.timeout_s is not None:
            return self.timeout_s
        extra = 0
        if self.kind == "latency" and isinstance(self.params, dict):
            extra = len([r for r in self.params.get("runtime") or [] if r != "eager"])
            extra += 2 if self.params.get("quantize") else 0
        return default_timeout(self.budget_s) + RUNTIME_ALLOWANCE_S * extra

    @property
    def cuda(self) -> bool:
        return self.device.startswith("cuda")

    def settings(self) -> Any:
        """The kind's typed settings (``LatencySettings``, ...) with defaults filled in; the
        plain ``params`` for a kind without a settings class. ``SettingsError`` for an unknown
        key or a wrong type."""
        from selector.core.probes.settings import SETTINGS

        cls = SETTINGS.get(self.kind)
        return cls.from_dict(self.params) if cls is not None else dict(self.params)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ProbeSpec":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


RUNTIME_ALLOWANCE_S = 180.0
"""Hard-timeout allowance per prepared runtime, seconds (torch.compile of a mid-size model
took 1-2 min on a busy 2-core VM)."""


def default_timeout(budget_s: float) -> float:
    """Hard timeout for a budget: twice the budget plus two minutes for imports and loading."""
    return 2 * budget_s + 120.0


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h)?\s*$", re.IGNORECASE)


def parse_duration(text: str | float | int) -> float:
    """``"90"``, ``"90s"``, ``"1.5m"``, ``"2min"``, ``"1h"``, ``"500ms"`` -> seconds."""
    if isinstance(text, (int, float)):
        return float(text)
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (examples: 60s, 2m, 90)")
    value, unit = float(match.group(1)), (match.group(2) or "s").lower()
    return value * {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}[unit]

"""Typed settings of each probe kind: what ``ProbeSpec.params`` may hold, with defaults.

A spec carries its kind's settings as a plain dict (it travels to the child as JSON); the
parent checks it before any process starts (``preflight.check_spec``) and the child builds
the typed value from the spec (``LatencySettings.from_spec(spec)``). A key the kind does not
know is an error that names it and the accepted ones, so a typo (``lr_head``) is never
silently ignored. ``None`` for a key means its default. ``to_dict`` round-trips through JSON.

Units: seconds (``*_s``), milliseconds (``*_ms``), counts of iterations, steps or samples.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from selector.core.errors import SelectorError
from selector.core.runtimes import QUANTIZE, RUNTIMES

S = TypeVar("S", bound="ProbeSettings")


class SettingsError(SelectorError):
    """A probe setting that is unknown or of the wrong type (a one-line message)."""


@dataclass(frozen=True)
class ProbeSettings:
    """Base of the kinds' settings: parsing, checking and the dict form."""

    kind: ClassVar[str] = ""
    choices: ClassVar[dict[str, tuple[str, ...]]] = {}

    @classmethod
    def from_dict(cls: type[S], data: dict[str, Any] | None) -> S:
        """The settings in ``data`` (missing or None: the default). ``SettingsError`` for an
        unknown key, naming it and the accepted ones, or for a value of the wrong type."""
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise SettingsError(f"{cls.kind} settings must be a mapping, not {type(data).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(k for k in data if k not in fields)
        if unknown:
            which = ", ".join(repr(k) for k in unknown)
            raise SettingsError(f"unknown {cls.kind} setting{'s' if len(unknown) > 1 else ''} {which} "
                                f"(accepted: {', '.join(fields)})")
        values = {}
        for name, value in data.items():
            if value is None:
                continue
            values[name] = _checked(cls, name, value, fields[name])
        return cls(**values)

    @classmethod
    def from_spec(cls: type[S], spec: Any) -> S:
        """The settings of a ``ProbeSpec`` (its ``params``)."""
        return cls.from_dict(getattr(spec, "params", None))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _checked(cls: type[ProbeSettings], name: str, value: Any, f: dataclasses.Field) -> Any:
    """``value`` as the field's type, or ``SettingsError`` naming the setting."""
    default = f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
    kind = _TYPES.get((cls.__name__, name)) or type(default)
    where = f"{cls.kind} setting {name!r}"
    if kind is bool:
        if not isinstance(value, bool):
            raise SettingsError(f"{where} must be true or false, not {value!r}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SettingsError(f"{where} must be a whole number of 0 or more, not {value!r}")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise SettingsError(f"{where} must be a number of 0 or more, not {value!r}")
        return float(value)
    if kind is str:
        allowed = cls.choices.get(name)
        if not isinstance(value, str) or (allowed and value not in allowed):
            raise SettingsError(f"{where} must be one of {', '.join(allowed or ())}, not {value!r}")
        return value
    if kind is list and cls.choices.get(name):
        allowed = cls.choices[name]
        if not isinstance(value, (list, tuple)) or not value or any(v not in allowed for v in value):
            raise SettingsError(f"{where} must be a list of {', '.join(allowed)}, not {value!r}")
        return list(dict.fromkeys(value))
    if kind is list:
        if not isinstance(value, (list, tuple)) or not all(
                isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
            raise SettingsError(f"{where} must be a list of whole numbers above 0, not {value!r}")
        return list(value)
    return value


@dataclass(frozen=True)
class LatencySettings(ProbeSettings):
    """The latency sweep: warm-up, then timed forward passes until both minimums are met."""

    kind: ClassVar[str] = "latency"
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"runtime": RUNTIMES, "quantize": QUANTIZE}
    warmup_iters: int = 10
    warmup_s: float = 1.0
    """Warm up at least this long (and ``warmup_iters`` passes), at most ``max_warmup_s``."""
    max_warmup_s: float = 10.0
    min_iters: int = 30
    """Timed passes at least (the budget may cut a row short; it then says so)."""
    min_time_s: float = 3.0
    """Timed seconds at least per row."""
    max_iters: int | None = None
    channels_last: bool = False
    """Images: run in channels-last memory format."""
    seq_len: int | None = None
    """Text: tokens per sample (default: the model's, else 128)."""
    rss_poll_ms: float = 10.0
    runtime: list[str] = field(default_factory=lambda: ["eager"])
    """Runtimes to measure (:data:`selector.core.runtimes.RUNTIMES`), each checked against eager."""
    quantize: str | None = None
    """``int8``: also int8 static rows (calibrated on the data's sample) under ONNX Runtime/OpenVINO."""
    prompt_len: int = 128
    """Decoders: prompt tokens of the prefill (time to first token)."""
    gen_len: int = 32
    """Decoders: tokens generated, greedy with the KV cache (decode tokens/s)."""


@dataclass(frozen=True)
class FinetuneSettings(ProbeSettings):
    """The quick fine-tune: AdamW on a new head (and the backbone), AMP on CUDA."""

    kind: ClassVar[str] = "finetune"
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"train_mode": ("full", "head")}
    lr: float = 1e-4
    """Learning rate of the backbone."""
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    train_mode: str = "full"
    """``full`` (every parameter trains) or ``head`` (only the new head)."""
    max_steps: int | None = None
    """Stop after this many optimizer steps (None: the budget decides)."""
    max_eval: int = 512
    """Held-out samples evaluated at most."""
    max_length: int | None = None
    """Text: tokens per sample (default: the model's, else 128)."""
    amp: bool = True
    """CUDA: bf16 autocast where supported, else fp16."""
    seed: int = 0
    rss_poll_ms: float = 10.0
    lora_rank: int = 8
    """Decoders: rank of the LoRA adapters (peft); the base model stays frozen."""
    lora_alpha: int = 16
    target_modules: str = ""
    """Decoders: comma-separated projection names (``q_proj,v_proj``); empty: every projection."""


@dataclass(frozen=True)
class PerplexitySettings(ProbeSettings):
    """Decoders: held-out perplexity (bits per token and per byte) of the frozen model."""

    kind: ClassVar[str] = "perplexity"
    max_tokens: int = 16384
    """Held-out tokens scored at most (the sample: the same documents for every model)."""
    max_length: int = 512
    """Tokens per scored block."""
    batch_size: int = 4
    seed: int = 0
    cache: bool = True
    """Keep the score for a rerun of the same model, weights and text."""
    rss_poll_ms: float = 10.0


@dataclass(frozen=True)
class TransferSettings(ProbeSettings):
    """Transferability: frozen features of the user's data, then LogME, k-NN, a linear probe."""

    kind: ClassVar[str] = "transfer"
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"text_pooling": ("mean", "cls", "pooler")}
    max_items: int | None = None
    """Samples to embed at most (also the data spec's ``max_items``); None: the kind's cap."""
    seed: int = 0
    batch_size: int | None = None
    text_pooling: str = "mean"
    max_length: int | None = None
    amp: bool = True
    n_boot: int = 30
    """Bootstrap resamples for the ranking's stability."""
    shots: list[int] = field(default_factory=lambda: [5, 10, 25, 50])
    """Labelled samples per class of the few-shot curve."""
    repeats: int = 5
    curve: bool = True
    cache: bool = True
    """Keep the embeddings (the feature cache) for a later probe of the same data."""
    score_threads: int = 1
    rss_poll_ms: float = 10.0


_TYPES: dict[tuple[str, str], type] = {
    ("LatencySettings", "max_iters"): int, ("LatencySettings", "seq_len"): int,
    ("LatencySettings", "quantize"): str,
    ("FinetuneSettings", "max_steps"): int, ("FinetuneSettings", "max_length"): int,
    ("TransferSettings", "max_items"): int, ("TransferSettings", "batch_size"): int,
    ("TransferSettings", "max_length"): int,
}
"""Fields whose default is None: the type a value must have."""

SETTINGS: dict[str, type[ProbeSettings]] = {
    s.kind: s for s in (LatencySettings, FinetuneSettings, TransferSettings, PerplexitySettings)
}
"""Probe kind -> its settings class. Kinds without one (the test-only ``fault``) take a dict."""


def check_params(kind: str, params: dict[str, Any] | None) -> None:
    """``SettingsError`` when ``params`` are not valid settings of ``kind`` (no-op for kinds
    without a settings class)."""
    cls = SETTINGS.get(kind)
    if cls is not None:
        cls.from_dict(params)

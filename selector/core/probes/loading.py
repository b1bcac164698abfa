"""Models and dummy inputs for the probes (used in probe children; imports torch lazily).

The model comes from the catalog's ``build_model`` (``selector.core.models``): pretrained
weights when they are available locally, else architecture only, and it says which.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from selector.core.catalog.entry import CatalogEntry
from selector.core.probes.spec import ProbeSpec


@dataclass
class LoadedModel:
    model: Any
    entry: CatalogEntry
    weights: str
    """``pretrained``, ``checkpoint`` (a local model's own) or ``random``."""
    weights_note: str
    preprocess: dict[str, Any]
    """Vision: timm's data config; text: ``max_length`` and where the tokenizer came from
    (``BuiltModel.preprocess``)."""
    tokenizer: Any
    """Text: the model's own tokenizer when local, or None."""
    load_s: float
    """Building the model (and its weights) plus moving it to the device."""


def entry_for(spec: ProbeSpec) -> CatalogEntry:
    """The spec's catalog entry: the one the parent resolved, or resolved now."""
    if spec.entry:
        return CatalogEntry.from_dict(spec.entry)
    from selector.core.models import resolve_model

    return resolve_model(spec.model)


def load_model(spec: ProbeSpec, device: str, num_classes: int | None = None) -> LoadedModel:
    from selector.core.models import build_model

    entry = entry_for(spec)
    start = time.perf_counter()
    built = build_model(entry, weights=spec.weights, num_classes=num_classes, device=device)
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize(device)
    return LoadedModel(built.model, built.entry or entry, built.weights, built.weights_note or "",
                       dict(built.preprocess or {}), built.tokenizer, time.perf_counter() - start)


_TRANSFORM_KEYS = ("input_size", "interpolation", "mean", "std", "crop_pct", "crop_mode")


def vision_transform(preprocess: dict[str, Any], model: Any) -> tuple[Any, dict[str, Any]]:
    """timm's eval transform from the model's data config: ``(transform, config used)``."""
    import timm.data

    config = {k: preprocess[k] for k in _TRANSFORM_KEYS if preprocess.get(k) is not None}
    if "input_size" not in config:
        config = dict(timm.data.resolve_data_config({}, model=model))
    config = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}
    return timm.data.create_transform(**config, is_training=False), config


def vision_input_size(model: Any, entry: CatalogEntry) -> list[int]:
    """``[3, H, W]``: the entry's, else the model's pretrained config, else 224 px."""
    if entry.input_size and len(entry.input_size) == 3:
        return list(entry.input_size)
    cfg = getattr(model, "pretrained_cfg", None) or getattr(model, "default_cfg", None) or {}
    size = cfg.get("input_size")
    return list(size) if size else [3, 224, 224]


def text_seq_len(entry: CatalogEntry, requested: int | None,
                 preprocess: dict[str, Any] | None = None) -> int:
    if requested:
        return int(requested)
    if preprocess and preprocess.get("max_length"):
        return int(preprocess["max_length"])
    if entry.input_size and len(entry.input_size) == 1:
        return int(entry.input_size[0])
    return 128


def vocab_size(model: Any) -> int:
    config = getattr(model, "config", None)
    return int(getattr(config, "vocab_size", 30522) or 30522)


def dummy_inputs(model: Any, entry: CatalogEntry, batch: int, device: str, *,
                 dtype: Any = None, seq_len: int | None = None, channels_last: bool = False,
                 preprocess: dict[str, Any] | None = None, seed: int = 0) -> tuple[Any, list[int]]:
    """``(inputs, per-sample input size)``: random images or token ids on ``device``."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    if entry.is_text:
        length = text_seq_len(entry, seq_len, preprocess)
        high = vocab_size(model)
        ids = torch.randint(min(1000, high - 1), high, (batch, length), generator=gen)
        inputs = {"input_ids": ids.to(device),
                  "attention_mask": torch.ones(batch, length, dtype=torch.long, device=device)}
        return inputs, [length]
    size = list((preprocess or {}).get("input_size") or vision_input_size(model, entry))
    x = torch.randn(batch, *size, generator=gen)
    if dtype is not None:
        x = x.to(dtype)
    x = x.to(device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, size


def forward(model: Any, inputs: Any) -> Any:
    """One forward pass; text models take keyword inputs, and we return their logits."""
    if isinstance(inputs, dict):
        out = model(**inputs)
        return getattr(out, "logits", out)
    return model(inputs)

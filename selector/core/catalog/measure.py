"""Parameter counts and MACs of a model, measured on the ``meta`` device.

A meta-device build allocates no memory and downloads nothing, so even a 1B-parameter
model is measured in a fraction of a second. MACs come from
``torch.utils.flop_counter.FlopCounterMode``, which counts 2 FLOPs per multiply-accumulate
for matmuls, convolutions and attention; the figures here are halved to MACs. Elementwise
work (activations, norms, softmax) is not counted, as in fvcore and timm's published
``infer_gmacs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass
class Measurement:
    """What one meta-device build found out; ``error`` says why a figure is missing."""

    params: int | None = None
    macs: float | None = None
    """Multiply-accumulates for one sample (MACs, not FLOPs)."""
    activation: dict[str, Any] | None = None
    extra: dict[str, Any] | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def count_params(model: Any) -> int:
    """Distinct parameters (tied weights once), as ``sum(p.numel())`` over ``parameters()``."""
    return int(sum(p.numel() for p in model.parameters()))


def count_macs(model: Any, run: Callable[[Any], Any]) -> float:
    """MACs of ``run(model)`` (one forward pass on meta inputs), no gradients."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    # Parameters that require grad make FlopCounterMode's module tracker hook views of them
    # (a class token expanded under no_grad has no grad_fn, and the hook asserts): switch off.
    trainable = [p for p in model.parameters() if p.requires_grad]
    for p in trainable:
        p.requires_grad_(False)
    counter = FlopCounterMode(display=False)
    try:
        with counter, torch.no_grad():
            run(model)
    finally:
        for p in trainable:
            p.requires_grad_(True)
    return counter.get_total_flops() / 2.0


def short_error(err: BaseException, limit: int = 300) -> str:
    """One line naming the exception type, trimmed for the snapshot."""
    text = " ".join(str(err).split())
    line = f"{type(err).__name__}: {text}" if text else type(err).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _profile_activation(model: Any, entry: Any) -> dict[str, Any] | None:
    """The estimator's activation profile, when ``selector.core.estimate.trace`` provides one."""
    try:
        from selector.core.estimate import trace
    except ImportError:
        return None
    profile = getattr(trace, "profile_entry", None)
    if profile is None:
        return None
    result = profile(model, entry)
    if result is None:
        return None
    return result.to_dict() if hasattr(result, "to_dict") else dict(result)


def measure_timm(
    name: str, *, with_activation: bool = True, entry: Any = None, **model_kwargs: Any
) -> Measurement:
    """Build timm ``name`` (``arch`` or ``arch.tag``) on meta at its default input size.

    ``model_kwargs`` go to ``timm.create_model`` (``num_classes=`` for a local checkpoint).
    """
    import torch
    import timm

    out = Measurement()
    try:
        with torch.device("meta"):
            model = timm.create_model(name, pretrained=False, **model_kwargs)
    except Exception as err:  # noqa: BLE001 - any failure is recorded, never raised
        out.error = "build: " + short_error(err)
        return out
    out.params = count_params(model)
    model.eval()
    # the entry's size (timm's registered config) first: a few models carry a stale size in
    # their own pretrained_cfg (vitamin_xlarge_336 says 256 px)
    input_size = tuple(getattr(entry, "input_size", None) or model.pretrained_cfg.get("input_size") or (3, 224, 224))
    x = torch.empty((1, *input_size), device="meta")
    try:
        out.macs = count_macs(model, lambda m: m(x))
    except Exception as err:  # noqa: BLE001
        out.error = "forward: " + short_error(err)
    if with_activation and entry is not None and out.error is None:
        try:
            out.activation = _profile_activation(model, entry)
        except Exception as err:  # noqa: BLE001
            out.error = "activation profile: " + short_error(err)
    return out


def text_inputs(seq_len: int, device: str = "meta", batch: int = 1) -> dict[str, Any]:
    """``input_ids`` of one batch of ``seq_len`` tokens.

    No ``attention_mask``: several models check a mask's values (``.item()``), which meta
    tensors cannot answer; without padding the work is the same. (DeBERTa needs one; its
    measurement retries with a mask of ones.)
    """
    import torch

    return {"input_ids": torch.zeros((batch, seq_len), dtype=torch.long, device=device)}


def measure_text(
    config: Any, *, seq_len: int = 128, num_labels: int = 2, with_activation: bool = True,
    entry: Any = None,
) -> Measurement:
    """Build ``AutoModelForSequenceClassification`` from ``config`` on meta; MACs at ``seq_len``.

    ``extra`` holds the backbone's own parameter count (``AutoModel``, pooler included where
    the architecture has one), which is what authors usually publish, and the size of the
    word-embedding matrix (some authors leave it out).
    """
    import copy

    import torch
    from transformers import AutoModel, AutoModelForSequenceClassification

    out = Measurement()
    config = copy.deepcopy(config)
    config.num_labels = num_labels
    try:
        with torch.device("meta"):
            model = AutoModelForSequenceClassification.from_config(config)
            backbone = AutoModel.from_config(config)
    except Exception as err:  # noqa: BLE001
        out.error = "build: " + short_error(err)
        return out
    out.params = count_params(model)
    out.extra = {
        "backbone_params": count_params(backbone),
        "word_embedding_params": int(backbone.get_input_embeddings().weight.numel()),
    }
    del backbone
    model.eval()
    inputs = text_inputs(seq_len)
    try:
        out.macs = count_macs(model, lambda m: m(**inputs))
    except Exception as err:  # noqa: BLE001
        try:  # DeBERTa builds its relative positions from the mask: give it one
            inputs["attention_mask"] = torch.ones_like(inputs["input_ids"])
            out.macs = count_macs(model, lambda m: m(**inputs))
        except Exception:  # noqa: BLE001
            out.error = "forward: " + short_error(err)
    if with_activation and entry is not None and out.error is None:
        try:
            out.activation = _profile_activation(model, entry)
        except Exception as err:  # noqa: BLE001
            out.error = "activation profile: " + short_error(err)
    return out
